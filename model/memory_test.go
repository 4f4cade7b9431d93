package model

import (
	"math"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// liveBytes returns the heap in use after a full collection.
func liveBytes() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// sumLoss is the sum of its inputs.
func sumLoss(x, grad []float32) float64 {
	var s float64
	for i, v := range x {
		s += float64(v)
		grad[i] = 1
	}
	return s
}

// TestEstimateGraphMemoryMatchesAllocation compares the estimate with the heap a graph keeps
// after it is built and run once, for shapes like the tinychat and Shakespeare runs'.
func TestEstimateGraphMemoryMatchesAllocation(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		gc   GraphConfig
	}{
		{"tinychat pretrain", Config{VocabSize: 394, BlockSize: 96, Layers: 4, Heads: 4, Width: 128}, GraphConfig{Batch: 16, Block: 96, Train: true}},
		{"dropout, untied, biases", Config{VocabSize: 65, BlockSize: 64, Layers: 2, Heads: 4, Width: 96, Dropout: 0.2, UntiedHead: true, LinearBias: true}, GraphConfig{Batch: 12, Block: 64, Train: true, Seed: 1}},
		{"eval", Config{VocabSize: 394, BlockSize: 96, Layers: 4, Heads: 4, Width: 128}, GraphConfig{Batch: 16, Block: 96}},
		{"PPO log-probs", Config{VocabSize: 394, BlockSize: 96, Layers: 4, Heads: 4, Width: 128}, GraphConfig{Batch: 8, Block: 96, Train: true, Objective: LogProbs, Loss: sumLoss}},
		{"tinychat pretrain, separate buffers", Config{VocabSize: 394, BlockSize: 96, Layers: 4, Heads: 4, Width: 128}, GraphConfig{Batch: 16, Block: 96, Train: true, Memory: SeparateBuffers}},
		{"tinychat pretrain, recomputed", Config{VocabSize: 394, BlockSize: 96, Layers: 4, Heads: 4, Width: 128}, GraphConfig{Batch: 16, Block: 96, Train: true, Recompute: true}},
		{"12 layers, width 192, recomputed", Config{VocabSize: 65, BlockSize: 64, Layers: 12, Heads: 6, Width: 192}, GraphConfig{Batch: 8, Block: 64, Train: true, Recompute: true}},
		{"12 layers, width 192", Config{VocabSize: 65, BlockSize: 64, Layers: 12, Heads: 6, Width: 192}, GraphConfig{Batch: 8, Block: 64, Train: true}},
		{"reward values", Config{VocabSize: 394, BlockSize: 96, Layers: 4, Heads: 4, Width: 128, ScalarHead: true}, GraphConfig{Batch: 8, Block: 96, Train: true, Objective: Values, Loss: sumLoss}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.cfg, 1)
			require.NoError(t, err)
			before := liveBytes()
			g, err := m.NewGraph(tc.gc)
			require.NoError(t, err)
			for i := range g.Tokens {
				g.Tokens[i], g.Targets[i], g.Weights[i] = int32(i%tc.cfg.VocabSize), int32((i+1)%tc.cfg.VocabSize), 1
			}
			require.NoError(t, g.Run())
			used := liveBytes() - before
			runtime.KeepAlive(g)
			est := EstimateGraphMemory(tc.cfg, tc.gc)
			ratio := float64(est) / float64(used)
			t.Logf("estimate %s, live after build and one run %s: ratio %.2f", formatBytes(est), formatBytes(used), ratio)
			assert.InDelta(t, 1, ratio, 0.25, "the estimate is within 25%% of the allocation")
		})
	}
}

// TestEstimateEngineMemoryMatchesAllocation does the same for the inference engine.
func TestEstimateEngineMemoryMatchesAllocation(t *testing.T) {
	cfg := Config{VocabSize: 394, BlockSize: 96, Layers: 4, Heads: 4, Width: 128}
	m, err := New(cfg, 1)
	require.NoError(t, err)
	for _, batch := range []int{1, 32} {
		before := liveBytes()
		e, err := NewEngine(m, batch)
		require.NoError(t, err)
		used := liveBytes() - before
		runtime.KeepAlive(e)
		est := EstimateEngineMemory(cfg, batch)
		ratio := float64(est) / float64(used)
		t.Logf("batch %d: estimate %s, live after NewEngine %s: ratio %.2f", batch, formatBytes(est), formatBytes(used), ratio)
		assert.InDelta(t, 1, ratio, 0.25, "batch %d: the estimate is within 25%% of the allocation", batch)
	}
}

// TestHugeShapesAreRefused is the regression test for the out-of-memory crash: a huge batch,
// block, width or vocabulary is an error naming the settings and the estimate, before anything
// is allocated.
func TestHugeShapesAreRefused(t *testing.T) {
	old := MemoryBudget
	t.Cleanup(func() { MemoryBudget = old })
	MemoryBudget = 0 // the machine's available memory

	small := Config{VocabSize: 50, BlockSize: 64, Layers: 2, Heads: 2, Width: 32}
	m, err := New(small, 1)
	require.NoError(t, err)
	_, err = m.NewGraph(GraphConfig{Batch: 1 << 40, Block: 64, Train: true})
	require.Error(t, err)
	assert.Regexp(t, `^model: a graph of batch 1099511627776 × block 64 \(width 32, vocab 50, 2 layers, 2 heads\) needs about [0-9.]+ PiB for its buffers, more than the [0-9.]+ [KMGT]iB available \(`, err.Error())
	assert.Contains(t, err.Error(), "lower the batch or block size, or the model's width or vocabulary")

	_, err = NewEngine(m, 1<<40)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "model: an engine of batch 1099511627776 (block 64, width 32, vocab 50, 2 layers) needs about")

	// The budget is settable; a normal shape over it is refused, naming the setting.
	MemoryBudget = 1 << 20
	_, err = m.NewGraph(GraphConfig{Batch: 8, Block: 64, Train: true})
	assert.EqualError(t, err, "model: a graph of batch 8 × block 64 (width 32, vocab 50, 2 layers, 2 heads) needs about "+
		formatBytes(EstimateGraphMemory(small, GraphConfig{Batch: 8, Block: 64, Train: true}))+
		" for its buffers, more than the 1.0 MiB available (model.MemoryBudget): lower the batch or block size, or the model's width or vocabulary"+
		", or recompute activations (GraphConfig.Recompute, train.Config.Recompute: about "+
		formatBytes(EstimateGraphMemory(small, GraphConfig{Batch: 8, Block: 64, Train: true, Recompute: true}))+")")
	MemoryBudget = -1 // off
	_, err = m.NewGraph(GraphConfig{Batch: 8, Block: 64, Train: true})
	assert.NoError(t, err)

	// Large vocabularies and widths are caught the same way, even where the element counts
	// overflow an int.
	huge := Config{VocabSize: 1 << 40, BlockSize: 1 << 20, Layers: 1 << 10, Heads: 1, Width: 1 << 30}
	assert.Equal(t, int64(math.MaxInt64), EstimateGraphMemory(huge, GraphConfig{Batch: 1 << 30, Block: 1 << 20, Train: true}))
	assert.Equal(t, int64(math.MaxInt64), EstimateEngineMemory(huge, 1<<30))
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 30: "5.0 GiB", math.MaxInt64: "8192.0 PiB"} {
		assert.Equal(t, want, formatBytes(n), "%d", n)
	}
}

func TestAvailableMemory(t *testing.T) {
	avail, src, ok := availableMemory()
	if !ok {
		t.Skip("no /proc/meminfo or cgroup limit here")
	}
	assert.Positive(t, avail, src)
	t.Logf("available: %s (%s)", formatBytes(avail), src)
}
