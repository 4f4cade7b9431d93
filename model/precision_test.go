package model

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBF16Graphs: mixed precision changes the numbers (the setting takes effect) by about
// bfloat16's rounding — the language-model loss within 1%, outputs within 2% (relative L2),
// every parameter's gradient within a few degrees of the float32 one — and stays deterministic and independent of the memory plan: separate buffers,
// shared buffers and recomputed activations give the same bits, as in float32.
func TestBF16Graphs(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		gc   GraphConfig
	}{
		{"language model", Config{VocabSize: 37, BlockSize: 12, Layers: 3, Heads: 2, Width: 32}, GraphConfig{Batch: 3, Block: 12, Train: true}},
		{"dropout, untied, biases", Config{VocabSize: 29, BlockSize: 10, Layers: 2, Heads: 2, Width: 24, Dropout: 0.3, UntiedHead: true, LinearBias: true}, GraphConfig{Batch: 2, Block: 10, Train: true, Seed: 5}},
		{"values", Config{VocabSize: 23, BlockSize: 8, Layers: 2, Heads: 2, Width: 16, ScalarHead: true}, GraphConfig{Batch: 2, Block: 8, Train: true, Objective: Values, Loss: sumLoss}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base, err := New(tc.cfg, 3)
			require.NoError(t, err)
			randomize(base, 4)
			run := func(p Precision, plan MemoryPlan, recompute bool) (float64, []float32, [][]float32) {
				m := base.Clone()
				gc := tc.gc
				gc.Precision, gc.Memory, gc.Recompute = p, plan, recompute
				g, err := m.NewGraph(gc)
				require.NoError(t, err)
				fillBatch(g, 10, tc.cfg.VocabSize)
				require.NoError(t, g.Run())
				var grads [][]float32
				for _, p := range m.Params {
					grads = append(grads, p.Grad)
				}
				return g.Loss, append(append([]float32(nil), g.Output...), g.Logits...), grads
			}
			loss32, out32, grads32 := run(FP32, SharedBuffers, false)
			loss16, out16, grads16 := run(BF16, SharedBuffers, false)
			require.NotEqual(t, loss32, loss16, "BF16 must change the numbers")
			if tc.gc.Objective == LanguageModel {
				require.InDelta(t, 0, (loss16-loss32)/loss32, 0.01, "loss %v in bf16, %v in fp32", loss16, loss32)
			}
			var diff, norm float64
			for i := range out32 {
				diff += math.Pow(float64(out16[i]-out32[i]), 2)
				norm += math.Pow(float64(out32[i]), 2)
			}
			require.Less(t, math.Sqrt(diff/norm), 0.02, "relative error of the outputs")
			for i, g := range grads16 {
				var dot, n32, n16 float64
				for j := range g {
					dot += float64(g[j]) * float64(grads32[i][j])
					n16 += float64(g[j]) * float64(g[j])
					n32 += float64(grads32[i][j]) * float64(grads32[i][j])
				}
				if n32 == 0 {
					continue
				}
				cos := dot / math.Sqrt(n16*n32)
				require.Greater(t, cos, 0.99, "gradient of %s: cosine %.4f to float32's", base.Params[i].Name, cos)
			}
			for _, v := range []struct {
				plan      MemoryPlan
				recompute bool
			}{{SeparateBuffers, false}, {SharedBuffers, true}, {SharedBuffers, false}} {
				loss, out, grads := run(BF16, v.plan, v.recompute)
				require.Equal(t, loss16, loss, "%v recompute=%v: loss", v.plan, v.recompute)
				require.Equal(t, out16, out, "%v recompute=%v: outputs", v.plan, v.recompute)
				require.Equal(t, grads16, grads, "%v recompute=%v: gradients", v.plan, v.recompute)
			}
		})
	}
}

func TestUnknownPrecisionIsRefused(t *testing.T) {
	m, err := New(tinyConfig(), 1)
	require.NoError(t, err)
	_, err = m.NewGraph(GraphConfig{Batch: 1, Block: 4, Precision: "fp16"})
	require.EqualError(t, err, `model: unknown precision "fp16" (want fp32 or bf16)`)
	_, err = m.NewGraph(GraphConfig{Batch: 1, Block: 4, Precision: "fp32"})
	require.EqualError(t, err, `model: precision "fp32": use model.FP32 (the zero value)`)
	for s, want := range map[string]Precision{"": FP32, "fp32": FP32, "bf16": BF16} {
		p, err := ParsePrecision(s)
		require.NoError(t, err)
		require.Equal(t, want, p)
	}
	require.Equal(t, "fp32", FP32.String())
	require.Equal(t, "bf16", BF16.String())
}
