package model

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/tinychat-go/tinychat/internal/kernels"
)

// SampleConfig controls Generate and GenerateBatch. The zero value decodes greedily up to
// BlockSize new tokens, one sequence per prompt.
type SampleConfig struct {
	// MaxNewTokens is the most tokens generated per sequence; 0 means BlockSize.
	MaxNewTokens int
	// Temperature divides the logits before sampling. The zero value means greedy decoding
	// (argmaxLogits; TopK, TopP and Seed are then irrelevant): ordinary sampling from the model's
	// distribution needs Temperature: 1, set explicitly.
	Temperature float64
	// TopK, when > 0, samples only among the TopK most likely tokens.
	TopK int
	// TopP, when in (0, 1), samples only from the nucleus: the smallest set of most likely
	// tokens whose probability (after Temperature and TopK) adds up to at least TopP. 0 and 1
	// turn it off.
	TopP float64
	// StopTokens end a sequence once one of them is generated; the stop token is included in
	// the output and Sample.Stopped is set.
	StopTokens []int32
	// Seed seeds the sampling. Every sequence draws from its own math/rand/v2 PCG stream,
	// derived from Seed and the sequence's index in the result, so the same seed gives the
	// same samples whatever the engine's batch size (up to float32 round-off in the logits,
	// which differs slightly between one row and several rows decoded together).
	Seed uint64
	// NumSamples is the number of sequences generated per prompt; 0 means 1.
	NumSamples int
	// FirstIndex is the index the call's first sequence has in the seed streams (default 0):
	// sequence i of the result draws from the stream of FirstIndex+i, so that prompts split
	// over several calls (on several engines at once, say) draw what one call would.
	FirstIndex int
	// ReturnLogProbs fills Sample.LogProbs.
	ReturnLogProbs bool
	// OnToken, when set, is called with each generated token as it is chosen, and the index
	// of its sequence in the result. Returning false ends that sequence (the token is kept).
	OnToken func(seq int, tok int32) bool
}

// Sample is one generated sequence.
type Sample struct {
	// Tokens are the generated tokens, without the prompt.
	Tokens []int32
	// LogProbs, when SampleConfig.ReturnLogProbs is set, holds log p(Tokens[i]) under the
	// model's distribution at temperature 1 (the log-softmax of the raw logits, whatever
	// temperature, top-k or top-p the token was drawn with), as the training graph's LogProbs
	// objective computes it.
	LogProbs []float32
	// Stopped is set when the sequence ended with one of the StopTokens.
	Stopped bool
}

// Generate continues prompt and returns cfg.NumSamples samples (one by default). See
// GenerateBatch.
func (e *Engine) Generate(ctx context.Context, prompt []int32, cfg SampleConfig) ([]Sample, error) {
	if err := e.checkPrompt(prompt); err != nil {
		return nil, fmt.Errorf("model: generate: %w", err)
	}
	return e.GenerateBatch(ctx, [][]int32{prompt}, cfg)
}

// GenerateBatch continues every prompt and returns len(prompts)·NumSamples samples, prompt
// by prompt: the samples of prompts[i] are at [i·NumSamples, (i+1)·NumSamples).
//
// The engine's Batch sequences decode together; as one finishes, the next sample waiting
// takes its place (the samples of a prompt share one prefill). Generating resets every
// sequence of the engine.
//
// A prompt longer than BlockSize is cropped to its last BlockSize tokens. When a sequence's
// cache is full, its window slides: the cache is dropped and the last BlockSize−1 tokens are
// prefilled again at positions 0…BlockSize−2, as the training graph sees every window from
// position 0 (the cached keys depend on their positions, so they cannot be shifted). Tokens
// past the block are therefore predicted from the last BlockSize−1 or BlockSize tokens, and
// cost a prefill every other token.
//
// On cancellation of ctx it returns the samples so far with ctx.Err().
func (e *Engine) GenerateBatch(ctx context.Context, prompts [][]int32, cfg SampleConfig) ([]Sample, error) {
	maxNew, ns, err := e.checkSampleConfig(&cfg)
	if err != nil {
		return nil, err
	}
	for i, p := range prompts {
		if err := e.checkPrompt(p); err != nil {
			return nil, fmt.Errorf("model: generate: prompt %d: %w", i, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	total := len(prompts) * ns
	out := make([]Sample, total)
	for i := range out {
		out[i].Tokens = make([]int32, 0, maxNew)
		if cfg.ReturnLogProbs {
			out[i].LogProbs = make([]float32, 0, maxNew)
		}
	}
	T, V := e.cfg.BlockSize, e.cfg.VocabSize
	rngs := make([]rand.PCG, e.batch)
	e.Reset()
	for s := range e.slots {
		e.slots[s] = -1
	}
	next, active := 0, 0
	for {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		// Give free sequences the next samples; consecutive samples of a prompt copy the first
		// one's prefilled cache.
		lastPrompt, lastSeq := -1, -1
		for s := 0; s < e.batch && next < total; s++ {
			if e.slots[s] >= 0 {
				continue
			}
			i := next
			next++
			e.lens[s] = 0
			if pi := i / ns; pi == lastPrompt {
				e.copySequence(s, lastSeq)
			} else {
				p := prompts[pi]
				if len(p) > T {
					p = p[len(p)-T:]
				}
				if _, err := e.Prefill(s, p); err != nil {
					return out, fmt.Errorf("model: generate: prompt %d: %w", pi, err)
				}
				lastPrompt, lastSeq = pi, s
			}
			e.slots[s] = i
			rngs[s].Seed(cfg.Seed, sampleStream(uint64(cfg.FirstIndex+i)))
			active++
		}
		if active == 0 {
			return out, nil
		}
		// Choose each active sequence's next token.
		for s, i := range e.slots {
			e.feed[s] = NoToken
			if i < 0 {
				continue
			}
			row := e.logits[s*V : (s+1)*V]
			tok := e.samp.sample(row, cfg.Temperature, cfg.TopK, cfg.TopP, &rngs[s])
			smp := &out[i]
			smp.Tokens = append(smp.Tokens, tok)
			if cfg.ReturnLogProbs {
				smp.LogProbs = append(smp.LogProbs, tokenLogProb(row, tok))
			}
			done := len(smp.Tokens) >= maxNew
			if slices.Contains(cfg.StopTokens, tok) {
				smp.Stopped, done = true, true
			}
			if cfg.OnToken != nil && !cfg.OnToken(i, tok) {
				done = true
			}
			if done {
				e.slots[s] = -1
				active--
				continue
			}
			e.feed[s] = tok
		}
		// Feed them: full sequences slide their window, the others step together.
		stepping := false
		for s, tok := range e.feed {
			if tok < 0 {
				continue
			}
			if e.lens[s] < T {
				stepping = true
				continue
			}
			if err := e.slide(s, tok); err != nil {
				return out, fmt.Errorf("model: generate: %w", err)
			}
			e.feed[s] = NoToken
		}
		if stepping {
			if _, err := e.Step(e.feed); err != nil {
				return out, fmt.Errorf("model: generate: %w", err)
			}
		}
	}
}

// slide restarts full sequence s from position 0 with its last BlockSize−1 tokens, tok
// (not yet fed) being the last of them.
func (e *Engine) slide(s int, tok int32) error {
	T := e.cfg.BlockSize
	w := max(T-1, 1)
	n := e.lens[s]
	copy(e.win[:w-1], e.toks[s*T+n-(w-1):s*T+n])
	e.win[w-1] = tok
	e.lens[s] = 0
	_, err := e.Prefill(s, e.win[:w])
	return err
}

// checkPrompt reports an empty prompt or the first token outside the vocabulary.
func (e *Engine) checkPrompt(p []int32) error {
	if len(p) == 0 {
		return errors.New("empty prompt")
	}
	return e.checkTokens(p)
}

// checkSampleConfig validates cfg and returns the effective MaxNewTokens and NumSamples.
func (e *Engine) checkSampleConfig(cfg *SampleConfig) (maxNew, numSamples int, err error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if cfg.MaxNewTokens < 0 {
		bad("MaxNewTokens must be >= 0, got %d", cfg.MaxNewTokens)
	}
	if t := cfg.Temperature; math.IsNaN(t) || math.IsInf(t, 0) || t < 0 {
		bad("Temperature must be finite and >= 0 (0 is greedy), got %g", t)
	}
	if cfg.TopK < 0 {
		bad("TopK must be >= 0, got %d", cfg.TopK)
	}
	if p := cfg.TopP; math.IsNaN(p) || p < 0 || p > 1 {
		bad("TopP must be in [0, 1], got %g", p)
	}
	if cfg.NumSamples < 0 {
		bad("NumSamples must be >= 0, got %d", cfg.NumSamples)
	}
	if cfg.FirstIndex < 0 {
		bad("FirstIndex must be >= 0, got %d", cfg.FirstIndex)
	}
	for i, t := range cfg.StopTokens {
		if t < 0 || int(t) >= e.cfg.VocabSize {
			bad("stop token %d at position %d is outside the vocabulary [0, %d)", t, i, e.cfg.VocabSize)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return 0, 0, fmt.Errorf("model: generate: invalid sample config: %w", err)
	}
	maxNew, numSamples = cfg.MaxNewTokens, cfg.NumSamples
	if maxNew == 0 {
		maxNew = e.cfg.BlockSize
	}
	if numSamples == 0 {
		numSamples = 1
	}
	return maxNew, numSamples, nil
}

// sampleStream scrambles a sample index into a PCG stream selector.
func sampleStream(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// tokenSampler draws tokens from logits without allocating: its scratch has one slot per
// vocabulary entry.
type tokenSampler struct {
	idx []int32   // candidate token IDs
	w   []float32 // unnormalised probabilities, parallel to the candidates
}

func newTokenSampler(vocab int) tokenSampler {
	return tokenSampler{idx: make([]int32, vocab), w: make([]float32, vocab)}
}

// sample draws a token from softmax(logits/temp) restricted to the topK most likely tokens
// (topK > 0) and then to the top-p nucleus (0 < topP < 1); temp == 0 is argmaxLogits. Ties rank
// the lower token ID first, so topK = 1 or a tiny topP agree with argmaxLogits. The softmax is
// taken from the row maximum, so no logit overflows.
func (ts *tokenSampler) sample(logits []float32, temp float64, topK int, topP float64, rng *rand.PCG) int32 {
	if temp == 0 {
		return argmaxLogits(logits)
	}
	V := len(logits)
	useK := topK > 0 && topK < V
	useP := topP > 0 && topP < 1
	cand := ts.idx[:V]
	for i := range cand {
		cand[i] = int32(i)
	}
	if useK {
		selectTopK(cand, logits, topK)
		cand = cand[:topK]
	}
	if useP {
		slices.SortFunc(cand, func(a, b int32) int {
			if rankedAbove(logits, a, b) {
				return -1
			}
			if rankedAbove(logits, b, a) {
				return 1
			}
			return 0
		})
	}
	mx := logits[cand[0]]
	for _, c := range cand[1:] {
		if logits[c] > mx {
			mx = logits[c]
		}
	}
	w := ts.w[:len(cand)]
	var total float64
	for j, c := range cand {
		p := kernels.Exp(float32(float64(logits[c]-mx) / temp))
		w[j] = p
		total += float64(p)
	}
	if useP {
		// Keep the smallest prefix of the sorted candidates whose mass reaches topP.
		thr, cum := topP*total, 0.0
		for j, p := range w {
			cum += float64(p)
			if cum >= thr {
				w = w[:j+1]
				break
			}
		}
		total = cum
	}
	if !(total > 0) || math.IsInf(total, 0) { // NaN or broken logits: fall back to the best
		return argmaxLogits(logits)
	}
	u := uniformFloat(rng) * total
	cum, last := 0.0, -1
	for j, p := range w {
		if p <= 0 {
			continue
		}
		cum += float64(p)
		last = j
		if u < cum {
			return cand[j]
		}
	}
	return cand[last] // u within round-off of total
}

// uniformFloat draws a float64 in [0, 1) from rng.
func uniformFloat(rng *rand.PCG) float64 {
	return float64(rng.Uint64()>>11) * 0x1p-53
}

// rankedAbove orders tokens by logit, descending, then by ID, ascending: it reports whether a
// ranks above b.
func rankedAbove(logits []float32, a, b int32) bool {
	la, lb := logits[a], logits[b]
	return la > lb || (la == lb && a < b)
}

// argmaxLogits is the token with the largest logit (the lowest ID among ties).
func argmaxLogits(logits []float32) int32 {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	return int32(best)
}

// selectTopK reorders idx so that its first k entries are the k best tokens (by rankedAbove), in
// no particular order: quickselect, linear on average.
func selectTopK(idx []int32, logits []float32, k int) {
	lo, hi := 0, len(idx)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		idx[mid], idx[hi] = idx[hi], idx[mid]
		pivot, store := idx[hi], lo
		for i := lo; i < hi; i++ {
			if rankedAbove(logits, idx[i], pivot) {
				idx[i], idx[store] = idx[store], idx[i]
				store++
			}
		}
		idx[store], idx[hi] = idx[hi], idx[store]
		switch {
		case store == k-1:
			return
		case store < k-1:
			lo = store + 1
		default:
			hi = store - 1
		}
	}
}

// tokenLogProb is log softmax(logits)[tok], computed as kernels.LogProbForward computes it (from
// the row maximum, float64 sum of kernels.Exp), so PPO's ratios start at exactly 1.
func tokenLogProb(logits []float32, tok int32) float32 {
	mx := logits[0]
	for _, v := range logits[1:] {
		if v > mx {
			mx = v
		}
	}
	var sum float64
	for _, v := range logits {
		sum += float64(kernels.Exp(v - mx))
	}
	lz := float64(mx) + math.Log(sum)
	return float32(float64(logits[tok]) - lz)
}

// SequenceSampler draws the tokens of one sequence the way GenerateBatch draws those of the
// sample at a given index of its result: the same temperature, top-k and top-p, and the same
// random stream of the same Seed. A caller that feeds the engine itself (a server decoding
// many requests together with Prefill and Step) gets GenerateBatch's samples with it, up to
// float32 round-off in the logits. It only draws: stopping, MaxNewTokens and OnToken are the
// caller's.
type SequenceSampler struct {
	samp tokenSampler
	rng  rand.PCG
	temp float64
	topK int
	topP float64
}

// NewSequenceSampler returns the sampler of sample index (counted in GenerateBatch's result
// order, from cfg.FirstIndex) under cfg, which is checked as GenerateBatch checks it.
func (e *Engine) NewSequenceSampler(cfg SampleConfig, index int) (*SequenceSampler, error) {
	if _, _, err := e.checkSampleConfig(&cfg); err != nil {
		return nil, err
	}
	if index < 0 {
		return nil, fmt.Errorf("model: sequence sampler: index must be >= 0, got %d", index)
	}
	s := &SequenceSampler{samp: newTokenSampler(e.cfg.VocabSize), temp: cfg.Temperature, topK: cfg.TopK, topP: cfg.TopP}
	s.rng.Seed(cfg.Seed, sampleStream(uint64(cfg.FirstIndex+index)))
	return s, nil
}

// Next draws the next token from a row of logits (as Prefill or Step return them; the row is
// read, not changed).
func (s *SequenceSampler) Next(logits []float32) int32 {
	return s.samp.sample(logits[:len(s.samp.idx)], s.temp, s.topK, s.topP, &s.rng)
}
