package retrieval

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/tinychat-go/tinychat/model/safetensors"
)

// Encoder defaults (used where an EncoderConfig field is zero).
const (
	DefaultEncoderDim         = 128
	DefaultEncoderWidth       = 128
	DefaultEncoderBuckets     = 1 << 14
	DefaultEncoderSteps       = 200
	DefaultEncoderBatch       = 32
	DefaultEncoderLR          = 0.001
	DefaultEncoderTemperature = 0.1
)

// EncoderConfig configures TrainEncoder.
type EncoderConfig struct {
	// Dim is the dimension of the vectors (default 128); Width that of the feature
	// embeddings (default 128); Buckets the number of hashed feature embeddings (default
	// 16384).
	Dim, Width, Buckets int
	// Steps is the number of training steps (default 200) over batches of Batch pairs
	// (default 32), with Adam at learning rate LR (default 0.001). The defaults train gently:
	// on the tiny world, where the training passages are few, longer or faster training
	// overfits them and finds held-out people's passages less often.
	Steps, Batch int
	LR           float64
	// Temperature divides the cosine similarities in the contrastive loss (default 0.1).
	Temperature float64
	// Seed seeds the initialisation and the batches.
	Seed uint64
}

func (c EncoderConfig) withDefaults() EncoderConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Dim, DefaultEncoderDim)
	def(&c.Width, DefaultEncoderWidth)
	def(&c.Buckets, DefaultEncoderBuckets)
	def(&c.Steps, DefaultEncoderSteps)
	def(&c.Batch, DefaultEncoderBatch)
	if c.LR == 0 {
		c.LR = DefaultEncoderLR
	}
	if c.Temperature == 0 {
		c.Temperature = DefaultEncoderTemperature
	}
	return c
}

func (c EncoderConfig) validate() error {
	switch {
	case c.Dim < 1 || c.Width < 1 || c.Buckets < 1 || c.Steps < 0 || c.Batch < 2:
		return fmt.Errorf("retrieval: encoder config: Dim %d, Width %d, Buckets %d must be ≥ 1, Steps %d ≥ 0, Batch %d ≥ 2",
			c.Dim, c.Width, c.Buckets, c.Steps, c.Batch)
	case !(c.LR > 0) || !(c.Temperature > 0) || math.IsInf(c.LR, 0) || math.IsInf(c.Temperature, 0):
		return fmt.Errorf("retrieval: encoder config: LR %g and Temperature %g must be > 0 and finite", c.LR, c.Temperature)
	}
	return nil
}

// Pair is a training example of the encoder: a question and the passage that answers it.
type Pair struct {
	Query, Passage string
}

// Encoder is a dual encoder trained contrastively on question/passage pairs. A text's
// features are its [Terms], their character trigrams (with word-boundary marks) and its
// adjacent-term bigrams, hashed into Buckets embeddings (as fastText does, so unseen words
// still get vectors); its vector is the weighted mean of its features' embeddings, projected
// to Dim and normalised to unit length. A feature's weight is its smooth inverse frequency
// in the training texts, a/(a + p(f)) with a = 0.001 (Arora et al.), so that the words every
// text has count for little and rare ones, such as names never seen, for much. Every feature
// sees the whole text: there is no causal order. Questions and passages share the encoder.
//
// Training ([TrainEncoder]) minimises the symmetric InfoNCE loss with in-batch negatives:
// for a batch of pairs, each question must pick its own passage among the batch's passages by
// cosine similarity over Temperature, and each passage its own question.
//
// It is small and fast to train (seconds), and a text's order beyond adjacent words is lost;
// a transformer encoder would need a non-causal attention in the model package. An Encoder is
// safe for concurrent use once trained.
type Encoder struct {
	dim, width, buckets int
	emb                 []float32 // [buckets, width]
	proj                []float32 // [width, dim]
	weight              []float32 // [buckets] SIF weight of each feature
}

var _ Embedder = (*Encoder)(nil)

// Dim is the dimension of the vectors.
func (e *Encoder) Dim() int { return e.dim }

// Embed returns the unit vector of each text (the zero vector for a text without terms).
func (e *Encoder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f := e.forward(features(t, e.buckets))
		out[i] = f.v
	}
	return out, nil
}

// features returns the hashed feature indices of text.
func features(text string, buckets int) []int {
	terms := Terms(text)
	var out []int
	add := func(s string) {
		h := fnv.New32a()
		h.Write([]byte(s))
		out = append(out, int(h.Sum32()%uint32(buckets)))
	}
	for i, t := range terms {
		add("w:" + t)
		r := []rune("<" + t + ">")
		for j := 0; j+3 <= len(r); j++ {
			add("c:" + string(r[j:j+3]))
		}
		if i > 0 {
			add("b:" + terms[i-1] + " " + t)
		}
	}
	return out
}

// encoded is one text's forward pass, kept for the backward pass.
type encoded struct {
	feats []int
	h     []float32 // weighted mean embedding [width]
	wsum  float32   // the sum of the features' weights
	v     []float32 // unit vector [dim]
	norm  float64   // |proj·h|
}

func (e *Encoder) forward(feats []int) encoded {
	f := encoded{feats: feats, h: make([]float32, e.width), v: make([]float32, e.dim)}
	if len(feats) == 0 {
		return f
	}
	var wsum float32
	for _, b := range feats {
		wsum += e.weight[b]
	}
	f.wsum = wsum
	for _, b := range feats {
		row := e.emb[b*e.width : (b+1)*e.width]
		w := e.weight[b] / wsum
		for j, x := range row {
			f.h[j] += x * w
		}
	}
	z := make([]float64, e.dim)
	for j, hj := range f.h {
		row := e.proj[j*e.dim : (j+1)*e.dim]
		for d, w := range row {
			z[d] += float64(hj) * float64(w)
		}
	}
	var s float64
	for _, x := range z {
		s += x * x
	}
	f.norm = math.Sqrt(s)
	if f.norm > 0 {
		for d, x := range z {
			f.v[d] = float32(x / f.norm)
		}
	}
	return f
}

// backward adds to gEmb and gProj the gradient of a text given dv, the loss's gradient with
// respect to its unit vector.
func (e *Encoder) backward(f encoded, dv []float64, gEmb map[int][]float64, gProj []float64) {
	if f.norm == 0 || len(f.feats) == 0 {
		return
	}
	// v = z/|z|: dz = (dv − v·(v·dv)) / |z|.
	var vdv float64
	for d, g := range dv {
		vdv += float64(f.v[d]) * g
	}
	dz := make([]float64, e.dim)
	for d, g := range dv {
		dz[d] = (g - float64(f.v[d])*vdv) / f.norm
	}
	dh := make([]float64, e.width)
	for j, hj := range f.h {
		row := e.proj[j*e.dim : (j+1)*e.dim]
		grow := gProj[j*e.dim : (j+1)*e.dim]
		var s float64
		for d, w := range row {
			grow[d] += float64(hj) * dz[d]
			s += float64(w) * dz[d]
		}
		dh[j] = s
	}
	for _, b := range f.feats {
		g := gEmb[b]
		if g == nil {
			g = make([]float64, e.width)
			gEmb[b] = g
		}
		w := float64(e.weight[b]) / float64(f.wsum)
		for j, x := range dh {
			g[j] += x * w
		}
	}
}

// newEncoder initialises an encoder: embeddings N(0, 1), projection N(0, 1/Width).
func newEncoder(cfg EncoderConfig) *Encoder {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x656e63))
	e := &Encoder{dim: cfg.Dim, width: cfg.Width, buckets: cfg.Buckets,
		emb: make([]float32, cfg.Buckets*cfg.Width), proj: make([]float32, cfg.Width*cfg.Dim),
		weight: make([]float32, cfg.Buckets)}
	for i := range e.weight {
		e.weight[i] = 1
	}
	for i := range e.emb {
		e.emb[i] = float32(rng.NormFloat64())
	}
	std := 1 / math.Sqrt(float64(cfg.Width))
	for i := range e.proj {
		e.proj[i] = float32(rng.NormFloat64() * std)
	}
	return e
}

// batchLoss is the symmetric InfoNCE loss of a batch and its gradients: the mean over the
// batch of the cross-entropy of each question over the passages and of each passage over the
// questions, with similarities qᵢ·pⱼ/temp.
func (e *Encoder) batchLoss(pairs []Pair, temp float64, gEmb map[int][]float64, gProj []float64) float64 {
	n := len(pairs)
	qs, ps := make([]encoded, n), make([]encoded, n)
	for i, p := range pairs {
		qs[i] = e.forward(features(p.Query, e.buckets))
		ps[i] = e.forward(features(p.Passage, e.buckets))
	}
	s := make([]float64, n*n)
	for i := range n {
		for j := range n {
			var dot float64
			for d := range e.dim {
				dot += float64(qs[i].v[d]) * float64(ps[j].v[d])
			}
			s[i*n+j] = dot / temp
		}
	}
	// ds[i][j] = dL/ds_ij from both directions.
	ds := make([]float64, n*n)
	var loss float64
	softmaxCE := func(at func(k int) int, target int) {
		mx := math.Inf(-1)
		for k := range n {
			mx = max(mx, s[at(k)])
		}
		var z float64
		for k := range n {
			z += math.Exp(s[at(k)] - mx)
		}
		loss += (mx + math.Log(z) - s[at(target)]) / float64(2*n)
		for k := range n {
			p := math.Exp(s[at(k)]-mx) / z
			if k == target {
				p--
			}
			ds[at(k)] += p / float64(2*n)
		}
	}
	for i := range n {
		softmaxCE(func(k int) int { return i*n + k }, i) // question i over the passages
		softmaxCE(func(k int) int { return k*n + i }, i) // passage i over the questions
	}
	if gEmb == nil {
		return loss
	}
	for i := range n {
		dq, dp := make([]float64, e.dim), make([]float64, e.dim)
		for j := range n {
			for d := range e.dim {
				dq[d] += ds[i*n+j] * float64(ps[j].v[d]) / temp
				dp[d] += ds[j*n+i] * float64(qs[j].v[d]) / temp
			}
		}
		e.backward(qs[i], dq, gEmb, gProj)
		e.backward(ps[i], dp, gEmb, gProj)
	}
	return loss
}

// TrainEncoder trains an Encoder on pairs (at least two distinct passages). Each batch holds
// pairs with distinct passages, so that no passage is another question's negative and its
// positive at once. It returns the encoder and the mean loss of the last 10% of the steps.
// The result is deterministic in cfg.Seed.
func TrainEncoder(ctx context.Context, pairs []Pair, cfg EncoderConfig) (*Encoder, float64, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, 0, err
	}
	byPassage := map[string][]int{}
	var passages []string
	for i, p := range pairs {
		if _, ok := byPassage[p.Passage]; !ok {
			passages = append(passages, p.Passage)
		}
		byPassage[p.Passage] = append(byPassage[p.Passage], i)
	}
	if len(passages) < 2 {
		return nil, 0, errors.New("retrieval: training the encoder needs pairs with at least two distinct passages")
	}
	e := newEncoder(cfg)
	e.setWeights(pairs)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x747261696e))
	adamE := newAdam(len(e.emb), e.width)
	adamP := newAdam(len(e.proj), len(e.proj))
	gProj := make([]float64, len(e.proj))
	var tail float64
	tailN := max(cfg.Steps/10, 1)
	batch := make([]Pair, 0, cfg.Batch)
	for step := range cfg.Steps {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		batch = batch[:0]
		for _, k := range rng.Perm(len(passages))[:min(cfg.Batch, len(passages))] {
			idx := byPassage[passages[k]]
			batch = append(batch, pairs[idx[rng.IntN(len(idx))]])
		}
		gEmb := map[int][]float64{}
		clear(gProj)
		loss := e.batchLoss(batch, cfg.Temperature, gEmb, gProj)
		if step >= cfg.Steps-tailN {
			tail += loss / float64(tailN)
		}
		adamP.row(e.proj, 0, gProj, cfg.LR)
		for r, g := range gEmb {
			adamE.row(e.emb, r, g, cfg.LR)
		}
	}
	return e, tail, nil
}

// sifA is the smoothing of the feature weights a/(a + p(f)).
const sifA = 1e-3

// setWeights sets each feature's weight to a/(a + p(f)), p(f) its frequency among the
// features of the training texts (Arora et al.'s smooth inverse frequency): features every
// text has count for little, rare ones (and unseen ones, weight 1) for much.
func (e *Encoder) setWeights(pairs []Pair) {
	counts := make([]float64, e.buckets)
	var total float64
	for _, p := range pairs {
		for _, t := range []string{p.Query, p.Passage} {
			for _, f := range features(t, e.buckets) {
				counts[f]++
				total++
			}
		}
	}
	for i, c := range counts {
		e.weight[i] = float32(sifA / (sifA + c/max(total, 1)))
	}
}

// adam is Adam (β1 0.9, β2 0.999, ε 1e-8) over rows of width parameters, with a step count
// per row, so that rows updated only now and then (the hashed embeddings) are bias-corrected
// by their own count.
type adam struct {
	width int
	m, v  []float32
	t     []int32 // per row
}

func newAdam(n, width int) *adam {
	return &adam{width: width, m: make([]float32, n), v: make([]float32, n), t: make([]int32, n/width)}
}

// row applies the gradient g of row r of p.
func (a *adam) row(p []float32, r int, g []float64, lr float64) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	a.t[r]++
	t := float64(a.t[r])
	c1, c2 := 1/(1-math.Pow(b1, t)), 1/(1-math.Pow(b2, t))
	off := r * a.width
	for j, gj := range g {
		i := off + j
		m := b1*float64(a.m[i]) + (1-b1)*gj
		v := b2*float64(a.v[i]) + (1-b2)*gj*gj
		a.m[i], a.v[i] = float32(m), float32(v)
		p[i] -= float32(lr * m * c1 / (math.Sqrt(v*c2) + eps))
	}
}

// encoderKind marks an encoder file's metadata.
const encoderKind = "tinychat-retrieval-encoder"

// Save writes the encoder to path as a safetensors file (tensors "emb", "proj" and "weight",
// metadata "kind").
func (e *Encoder) Save(path string) error {
	err := safetensors.WriteFile(path, []safetensors.Tensor{
		{Name: "emb", Shape: []int{e.buckets, e.width}, Data: e.emb},
		{Name: "proj", Shape: []int{e.width, e.dim}, Data: e.proj},
		{Name: "weight", Shape: []int{e.buckets}, Data: e.weight},
	}, map[string]string{"kind": encoderKind})
	if err != nil {
		return fmt.Errorf("retrieval: saving the encoder: %w", err)
	}
	return nil
}

// LoadEncoder reads an encoder written by Save.
func LoadEncoder(path string) (*Encoder, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("retrieval: loading an encoder: %w", err)
	}
	if k := f.Metadata["kind"]; k != encoderKind {
		return nil, fmt.Errorf("retrieval: %s is not a retrieval encoder (kind %q, want %q)", path, k, encoderKind)
	}
	emb, ok1 := f.Get("emb")
	proj, ok2 := f.Get("proj")
	weight, ok3 := f.Get("weight")
	if !ok1 || !ok2 || !ok3 || len(emb.Shape) != 2 || len(proj.Shape) != 2 || len(weight.Shape) != 1 ||
		emb.Shape[1] != proj.Shape[0] || weight.Shape[0] != emb.Shape[0] ||
		emb.Shape[0] < 1 || proj.Shape[1] < 1 || emb.Shape[1] < 1 {
		return nil, fmt.Errorf("retrieval: %s: want tensors emb [buckets, width], proj [width, dim] and weight [buckets]", path)
	}
	for i, w := range weight.Data {
		if !(w > 0) || math.IsInf(float64(w), 0) {
			return nil, fmt.Errorf("retrieval: %s: feature weight %d is %g, want > 0", path, i, w)
		}
	}
	return &Encoder{buckets: emb.Shape[0], width: emb.Shape[1], dim: proj.Shape[1], emb: emb.Data, proj: proj.Data, weight: weight.Data}, nil
}
