package kernels

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/internal/racecheck"
)

// funcArgs carries a closure through parallelFor, for tests.
type funcArgs struct{ fn func(lo, hi int) }

var funcTasks tasks[funcArgs]

// parallelForFunc is parallelFor over a closure.
func parallelForFunc(n, minChunk int, fn func(lo, hi int)) {
	funcTasks.parallelFor(n, minChunk, funcArgs{fn}, func(a *funcArgs, lo, hi int) { a.fn(lo, hi) })
}

// TestKernelsNoAllocs: once warmed up, no kernel a training step runs allocates, on one or two
// workers, on the assembly kernels and on the Go loops (a closure handed to parallelFor made
// about 50 allocations per step).
func TestKernelsNoAllocs(t *testing.T) {
	if racecheck.Enabled() {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	t.Cleanup(func() { SetWorkers(0) })
	k := newKernelCase()
	for _, p := range lnPaths() {
		if !p.available {
			continue
		}
		p.use(t)
		for _, w := range []int{1, 2} {
			SetWorkers(w)
			k.run()
			if allocs := testing.AllocsPerRun(20, k.run); allocs != 0 {
				t.Errorf("%s, %d workers: %v allocations per run of every kernel", p.name, w, allocs)
			}
		}
	}
}

func TestParallelForCoversRange(t *testing.T) {
	defer SetWorkers(0)
	for _, w := range []int{1, 2, 3, 8} {
		SetWorkers(w)
		for _, n := range []int{0, 1, 5, 17, 1000} {
			seen := make([]int32, n)
			parallelForFunc(n, 1, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					seen[i]++
				}
			})
			for i, c := range seen {
				require.Equal(t, int32(1), c, "workers %d n %d index %d", w, n, i)
			}
		}
	}
}

// Nested and concurrent calls finish (a caller runs chunks no worker has started) and still
// cover every index exactly once.
func TestParallelForNestedAndConcurrent(t *testing.T) {
	defer SetWorkers(0)
	SetWorkers(4)
	const outer, inner = 16, 64
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 50; rep++ {
				var seen [outer * inner]atomic.Int32
				parallelForFunc(outer, 1, func(lo, hi int) {
					for o := lo; o < hi; o++ {
						parallelForFunc(inner, 1, func(lo, hi int) {
							for i := lo; i < hi; i++ {
								seen[o*inner+i].Add(1)
							}
						})
					}
				})
				for i := range seen {
					if c := seen[i].Load(); c != 1 {
						t.Errorf("index %d seen %d times", i, c)
						return
					}
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("nested parallelFor calls did not finish (deadlock)")
	}
}
