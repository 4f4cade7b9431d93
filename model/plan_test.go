package model

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// planCases are graph shapes that exercise every layer: the tied head with the language-model
// loss, dropout with the untied head and linear biases, log-probabilities with a loss, and the
// scalar head.
func planCases() []struct {
	name string
	cfg  Config
	gc   GraphConfig
} {
	return []struct {
		name string
		cfg  Config
		gc   GraphConfig
	}{
		{"language model", Config{VocabSize: 37, BlockSize: 12, Layers: 3, Heads: 2, Width: 16}, GraphConfig{Batch: 3, Block: 12, Train: true}},
		{"dropout, untied, biases", Config{VocabSize: 29, BlockSize: 10, Layers: 2, Heads: 2, Width: 12, Dropout: 0.3, UntiedHead: true, LinearBias: true}, GraphConfig{Batch: 2, Block: 10, Train: true, Seed: 5}},
		{"log-probs", Config{VocabSize: 31, BlockSize: 9, Layers: 2, Heads: 3, Width: 12}, GraphConfig{Batch: 4, Block: 9, Train: true, Objective: LogProbs, Loss: sumLoss}},
		{"values", Config{VocabSize: 23, BlockSize: 8, Layers: 3, Heads: 2, Width: 8, ScalarHead: true}, GraphConfig{Batch: 2, Block: 8, Train: true, Objective: Values, Loss: sumLoss}},
		{"eval", Config{VocabSize: 37, BlockSize: 12, Layers: 3, Heads: 2, Width: 16}, GraphConfig{Batch: 3, Block: 12}},
	}
}

// TestMemoryPlansGiveIdenticalBits runs the same batches through graphs with every buffer in
// its own memory, with the shared plan, and with the shared plan recomputing each block's
// activations: losses, outputs and the gradients accumulated over two runs must be equal to
// the bit.
func TestMemoryPlansGiveIdenticalBits(t *testing.T) {
	type result struct {
		loss    []float64
		out     [][]float32
		grads   [][]float32
		planned int64
	}
	for _, tc := range planCases() {
		t.Run(tc.name, func(t *testing.T) {
			base, err := New(tc.cfg, 3)
			require.NoError(t, err)
			randomize(base, 4)
			run := func(plan MemoryPlan, recompute bool) result {
				m := base.Clone()
				gc := tc.gc
				gc.Memory, gc.Recompute = plan, recompute
				g, err := m.NewGraph(gc)
				require.NoError(t, err)
				var res result
				for step := range uint64(2) {
					fillBatch(g, 10+step, tc.cfg.VocabSize)
					require.NoError(t, g.Run())
					res.loss = append(res.loss, g.Loss)
					res.out = append(res.out, append(append([]float32(nil), g.Output...), g.Logits...))
				}
				if tc.gc.Train {
					for _, p := range m.Params {
						res.grads = append(res.grads, p.Grad)
					}
				}
				res.planned = g.PlannedBytes()
				return res
			}
			sep := run(SeparateBuffers, false)
			for _, v := range sep.loss {
				require.False(t, math.IsNaN(v) || v == 0, "loss %v", v)
			}
			shared := run(SharedBuffers, false)
			recomputed := run(SharedBuffers, true)
			t.Logf("planned memory: separate %s, shared %s, shared and recomputed %s",
				formatBytes(sep.planned), formatBytes(shared.planned), formatBytes(recomputed.planned))
			for name, r := range map[string]result{"shared": shared, "recomputed": recomputed} {
				require.Equal(t, sep.loss, r.loss, "%s: losses", name)
				require.Equal(t, sep.out, r.out, "%s: outputs", name)
				require.Equal(t, sep.grads, r.grads, "%s: gradients", name)
			}
			require.Less(t, shared.planned, sep.planned, "sharing saves memory")
			if tc.gc.Train && tc.cfg.Layers > 2 {
				require.Less(t, recomputed.planned, shared.planned, "recomputing saves memory")
			}
		})
	}
}
