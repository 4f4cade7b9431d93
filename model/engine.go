package model

import (
	"errors"
	"fmt"
	"math"

	"github.com/tinychat-go/tinychat/internal/blas"
	"github.com/tinychat-go/tinychat/internal/kernels"
)

// NoToken in a Step's token slice leaves that sequence out of the step: its cache does not
// grow and its logits row keeps its previous value.
const NoToken int32 = -1

// ErrSequenceFull is wrapped by the errors of Prefill and Step when a sequence would grow past
// the model's BlockSize. Generate never returns it: it slides the window instead.
var ErrSequenceFull = errors.New("model: sequence is full")

// Engine runs the model forward one token at a time (or a prompt prefill) with a KV cache. It
// reads the Model's weight slices directly (no copy), so weights updated in place by training
// are seen.
//
// An Engine decodes Batch sequences together, each with its own cache of up to BlockSize
// positions, allocated once by NewEngine. Positions are cache positions: a sequence's first
// cached token is at position 0, as the first token of every training window is, so after a
// Reset the engine computes exactly what the training graph computes for that window (same
// kernels, same order of operations up to float32 round-off in the matrix products).
//
// Decoding allocates nothing per token. The rows of a pass (a prefill, or a Step of several
// sequences) go through each weight as one stacked product (blas.DecodeSgemm: the pure-Go
// AVX2 kernels up to 16 rows, which beat a native library's general product there, and
// blas.Sgemm past that); each row attends to its sequence's cache with kernels.AttendRow
// (every head, AVX2 assembly where available); the LM head runs each sequence's last row
// against the embedding in place (kernels.DotRows).
//
// An Engine is not safe for concurrent use, and weights must not be written while it runs.
type Engine struct {
	m     *Model
	cfg   Config
	batch int

	wte, wpe, lnfW, lnfB, head, scoreW, scoreB *Param
	layers                                     []engineLayer

	// KV cache: per layer, [batch, BlockSize, Width] keys and values.
	kc, vc [][]float32
	lens   []int     // cached positions per sequence
	toks   []int32   // [batch, BlockSize] the tokens in the cache
	hidden []float32 // [batch, BlockSize, Width] final LayerNorm output per cached position
	logits []float32 // [batch, vocab] logits after each sequence's last token

	// Scratch for up to maxRows rows at once.
	rowSeq, rowPos []int
	rowTok         []int32
	x, h, qkv, att []float32
	fc, act, proj  []float32
	scores         []float32 // [BlockSize]
	headRows       []int     // [maxRows] the rows whose logits a pass computes

	// Sampler scratch (see sampler.go).
	samp  tokenSampler
	win   []int32 // [BlockSize] the window re-prefilled when a sequence is full
	feed  []int32 // [batch] tokens of the next Step
	slots []int   // [batch] sample index decoded in each sequence, or -1
}

type engineLayer struct {
	ln1W, ln1B, attnW, attnProj, ln2W, ln2B, fcW, fcProj *Param
	attnB, attnProjB, fcB, fcProjB                       *Param // nil without Config.LinearBias
}

// NewEngine makes an engine for m that decodes batch sequences together (several sequences
// per prompt, or several prompts). Its KV cache holds BlockSize positions per sequence and is
// allocated here, once: 2·Layers·batch·BlockSize·Width floats, plus batch·BlockSize·Width for
// the final hidden states that HiddenAt and Score read.
func NewEngine(m *Model, batch int) (*Engine, error) {
	if m == nil {
		return nil, errors.New("model: engine: nil model")
	}
	if batch <= 0 {
		return nil, fmt.Errorf("model: engine: batch must be > 0, got %d", batch)
	}
	cfg := m.Config
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("model: engine: %w", err)
	}
	if err := checkEngineMemory(cfg, batch); err != nil {
		return nil, err
	}
	e := &Engine{m: m, cfg: cfg, batch: batch}
	var err error
	param := func(name string) *Param {
		if err != nil {
			return nil
		}
		p := m.Param(name)
		if p == nil {
			err = fmt.Errorf("model: engine: the model has no parameter %s", name)
			return nil
		}
		if want := engineParamSize(cfg, name); len(p.Data) != want {
			err = fmt.Errorf("model: engine: parameter %s has %d values, want %d", name, len(p.Data), want)
		}
		return p
	}
	e.wte, e.wpe = param("wte"), param("wpe")
	for l := 0; l < cfg.Layers; l++ {
		p := fmt.Sprintf("h.%d.", l)
		e.layers = append(e.layers, engineLayer{
			ln1W: param(p + "ln_1.weight"), ln1B: param(p + "ln_1.bias"),
			attnW: param(p + "attn.c_attn.weight"), attnProj: param(p + "attn.c_proj.weight"),
			ln2W: param(p + "ln_2.weight"), ln2B: param(p + "ln_2.bias"),
			fcW: param(p + "mlp.c_fc.weight"), fcProj: param(p + "mlp.c_proj.weight"),
		})
		if cfg.LinearBias {
			L := &e.layers[l]
			L.attnB, L.attnProjB = param(p+"attn.c_attn.bias"), param(p+"attn.c_proj.bias")
			L.fcB, L.fcProjB = param(p+"mlp.c_fc.bias"), param(p+"mlp.c_proj.bias")
		}
	}
	e.lnfW, e.lnfB = param("ln_f.weight"), param("ln_f.bias")
	e.head = e.wte
	if cfg.UntiedHead {
		e.head = param("lm_head.weight")
	}
	if cfg.ScalarHead {
		e.scoreW, e.scoreB = param("score.weight"), param("score.bias")
	}
	if err != nil {
		return nil, err
	}

	T, C, V := cfg.BlockSize, cfg.Width, cfg.VocabSize
	for range cfg.Layers {
		e.kc = append(e.kc, make([]float32, batch*T*C))
		e.vc = append(e.vc, make([]float32, batch*T*C))
	}
	e.lens = make([]int, batch)
	e.toks = make([]int32, batch*T)
	e.hidden = make([]float32, batch*T*C)
	e.logits = make([]float32, batch*V)
	rows := max(batch, T)
	e.rowSeq, e.rowPos, e.rowTok = make([]int, rows), make([]int, rows), make([]int32, rows)
	e.x, e.h, e.att, e.proj = make([]float32, rows*C), make([]float32, rows*C), make([]float32, rows*C), make([]float32, rows*C)
	e.qkv = make([]float32, rows*3*C)
	e.fc, e.act = make([]float32, rows*4*C), make([]float32, rows*4*C)
	e.scores = make([]float32, T)
	e.headRows = make([]int, rows)
	e.samp = newTokenSampler(V)
	e.win = make([]int32, T)
	e.feed = make([]int32, batch)
	e.slots = make([]int, batch)
	return e, nil
}

// engineParamSize is the number of values of the named parameter of a model with config c.
func engineParamSize(c Config, name string) int {
	for _, ps := range c.ParamShapes() {
		if ps.Name == name {
			return size(ps.Shape)
		}
	}
	return -1
}

// Model returns the model the engine reads.
func (e *Engine) Model() *Model { return e.m }

// Batch is the number of sequences the engine decodes together.
func (e *Engine) Batch() int { return e.batch }

// MaxRows is the most tokens one Feed takes in all: max(Batch, BlockSize), the rows of the
// engine's scratch.
func (e *Engine) MaxRows() int { return len(e.rowSeq) }

// Len is the number of positions cached for sequence s (0 for an empty or invalid sequence).
func (e *Engine) Len(s int) int {
	if s < 0 || s >= e.batch {
		return 0
	}
	return e.lens[s]
}

// Reset empties every sequence's cache.
func (e *Engine) Reset() {
	clear(e.lens)
}

// ResetSequence empties sequence s's cache, so that its next token is at position 0.
func (e *Engine) ResetSequence(s int) error {
	if err := e.checkSeq(s); err != nil {
		return err
	}
	e.lens[s] = 0
	return nil
}

func (e *Engine) checkSeq(s int) error {
	if s < 0 || s >= e.batch {
		return fmt.Errorf("model: engine: sequence %d out of range [0, %d)", s, e.batch)
	}
	return nil
}

// Prefill feeds tokens to sequence s, continuing from its cached positions (none after Reset
// or ResetSequence), and returns the logits after the last one: a view of length VocabSize,
// valid until the next call that feeds sequence s. The tokens are processed together, one
// stacked matrix product per layer.
//
// A sequence holds at most BlockSize tokens: feeding more is an error wrapping
// ErrSequenceFull (Generate crops prompts and slides its window itself).
func (e *Engine) Prefill(s int, tokens []int32) ([]float32, error) {
	if err := e.checkSeq(s); err != nil {
		return nil, err
	}
	if len(tokens) == 0 {
		return nil, errors.New("model: engine: prefill of no tokens")
	}
	if err := e.checkTokens(tokens); err != nil {
		return nil, fmt.Errorf("model: engine: prefill: %w", err)
	}
	T := e.cfg.BlockSize
	if n := e.lens[s] + len(tokens); n > T {
		return nil, fmt.Errorf("model: engine: prefill of %d tokens after %d cached would exceed the block size %d: %w",
			len(tokens), e.lens[s], T, ErrSequenceFull)
	}
	for i, t := range tokens {
		e.rowSeq[i], e.rowPos[i], e.rowTok[i] = s, e.lens[s]+i, t
	}
	e.headRows[0] = len(tokens) - 1
	e.forward(len(tokens), e.headRows[:1])
	V := e.cfg.VocabSize
	return e.logits[s*V : (s+1)*V], nil
}

// Step feeds one token to each sequence (len(tokens) == Batch) and returns the logits
// [Batch, VocabSize] after each sequence's last token, a view valid until the next call.
// A sequence given NoToken (any negative value) is left out: its cache is untouched and its
// logits row keeps its previous value (the logits of its last Prefill or Step), so sequences
// that have finished, or that are refilled by Prefill, cost nothing. The active sequences'
// rows are stacked into one matrix product per layer.
func (e *Engine) Step(tokens []int32) ([]float32, error) {
	if len(tokens) != e.batch {
		return nil, fmt.Errorf("model: engine: step got %d tokens, want one per sequence (%d)", len(tokens), e.batch)
	}
	V, T := e.cfg.VocabSize, e.cfg.BlockSize
	n := 0
	for s, t := range tokens {
		if t < 0 {
			continue
		}
		if int(t) >= V {
			return nil, fmt.Errorf("model: engine: step: token %d of sequence %d is outside the vocabulary [0, %d)", t, s, V)
		}
		if e.lens[s] >= T {
			return nil, fmt.Errorf("model: engine: step: sequence %d already holds %d tokens: %w", s, T, ErrSequenceFull)
		}
		e.rowSeq[n], e.rowPos[n], e.rowTok[n] = s, e.lens[s], t
		e.headRows[n] = n
		n++
	}
	if n > 0 {
		e.forward(n, e.headRows[:n])
	}
	return e.logits, nil
}

// Feed feeds tokens[s] to each sequence s (len(tokens) == Batch; an empty or nil slice leaves
// sequence s out) in one forward pass, continuing from each sequence's cached positions, and
// returns the logits [Batch, VocabSize] after each fed sequence's last token, a view valid
// until the next call; the rows of the sequences left out keep their previous values, as in
// Step. It is Prefill and Step in one: the prompts (or prompt chunks) of some sequences and the
// next token of others go through each layer as one stacked matrix product, and the LM head
// runs on the last row of each fed sequence only, in one product. Feeding one sequence computes
// exactly what Prefill does (and one token what Step does for it alone).
//
// The tokens fed in all are at most MaxRows, and each sequence holds at most BlockSize:
// feeding more is an error wrapping ErrSequenceFull. On any error nothing is fed.
func (e *Engine) Feed(tokens [][]int32) ([]float32, error) {
	if len(tokens) != e.batch {
		return nil, fmt.Errorf("model: engine: feed got %d token lists, want one per sequence (%d)", len(tokens), e.batch)
	}
	T := e.cfg.BlockSize
	total := 0
	for s, ts := range tokens {
		if len(ts) == 0 {
			continue
		}
		if err := e.checkTokens(ts); err != nil {
			return nil, fmt.Errorf("model: engine: feed: sequence %d: %w", s, err)
		}
		if n := e.lens[s] + len(ts); n > T {
			return nil, fmt.Errorf("model: engine: feed of %d tokens to sequence %d after %d cached would exceed the block size %d: %w",
				len(ts), s, e.lens[s], T, ErrSequenceFull)
		}
		total += len(ts)
	}
	if total > e.MaxRows() {
		return nil, fmt.Errorf("model: engine: feed of %d tokens in all exceeds the engine's %d rows", total, e.MaxRows())
	}
	n, heads := 0, 0
	for s, ts := range tokens {
		if len(ts) == 0 {
			continue
		}
		for i, t := range ts {
			e.rowSeq[n], e.rowPos[n], e.rowTok[n] = s, e.lens[s]+i, t
			n++
		}
		e.headRows[heads] = n - 1
		heads++
	}
	if n > 0 {
		e.forward(n, e.headRows[:heads])
	}
	return e.logits, nil
}

// checkTokens reports the first token outside the vocabulary, naming its position.
func (e *Engine) checkTokens(tokens []int32) error {
	V := e.cfg.VocabSize
	for i, t := range tokens {
		if t < 0 || int(t) >= V {
			return fmt.Errorf("token %d at position %d is outside the vocabulary [0, %d)", t, i, V)
		}
	}
	return nil
}

// HiddenAt returns the final LayerNorm output (the input of the LM head) at cached position
// pos of sequence s: a view of length Width, valid until the sequence is fed again or reset.
func (e *Engine) HiddenAt(s, pos int) ([]float32, error) {
	if err := e.checkSeq(s); err != nil {
		return nil, err
	}
	if pos < 0 || pos >= e.lens[s] {
		return nil, fmt.Errorf("model: engine: position %d of sequence %d is not cached (%d positions)", pos, s, e.lens[s])
	}
	C, T := e.cfg.Width, e.cfg.BlockSize
	off := (s*T + pos) * C
	return e.hidden[off : off+C], nil
}

// Score returns the scalar head (score.weight · hidden + score.bias) at cached position pos of
// sequence s: the reward or value a model with Config.ScalarHead gives that prefix, the same
// number as the training graph's Values objective.
func (e *Engine) Score(s, pos int) (float32, error) {
	if !e.cfg.ScalarHead {
		return 0, errors.New("model: engine: the model has no scalar head (Config.ScalarHead)")
	}
	h, err := e.HiddenAt(s, pos)
	if err != nil {
		return 0, err
	}
	w := e.scoreW.Data[:len(h)]
	v := e.scoreB.Data[0]
	for j, x := range h {
		v += x * w[j]
	}
	return v, nil
}

// forward runs rows [0, n) of rowSeq/rowPos/rowTok through the model, appending their keys and
// values to the caches, storing their final hidden states, and writing the logits after each
// of the rows heads (ascending, at most one per sequence, at most Batch of them) into its
// sequence's logits row.
func (e *Engine) forward(n int, heads []int) {
	C, T, V := e.cfg.Width, e.cfg.BlockSize, e.cfg.VocabSize
	H, d := e.cfg.Heads, e.cfg.HeadDim()
	scale := float32(1 / math.Sqrt(float64(d)))
	wte, wpe := e.wte.Data, e.wpe.Data
	x := e.x[:n*C]

	// Token plus position embedding (kernels.EmbeddingForward's arithmetic).
	for r := range n {
		tok := wte[int(e.rowTok[r])*C:][:C]
		pos := wpe[e.rowPos[r]*C:][:C]
		xr := x[r*C:][:C]
		for j := range xr {
			xr[j] = tok[j] + pos[j]
		}
		e.toks[e.rowSeq[r]*T+e.rowPos[r]] = e.rowTok[r]
	}

	h, qkv, att, proj := e.h[:n*C], e.qkv[:n*3*C], e.att[:n*C], e.proj[:n*C]
	fc, act := e.fc[:n*4*C], e.act[:n*4*C]
	for l, L := range e.layers {
		kernels.LayerNormRows(h, nil, nil, x, L.ln1W.Data, L.ln1B.Data, C, 0, n)
		blas.DecodeSgemm(n, 3*C, C, h, L.attnW.Data, qkv)
		engBias(qkv, L.attnB, n)
		kc, vc := e.kc[l], e.vc[l]
		for r := range n {
			off := (e.rowSeq[r]*T + e.rowPos[r]) * C
			copy(kc[off:off+C], qkv[r*3*C+C:][:C])
			copy(vc[off:off+C], qkv[r*3*C+2*C:][:C])
		}
		for r := range n {
			// Every head's scale·K·q over the row's cached positions, the causal softmax of
			// kernels.AttentionForward, then att = Vᵀ·p.
			base := e.rowSeq[r] * T * C
			kernels.AttendRow(att[r*C:][:C], qkv[r*3*C:][:C], kc[base:], vc[base:], e.scores, C, e.rowPos[r]+1, H, d, scale)
		}
		blas.DecodeSgemm(n, C, C, att, L.attnProj.Data, proj)
		engBias(proj, L.attnProjB, n)
		engAdd(x, proj)
		kernels.LayerNormRows(h, nil, nil, x, L.ln2W.Data, L.ln2B.Data, C, 0, n)
		blas.DecodeSgemm(n, 4*C, C, h, L.fcW.Data, fc)
		engBias(fc, L.fcB, n)
		kernels.GELURange(act, nil, fc, 0, len(fc))
		blas.DecodeSgemm(n, C, 4*C, act, L.fcProj.Data, proj)
		engBias(proj, L.fcProjB, n)
		engAdd(x, proj)
	}

	kernels.LayerNormRows(h, nil, nil, x, e.lnfW.Data, e.lnfB.Data, C, 0, n)
	for r := range n {
		s := e.rowSeq[r]
		off := (s*T + e.rowPos[r]) * C
		copy(e.hidden[off:off+C], h[r*C:][:C])
		e.lens[s] = max(e.lens[s], e.rowPos[r]+1)
	}
	// Each head row against the embedding read in place (a product of several rows would
	// repack the [vocab, width] weight on every call).
	for _, r := range heads {
		s := e.rowSeq[r]
		kernels.DotRows(e.logits[s*V:][:V], h[r*C:][:C], e.head.Data, C, V, C)
	}
}

func engAdd(x, y []float32) {
	y = y[:len(x)]
	for i := range x {
		x[i] += y[i]
	}
}

// copySequence makes sequence dst a copy of sequence src: cache, tokens, hidden states and
// logits (several samples of one prompt share its prefill).
func (e *Engine) copySequence(dst, src int) {
	if dst == src {
		return
	}
	T, C, V := e.cfg.BlockSize, e.cfg.Width, e.cfg.VocabSize
	n := e.lens[src]
	for l := range e.kc {
		copy(e.kc[l][dst*T*C:][:n*C], e.kc[l][src*T*C:][:n*C])
		copy(e.vc[l][dst*T*C:][:n*C], e.vc[l][src*T*C:][:n*C])
	}
	copy(e.toks[dst*T:][:n], e.toks[src*T:][:n])
	copy(e.hidden[dst*T*C:][:n*C], e.hidden[src*T*C:][:n*C])
	copy(e.logits[dst*V:][:V], e.logits[src*V:][:V])
	e.lens[dst] = n
}

// CopySequence makes sequence dst a copy of sequence src: its cache and the logits after its
// last token, so that several samples of one prompt share one prefill (as GenerateBatch's do).
// src must hold at least one token (an empty sequence has no logits to copy).
func (e *Engine) CopySequence(dst, src int) error {
	for _, s := range [...]struct {
		what string
		seq  int
	}{{"destination", dst}, {"source", src}} {
		if s.seq < 0 || s.seq >= e.batch {
			return fmt.Errorf("model: engine: copying sequence %d to %d: the %s is out of range [0, %d)", src, dst, s.what, e.batch)
		}
	}
	if e.lens[src] == 0 {
		return fmt.Errorf("model: engine: copying sequence %d to %d: the source holds no tokens", src, dst)
	}
	e.copySequence(dst, src)
	return nil
}
