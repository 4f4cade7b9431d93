package kernels

import (
	"sync"

	"github.com/tinychat-go/tinychat/internal/workpool"
)

// addMinChunk is the fewest elements per goroutine for Add: below it (a few µs of work) the
// hand-off costs more than it saves.
const addMinChunk = 16384

// Add sets out[i] = x[i] + y[i] for every i < len(out) (x and y at least as long; out may be
// x or y), on the cores (see SetWorkers) and, with AVX2, 8 lanes at a time: a residual
// connection's sum, or two gradient contributions to one node. Each element is one rounded
// addition wherever it lies, so the bits do not depend on the split. In steady state it does
// not allocate (a training step runs it for every residual sum).
func Add(out, x, y []float32) {
	n := len(out)
	x, y = x[:n], y[:n]
	w := min(Workers(), n/addMinChunk, maxChunks)
	if w <= 1 {
		addRange(out, x, y)
		return
	}
	chunk := (n + w - 1) / w
	var tasks [maxChunks]*addTask
	nt := 0
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		t := addPool.Get().(*addTask)
		t.out, t.x, t.y = out[lo:hi], x[lo:hi], y[lo:hi]
		tasks[nt] = t
		nt++
	}
	for _, t := range tasks[:nt] {
		t.job.Start(t, nt)
	}
	addRange(out[:chunk], x[:chunk], y[:chunk])
	for _, t := range tasks[:nt] {
		t.job.Finish()
		t.out, t.x, t.y = nil, nil, nil
		addPool.Put(t)
	}
}

// addTask is one chunk of an Add call on the worker pool (a struct rather than a closure, so
// that a call allocates nothing).
type addTask struct {
	out, x, y []float32
	job       workpool.Job
}

// Run adds the chunk.
func (t *addTask) Run() { addRange(t.out, t.x, t.y) }

var addPool = sync.Pool{New: func() any { return new(addTask) }}

// addRange is Add on the calling goroutine.
func addRange(out, x, y []float32) {
	if len(out) == 0 {
		return
	}
	x, y = x[:len(out)], y[:len(out)]
	if useAVX2 {
		addAVX2(&out[0], &x[0], &y[0], len(out))
		return
	}
	for i := range out {
		out[i] = x[i] + y[i]
	}
}
