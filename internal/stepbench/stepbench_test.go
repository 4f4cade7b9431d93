package stepbench

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/internal/blas"
	"github.com/tinychat-go/tinychat/internal/kernels"
	"github.com/tinychat-go/tinychat/internal/racecheck"
	"github.com/tinychat-go/tinychat/model"
)

func TestShape(t *testing.T) {
	sh, err := ParseShape("4,4,128,64,12")
	require.NoError(t, err)
	require.Equal(t, NanoGPT, sh)
	require.Equal(t, "4,4,128,64,12", sh.String())
	require.Equal(t, 768, sh.Tokens())
	// 6·(params − wpe)·tokens + 12·T·C·tokens·layers, by hand for nanoGPT's shape:
	// params 65·128 + 64·128 + 4·(12·128² + 4·128) + 2·128 = 805,248 (tied head).
	c := sh.Config()
	require.Equal(t, 805_248, c.NumParams())
	require.Equal(t, 6*float64(805_248-64*128)*768+12*float64(64*128)*768*4, sh.FLOPs())
	_, err = ParseShape("4,4,130,64,12")
	require.ErrorContains(t, err, `shape "4,4,130,64,12": `)
}

// A step of a tiny shape runs (its arithmetic is tested by the model and train packages).
func TestStepRuns(t *testing.T) {
	step, err := New(Shape{Layers: 1, Heads: 2, Width: 16, Block: 8, Batch: 2}, 1)
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, step())
	}
}

// TestStepNoAllocs: once warmed up, a whole training step — zeroing the gradients, the graph's
// forward and backward passes, clipping and AdamW — allocates nothing, with and without
// activation recomputation and with bf16 products, at a shape whose kernels and products split
// into two parts.
// (Closures handed to the kernels' worker pool made 50 allocations per step before session
// 22.) It runs on one processor with the garbage collector off while it counts: the matrix
// multiply keeps its packing buffers in a sync.Pool, which empties at each collection and,
// while goroutines move between processors, can allocate until its per-processor caches
// settle — allocations that are not the step's own (BenchmarkTrainingStep in ./train reports
// 0 allocs/op on two processors). Even so a packing buffer is sometimes allocated again, when
// the worker goroutines happen to hold more buffers at once than they did before (1 in 3 runs
// on session 23's Zen 5, a -memprofilerate 1 profile showing only blas.alignedFloats and
// sync.Pool's own chain): so the count of 10 steps is taken up to four times, and the step
// passes when one of them is zero — an allocation of the step's own is in every count.
func TestStepNoAllocs(t *testing.T) {
	if racecheck.Enabled() {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	t.Cleanup(func() { kernels.SetWorkers(0); blas.SetThreads(0) })
	kernels.SetWorkers(2)
	blas.SetThreads(2)
	for _, opts := range []Options{{}, {Recompute: true}, {Precision: model.BF16}} {
		step, err := NewWith(Shape{Layers: 2, Heads: 2, Width: 64, Block: 64, Batch: 4}, 1, opts)
		require.NoError(t, err)
		// Warm up: the pooled packing buffers grow to the sizes the step's products need, and
		// come back from the pool's victim cache after the collection the warm-up's garbage
		// may have started.
		for range 3 {
			require.NoError(t, step())
		}
		runtime.GC()
		for range 2 {
			require.NoError(t, step())
		}
		gc := debug.SetGCPercent(-1)
		var counts []float64
		for range 4 { // a step's own allocations recur in every count; the pool's settle
			allocs := testing.AllocsPerRun(10, func() {
				if err := step(); err != nil {
					t.Fatal(err)
				}
			})
			counts = append(counts, allocs)
			if allocs == 0 {
				break
			}
		}
		debug.SetGCPercent(gc)
		require.Zero(t, counts[len(counts)-1], "allocations per step with %+v, in each count of 10 steps: %v", opts, counts)
	}
}
