package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func tinyConfig() Config {
	return Config{VocabSize: 11, BlockSize: 6, Layers: 2, Heads: 2, Width: 8}
}

// randomize gives every parameter values of a larger scale than GPT-2's init, so that every
// layer's gradient is well above float32 round-off in the finite-difference check.
func randomize(m *Model, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	for _, p := range m.Params {
		for i := range p.Data {
			p.Data[i] = float32(rng.NormFloat64() * 0.5)
		}
	}
}

func fillBatch(g *Graph, seed uint64, vocab int) {
	rng := rand.New(rand.NewPCG(seed, 3))
	for i := range g.Tokens {
		g.Tokens[i] = int32(rng.IntN(vocab))
		g.Targets[i] = int32(rng.IntN(vocab))
		g.Weights[i] = float32(rng.IntN(3)) / 2 // 0, 0.5 or 1
	}
	g.Targets[1] = -1
}

// checkModelGrad compares every parameter's gradient from a training graph with central finite
// differences of the loss from a forward-only graph with the same inputs. Per parameter tensor
// the relative error ‖fd − analytic‖ / (‖fd‖ + ‖analytic‖) must be below 1e-2 (float32).
func checkModelGrad(t *testing.T, m *Model, gc GraphConfig, fill func(*Graph)) {
	t.Helper()
	gc.Train = true
	train, err := m.NewGraph(gc)
	require.NoError(t, err)
	gc.Train = false
	eval, err := m.NewGraph(gc)
	require.NoError(t, err)
	fill(train)
	copy(eval.Tokens, train.Tokens)
	copy(eval.Targets, train.Targets)
	copy(eval.Weights, train.Weights)
	m.ZeroGrad()
	require.NoError(t, train.Run())
	require.NoError(t, eval.Run())
	require.InDelta(t, train.Loss, eval.Loss, 1e-6, "training and evaluation graphs disagree on the loss")
	const eps = 1e-2
	for _, p := range m.Params {
		var diff, norm float64
		for j := range p.Data {
			orig := p.Data[j]
			p.Data[j] = orig + eps
			require.NoError(t, eval.Run())
			lp := eval.Loss
			p.Data[j] = orig - eps
			require.NoError(t, eval.Run())
			lm := eval.Loss
			p.Data[j] = orig
			fd := (lp - lm) / (2 * eps)
			an := float64(p.Grad[j])
			diff += (fd - an) * (fd - an)
			norm += fd*fd + an*an
		}
		rel := math.Sqrt(diff) / (math.Sqrt(norm) + 1e-12)
		if rel > 1e-2 || math.IsNaN(rel) {
			t.Errorf("%s: relative gradient error %.3g", p.Name, rel)
		}
	}
}

func TestModelGradientLanguageModel(t *testing.T) {
	for _, untied := range []bool{false, true} {
		cfg := tinyConfig()
		cfg.UntiedHead = untied
		m, err := New(cfg, 1)
		require.NoError(t, err)
		randomize(m, 2)
		checkModelGrad(t, m, GraphConfig{Batch: 2, Block: 5}, func(g *Graph) { fillBatch(g, 4, cfg.VocabSize) })
	}
}

func TestModelGradientLogProbs(t *testing.T) {
	cfg := tinyConfig()
	m, err := New(cfg, 1)
	require.NoError(t, err)
	randomize(m, 5)
	// loss = −Σ aᵢ·logpᵢ, a policy-gradient-shaped objective.
	adv := []float32{1, -0.5, 0, 2, 1, -1, 0.5, 1, -2, 0.25}
	loss := func(x, grad []float32) float64 {
		var s float64
		for i, v := range x {
			s -= float64(adv[i] * v)
			grad[i] = -adv[i]
		}
		return s
	}
	checkModelGrad(t, m, GraphConfig{Batch: 2, Block: 5, Objective: LogProbs, Loss: loss}, func(g *Graph) { fillBatch(g, 6, cfg.VocabSize) })
}

func TestModelGradientValues(t *testing.T) {
	cfg := tinyConfig()
	cfg.ScalarHead = true
	m, err := New(cfg, 1)
	require.NoError(t, err)
	randomize(m, 7)
	// loss = ½ Σ (vᵢ − yᵢ)², a value-regression objective.
	loss := func(x, grad []float32) float64 {
		var s float64
		for i, v := range x {
			d := v - float32(i%3)
			s += 0.5 * float64(d*d)
			grad[i] = d
		}
		return s
	}
	checkModelGrad(t, m, GraphConfig{Batch: 2, Block: 5, Objective: Values, Loss: loss}, func(g *Graph) { fillBatch(g, 8, cfg.VocabSize) })
}

// TestOverfitRepeatedText trains a tiny model on one short repeated text with plain SGD-free
// AdamW-like updates (a minimal Adam here; the real optimizer lives in package train) until the
// loss is below 0.1.
func TestOverfitRepeatedText(t *testing.T) {
	text := "hello gorgonia! "
	vocab := map[byte]int32{}
	for i := 0; i < len(text); i++ {
		if _, ok := vocab[text[i]]; !ok {
			vocab[text[i]] = int32(len(vocab))
		}
	}
	cfg := Config{VocabSize: len(vocab), BlockSize: 16, Layers: 2, Heads: 2, Width: 32}
	m, err := New(cfg, 42)
	require.NoError(t, err)
	g, err := m.NewGraph(GraphConfig{Batch: 4, Block: 16, Train: true})
	require.NoError(t, err)
	for b := 0; b < 4; b++ {
		for i := 0; i < 16; i++ {
			g.Tokens[b*16+i] = vocab[text[(b+i)%len(text)]]
			g.Targets[b*16+i] = vocab[text[(b+i+1)%len(text)]]
			g.Weights[b*16+i] = 1
		}
	}
	adam := newTestAdam(m)
	first, last := 0.0, 0.0
	for step := 0; step < 200; step++ {
		m.ZeroGrad()
		require.NoError(t, g.Run())
		if step == 0 {
			first = g.Loss
		}
		last = g.Loss
		if last < 0.1 {
			break
		}
		adam.step(3e-3)
	}
	t.Logf("loss %.3f -> %.4f", first, last)
	require.Greater(t, first, 2.0)
	require.Less(t, last, 0.1)
}

type testAdam struct {
	m     *Model
	mo, v [][]float32
	t     int
}

func newTestAdam(m *Model) *testAdam {
	a := &testAdam{m: m}
	for _, p := range m.Params {
		a.mo = append(a.mo, make([]float32, len(p.Data)))
		a.v = append(a.v, make([]float32, len(p.Data)))
	}
	return a
}

func (a *testAdam) step(lr float64) {
	a.t++
	b1, b2 := 0.9, 0.99
	c1, c2 := 1-math.Pow(b1, float64(a.t)), 1-math.Pow(b2, float64(a.t))
	for i, p := range a.m.Params {
		for j, g := range p.Grad {
			a.mo[i][j] = float32(b1)*a.mo[i][j] + float32(1-b1)*g
			a.v[i][j] = float32(b2)*a.v[i][j] + float32(1-b2)*g*g
			p.Data[j] -= float32(lr * float64(a.mo[i][j]) / c1 / (math.Sqrt(float64(a.v[i][j])/c2) + 1e-8))
		}
	}
}

func TestGraphRejectsBadInput(t *testing.T) {
	m, err := New(tinyConfig(), 1)
	require.NoError(t, err)
	_, err = m.NewGraph(GraphConfig{Batch: 1, Block: 7})
	require.ErrorContains(t, err, "exceeds the model's block size 6")
	_, err = m.NewGraph(GraphConfig{Batch: 1, Block: 4, Objective: Values})
	require.ErrorContains(t, err, "scalar head")
	g, err := m.NewGraph(GraphConfig{Batch: 1, Block: 4})
	require.NoError(t, err)
	g.Tokens[2] = 11
	require.ErrorContains(t, g.Run(), "token 11 at position 2 is outside the vocabulary")
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, tinyConfig().Validate())
	err := Config{VocabSize: 0, BlockSize: 4, Layers: 1, Heads: 3, Width: 8, Dropout: 1}.Validate()
	require.ErrorContains(t, err, "vocab size must be > 0")
	require.ErrorContains(t, err, "heads (3) must divide width (8)")
	require.ErrorContains(t, err, "dropout must be in [0, 1)")
}

// TestGraphInputsReplaced: replacing an input slice (instead of copying into it) would leave the
// compiled graph reading the old one; Run says so instead of computing on stale inputs.
func TestGraphInputsReplaced(t *testing.T) {
	m, err := New(Config{VocabSize: 11, BlockSize: 4, Layers: 1, Heads: 1, Width: 8}, 1)
	require.NoError(t, err)
	g, err := m.NewGraph(GraphConfig{Batch: 2, Block: 4})
	require.NoError(t, err)
	toks := []int32{1, 2, 3, 4, 5, 6, 7, 8}
	require.NoError(t, g.SetInputs(toks, toks, []float32{1, 1, 1, 1, 1, 1, 1, 1}))
	require.NoError(t, g.Run())
	first := g.Loss
	require.ErrorContains(t, g.SetInputs(toks[:3], toks, nil), "SetInputs: 3 tokens, 8 targets and 0 weights, want 8 each (batch 2 × block 4)")
	g.Tokens = []int32{9, 9, 9, 9, 9, 9, 9, 9}
	require.ErrorContains(t, g.Run(), "Graph.Tokens, Targets, Weights or Positions was replaced")
	g.Tokens = g.inputs.tokens
	require.NoError(t, g.Run())
	require.Equal(t, first, g.Loss)
}
