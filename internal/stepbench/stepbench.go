package stepbench

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/train"
)

// Shape is a model and batch size: torch_gpt.py's --shape layers,heads,width,block,batch.
type Shape struct {
	Layers, Heads, Width, Block, Batch int
}

// NanoGPT is nanoGPT's shakespeare-char CPU shape.
var NanoGPT = Shape{Layers: 4, Heads: 4, Width: 128, Block: 64, Batch: 12}

// Vocab is the character vocabulary of Tiny Shakespeare, which torch_gpt.py trains on.
const Vocab = 65

// ParseShape reads "layers,heads,width,block,batch".
func ParseShape(s string) (Shape, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 5 {
		return Shape{}, fmt.Errorf("shape %q: want layers,heads,width,block,batch", s)
	}
	var v [5]int
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n <= 0 {
			return Shape{}, fmt.Errorf("shape %q: %q is not a positive integer", s, p)
		}
		v[i] = n
	}
	sh := Shape{Layers: v[0], Heads: v[1], Width: v[2], Block: v[3], Batch: v[4]}
	if err := sh.Config().Validate(); err != nil {
		return Shape{}, fmt.Errorf("shape %q: %w", s, err)
	}
	return sh, nil
}

// String is the shape as ParseShape reads it.
func (s Shape) String() string {
	return fmt.Sprintf("%d,%d,%d,%d,%d", s.Layers, s.Heads, s.Width, s.Block, s.Batch)
}

// Config is the model of the shape: Vocab tokens, the tied head, no biases, as torch_gpt.py.
func (s Shape) Config() model.Config {
	return model.Config{VocabSize: Vocab, BlockSize: s.Block, Layers: s.Layers, Heads: s.Heads, Width: s.Width}
}

// Tokens is the number of tokens a step trains on.
func (s Shape) Tokens() int { return s.Batch * s.Block }

// FLOPs is the arithmetic of one step: 6 per weight per token for the matrices (forward 2,
// backward 4; the LM head through the tied embedding, the position embedding left out), plus
// the attention products QKᵀ and P·V, 2·2·T·d per head per token forward and twice that
// backward.
func (s Shape) FLOPs() float64 {
	c := s.Config()
	tokens := float64(s.Tokens())
	return 6*float64(c.NumParams()-c.BlockSize*c.Width)*tokens + 3*4*float64(s.Block*s.Width)*tokens*float64(s.Layers)
}

// New builds the model, its training graph over random tokens (seeded) and AdamW (β2 0.99,
// weight decay 0.1 on the matrices), and returns one step.
func New(s Shape, seed uint64) (step func() error, err error) { return NewWith(s, seed, Options{}) }

// Options are the graph settings a step can be measured with.
type Options struct {
	// Recompute sets the graph's GraphConfig.Recompute (activation checkpointing).
	Recompute bool
	// Precision sets the graph's GraphConfig.Precision (model.BF16: mixed precision).
	Precision model.Precision
}

// NewWith is New with the graph built with opts.
func NewWith(s Shape, seed uint64, opts Options) (step func() error, err error) {
	cfg := s.Config()
	m, err := model.New(cfg, seed)
	if err != nil {
		return nil, err
	}
	g, err := m.NewGraph(model.GraphConfig{Batch: s.Batch, Block: s.Block, Train: true, Recompute: opts.Recompute, Precision: opts.Precision})
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	for i := range g.Tokens {
		g.Tokens[i], g.Targets[i], g.Weights[i] = int32(rng.IntN(Vocab)), int32(rng.IntN(Vocab)), 1
	}
	params := make([]*train.Param, len(m.Params))
	for i, p := range m.Params {
		params[i] = &train.Param{Name: p.Name, Shape: p.Shape, Data: p.Data, Grad: p.Grad}
	}
	opt, err := train.NewAdamW(params, train.AdamWConfig{Beta2: 0.99, WeightDecay: 0.1})
	if err != nil {
		return nil, err
	}
	return func() error {
		opt.ZeroGrad()
		if err := g.Run(); err != nil {
			return err
		}
		train.ClipGradNorm(params, 1)
		opt.Step(1e-3)
		return nil
	}, nil
}
