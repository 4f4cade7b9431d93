package model

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Param is one named weight tensor: its values and, once a training graph has run, the
// gradient accumulated for it (same length, row-major).
type Param struct {
	Name  string
	Shape []int
	Data  []float32
	Grad  []float32
}

// Model is a GPT's configuration and weights. Graphs (for training) and Engines (for
// inference) built from it read the same weight slices, so updating Params in place is seen by
// all of them.
type Model struct {
	Config Config
	Params []*Param
	byName map[string]*Param
}

// New creates a model with GPT-2's initialisation drawn from seed: every matrix N(0, 0.02),
// the residual projections (attn.c_proj, mlp.c_proj) N(0, 0.02/√(2·layers)), LayerNorm weights
// 1 and biases 0, and a scalar head (if any) N(0, 0.02) with bias 0.
func New(cfg Config, seed uint64) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := newEmpty(cfg)
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	resid := 0.02 / math.Sqrt(2*float64(cfg.Layers))
	for _, p := range m.Params {
		switch {
		case hasSuffix(p.Name, "ln_1.weight", "ln_2.weight", "ln_f.weight"):
			fill(p.Data, 1)
		case hasSuffix(p.Name, ".bias"):
			// zero
		case hasSuffix(p.Name, "c_proj.weight"):
			normal(rng, p.Data, resid)
		default:
			normal(rng, p.Data, 0.02)
		}
	}
	return m, nil
}

// newEmpty allocates a zeroed model.
func newEmpty(cfg Config) *Model {
	m := &Model{Config: cfg, byName: map[string]*Param{}}
	for _, ps := range cfg.ParamShapes() {
		p := &Param{Name: ps.Name, Shape: ps.Shape, Data: make([]float32, size(ps.Shape))}
		m.Params = append(m.Params, p)
		m.byName[p.Name] = p
	}
	return m
}

// Param returns the parameter with the given name, or nil.
func (m *Model) Param(name string) *Param { return m.byName[name] }

// ZeroGrad sets every accumulated gradient to zero.
func (m *Model) ZeroGrad() {
	for _, p := range m.Params {
		clear(p.Grad)
	}
}

// Clone returns a deep copy of the weights (gradients are not copied).
func (m *Model) Clone() *Model {
	c := newEmpty(m.Config)
	for i, p := range m.Params {
		copy(c.Params[i].Data, p.Data)
	}
	return c
}

// CopyFrom copies the weights of src, which must have the same config, into m.
func (m *Model) CopyFrom(src *Model) error {
	if len(src.Params) != len(m.Params) {
		return fmt.Errorf("model: copy: %d parameters, want %d", len(src.Params), len(m.Params))
	}
	for i, p := range m.Params {
		if q := src.Params[i]; q.Name != p.Name || len(q.Data) != len(p.Data) {
			return fmt.Errorf("model: copy: parameter %s (%d values) does not match %s (%d values)", q.Name, len(q.Data), p.Name, len(p.Data))
		}
		copy(p.Data, src.Params[i].Data)
	}
	return nil
}

func hasSuffix(s string, suffixes ...string) bool {
	for _, x := range suffixes {
		if len(s) >= len(x) && s[len(s)-len(x):] == x {
			return true
		}
	}
	return false
}

func fill(x []float32, v float32) {
	for i := range x {
		x[i] = v
	}
}

func normal(rng *rand.Rand, x []float32, std float64) {
	for i := range x {
		x[i] = float32(rng.NormFloat64() * std)
	}
}
