package kernels

import (
	"runtime"
	"sync/atomic"

	"github.com/tinychat-go/tinychat/internal/freelist"
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

// maxChunks bounds the number of chunks one parallelFor call makes.
const maxChunks = 64

// tasks is the pool of chunk tasks of the kernels whose arguments are an A. Declare one
// package-level tasks per argument type and call its parallelFor.
type tasks[A any] struct{ list freelist.List[task[A]] }

// task is one chunk of a parallelFor call: fn over [lo, hi) with its copy of the arguments.
type task[A any] struct {
	args   A
	fn     func(a *A, lo, hi int)
	lo, hi int
	job    workpool.Job
}

// Run runs the chunk.
func (t *task[A]) Run() { t.fn(&t.args, t.lo, t.hi) }

// get returns a pooled task for fn over [lo, hi) with a copy of *args.
func (p *tasks[A]) get(args *A, fn func(*A, int, int), lo, hi int) *task[A] {
	t := p.list.Get()
	t.args, t.fn, t.lo, t.hi = *args, fn, lo, hi
	return t
}

// put returns t to the pool, dropping its references to the kernel's buffers.
func (p *tasks[A]) put(t *task[A]) {
	var zero A
	t.args, t.fn = zero, nil
	p.list.Put(t)
}

// parallelFor runs fn(a, lo, hi) over [0, n) in contiguous chunks, a pointing to a copy of args.
// Work smaller than minChunk items per worker runs on the calling goroutine. fn must be safe to
// run concurrently on disjoint ranges, and must compute each item's result the same way
// whatever range it is given — no sums across items whose grouping follows the chunks — so
// that results do not depend on Workers or on which goroutine ran which chunk
// (TestKernelsIndependentOfWorkers checks every kernel).
//
// fn should be a function, or a function literal that captures nothing, which reads its
// inputs from a: the arguments travel in pooled tasks rather than in a closure, so in steady
// state a call allocates nothing (a training step makes about 50 of them;
// TestKernelsNoAllocs). The chunks other than the first go to the shared worker pool
// (internal/workpool): a call costs a hand-off per chunk rather than a new goroutine, and
// nested or concurrent calls cannot deadlock.
func (p *tasks[A]) parallelFor(n, minChunk int, args A, fn func(a *A, lo, hi int)) {
	w := Workers()
	if minChunk < 1 {
		minChunk = 1
	}
	w = max(min(w, n/minChunk, maxChunks), 1)
	chunk := (n + w - 1) / w
	var parts [maxChunks]*task[A]
	nt := 0
	for lo := chunk; lo < n; lo += chunk {
		parts[nt] = p.get(&args, fn, lo, min(lo+chunk, n))
		nt++
	}
	for _, t := range parts[:nt] {
		t.job.Start(t, nt)
	}
	first := p.get(&args, fn, 0, min(chunk, n))
	first.Run()
	p.put(first)
	for _, t := range parts[:nt] {
		t.job.Finish()
		p.put(t)
	}
}
