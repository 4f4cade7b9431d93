package model

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"

	"github.com/tinychat-go/tinychat/data/tokenizer"
)

func TestLinearBiasParams(t *testing.T) {
	cfg := tinyConfig()
	plain := cfg.NumParams()
	cfg.LinearBias = true
	C := cfg.Width
	require.Equal(t, plain+cfg.Layers*(3*C+C+4*C+C), cfg.NumParams())
	m, err := New(cfg, 1)
	require.NoError(t, err)
	for l := range cfg.Layers {
		for _, n := range linearBiasNames {
			p := m.Param(fmt.Sprintf("h.%d.%s.bias", l, n))
			require.NotNil(t, p, n)
			require.Equal(t, make([]float32, len(p.Data)), p.Data, "%s starts at zero", p.Name)
		}
	}
	// A config without the field (every checkpoint written before it existed) has no biases.
	var old Config
	require.NoError(t, json.Unmarshal([]byte(`{"vocab_size":11,"block_size":6,"n_layer":2,"n_head":2,"n_embd":8,"dropout":0}`), &old))
	require.False(t, old.LinearBias)
	require.Equal(t, plain, old.NumParams())
	js, err := json.Marshal(tinyConfig())
	require.NoError(t, err)
	require.NotContains(t, string(js), "linear_bias")
}

func TestModelGradientLinearBias(t *testing.T) {
	cfg := tinyConfig()
	cfg.LinearBias = true
	m, err := New(cfg, 1)
	require.NoError(t, err)
	randomize(m, 3)
	checkModelGrad(t, m, GraphConfig{Batch: 2, Block: 5}, func(g *Graph) { fillBatch(g, 9, cfg.VocabSize) })
}

func TestGradAddBias(t *testing.T) {
	in := []*fdInput{{name: "x", shape: []int{3, 4}, scale: 1}, {name: "b", shape: []int{4}, scale: 1}}
	checkGrad(t, 11, in, func(b *builder, n G.Nodes) (*G.Node, error) { return b.addBias(n[0], n[1]) })
}

func TestEngineMatchesGraphLinearBias(t *testing.T) {
	cfg := engineTestConfig()
	cfg.LinearBias = true
	m := newEngineTestModel(t, cfg, 8) // biases get large random values too
	T, V := cfg.BlockSize, cfg.VocabSize
	rng := rand.New(rand.NewPCG(3, 4))
	rows := [][]int32{randomTokens(rng, T, V), randomTokens(rng, T, V)}
	want := graphLogits(t, m, rows)
	e, err := NewEngine(m, 2)
	require.NoError(t, err)
	for pos := range T {
		lg, err := e.Step([]int32{rows[0][pos], rows[1][pos]})
		require.NoError(t, err)
		for b := range 2 {
			requireRowsClose(t, want[(b*T+pos)*V:(b*T+pos+1)*V], lg[b*V:(b+1)*V], "step of row %d at %d", b, pos)
		}
	}
	// Prefill (the stacked matrix products) too.
	e.Reset()
	lg, err := e.Prefill(0, rows[1])
	require.NoError(t, err)
	requireRowsClose(t, want[(2*T-1)*V:2*T*V], lg, "prefill")
	lg = append([]float32(nil), lg...) // the view is overwritten by the next prefill
	// The biases matter: zeroing them changes the logits.
	for _, p := range m.Params {
		if p.Name == "h.1.mlp.c_proj.bias" {
			clear(p.Data)
		}
	}
	e.Reset()
	lg2, err := e.Prefill(0, rows[1])
	require.NoError(t, err)
	require.NotEqual(t, lg, lg2)
}

func TestCheckpointLinearBias(t *testing.T) {
	tok := tokenizer.NewChar("abcdef")
	cfg := Config{VocabSize: tok.VocabSize(), BlockSize: 8, Layers: 1, Heads: 2, Width: 8, LinearBias: true}
	m := newEngineTestModel(t, cfg, 2)
	path := filepath.Join(t.TempDir(), "bias.safetensors")
	require.NoError(t, (&Checkpoint{Stage: StageSFT, Model: m, Tokenizer: tok}).Save(path))
	got, err := LoadCheckpoint(path)
	require.NoError(t, err)
	require.True(t, got.Model.Config.LinearBias)
	require.Equal(t, m.Param("h.0.mlp.c_fc.bias").Data, got.Model.Param("h.0.mlp.c_fc.bias").Data)
}
