package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/tinychat-go/tinychat/internal/workpool"
)

// workers is SetWorkers' setting; 0 means defaultWorkers.
var workers atomic.Int32

// defaultWorkers is GOMAXPROCS at start-up.
var defaultWorkers = runtime.GOMAXPROCS(0)

// SetWorkers sets the number of goroutines a kernel splits its work into; n ≤ 0 restores the
// default, GOMAXPROCS at start-up. 1 runs every kernel on the calling goroutine. Safe to call while
// kernels run on other goroutines (a call already running keeps its split); results do not
// depend on it.
func SetWorkers(n int) { workers.Store(int32(max(n, 0))) }

// Workers is the number of goroutines a kernel splits its work into (see SetWorkers).
func Workers() int {
	if w := workers.Load(); w > 0 {
		return int(w)
	}
	return defaultWorkers
}

// parallelFor runs fn over [0, n) in contiguous chunks. Work smaller than minChunk items per
// worker runs on the calling goroutine. fn must be safe to run concurrently on disjoint ranges,
// and must compute each item's result the same way whatever range it is given — no sums across
// items whose grouping follows the chunks — so that results do not depend on Workers or on
// which goroutine ran which chunk (TestKernelsIndependentOfWorkers checks every kernel).
//
// The chunks other than the first go to the shared worker pool (internal/workpool): a call
// costs a hand-off per chunk rather than a new goroutine and, in steady state, allocates
// nothing beyond fn's closure; nested or concurrent calls cannot deadlock.
func parallelFor(n, minChunk int, fn func(lo, hi int)) {
	w := Workers()
	if minChunk < 1 {
		minChunk = 1
	}
	if max := n / minChunk; w > max {
		w = max
	}
	w = min(w, maxChunks)
	if w <= 1 {
		fn(0, n)
		return
	}
	chunk := (n + w - 1) / w
	var tasks [maxChunks]*chunkTask
	nt := 0
	for lo := chunk; lo < n; lo += chunk {
		tasks[nt] = chunkPool.Get().(*chunkTask)
		nt++
	}
	for i, t := range tasks[:nt] {
		lo := (i + 1) * chunk
		t.fn, t.lo, t.hi = fn, lo, min(lo+chunk, n)
		t.job.Start(t, nt)
	}
	fn(0, min(chunk, n))
	for _, t := range tasks[:nt] {
		t.job.Finish()
		t.fn = nil
		chunkPool.Put(t)
	}
}

// maxChunks bounds the number of chunks one parallelFor call makes.
const maxChunks = 64

// chunkTask is one chunk of a parallelFor call.
type chunkTask struct {
	fn     func(lo, hi int)
	lo, hi int
	job    workpool.Job
}

// Run runs the chunk.
func (t *chunkTask) Run() { t.fn(t.lo, t.hi) }

var chunkPool = sync.Pool{New: func() any { return new(chunkTask) }}
