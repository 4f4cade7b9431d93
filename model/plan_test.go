package model

import (
	"math"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

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
	// Shapes that exercise every layer: the tied head with the language-model loss, dropout
	// with the untied head and linear biases, log-probabilities with a loss, the scalar head,
	// and a graph that does not train.
	cases := []struct {
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
	for _, tc := range cases {
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

// TestArenaSharedByGraphs runs a training graph and a larger evaluation graph in turn, each with
// memory of its own and then both on one Arena (the second one built makes the arena grow, so
// the first must move to the new memory): the same losses, outputs and gradients, to the bit;
// each graph's outputs survive the other's runs; the arena is the larger plan, not the sum.
func TestArenaSharedByGraphs(t *testing.T) {
	cfg := Config{VocabSize: 37, BlockSize: 12, Layers: 2, Heads: 2, Width: 16}
	base, err := New(cfg, 3)
	require.NoError(t, err)
	randomize(base, 4)
	type result struct {
		losses  []float64
		outputs [][]float32
		grads   [][]float32
	}
	run := func(arena *Arena) (result, *Graph, *Graph) {
		m := base.Clone()
		train, err := m.NewGraph(GraphConfig{Batch: 2, Block: 12, Train: true, Arena: arena})
		require.NoError(t, err)
		eval, err := m.NewGraph(GraphConfig{Batch: 4, Block: 12, Objective: LogProbs, Arena: arena})
		require.NoError(t, err)
		var res result
		for step := range uint64(2) {
			fillBatch(train, 20+step, cfg.VocabSize)
			require.NoError(t, train.Run())
			logits := append([]float32(nil), train.Logits...)
			fillBatch(eval, 30+step, cfg.VocabSize)
			require.NoError(t, eval.Run())
			require.Equal(t, logits, train.Logits, "the training graph's logits survive the other graph's run")
			res.losses = append(res.losses, train.Loss)
			res.outputs = append(res.outputs, logits, append([]float32(nil), eval.Output...))
		}
		for _, p := range m.Params {
			res.grads = append(res.grads, p.Grad)
		}
		return res, train, eval
	}
	own, _, _ := run(nil)
	arena := &Arena{}
	shared, train, eval := run(arena)
	require.Equal(t, own, shared)
	require.Greater(t, eval.PlannedBytes(), train.PlannedBytes()/2, "the test needs the evaluation graph to be comparable")
	require.Less(t, arena.Bytes(), train.PlannedBytes()+eval.PlannedBytes(), "the arena is not the sum of the plans")
	require.LessOrEqual(t, arena.Bytes(), max(train.PlannedBytes(), eval.PlannedBytes()))
	// Both graphs' shared buffers lie in the arena's current memory (the first one moved there).
	lo, hi := uintptr(unsafe.Pointer(&arena.buf[0])), uintptr(unsafe.Pointer(&arena.buf[len(arena.buf)-1]))
	for _, g := range []*Graph{train, eval} {
		require.NotEmpty(t, g.exec.shared)
		for _, b := range g.exec.shared {
			p := uintptr(unsafe.Pointer(&b.data[0]))
			require.True(t, p >= lo && p <= hi, "a shared buffer outside the arena")
		}
	}
}

func TestUnknownMemoryPlanIsRefused(t *testing.T) {
	m, err := New(tinyConfig(), 1)
	require.NoError(t, err)
	_, err = m.NewGraph(GraphConfig{Batch: 1, Block: 4, Memory: MemoryPlan(7)})
	require.EqualError(t, err, "model: unknown memory plan 7")
	require.Equal(t, "MemoryPlan(7)", MemoryPlan(7).String())
}
