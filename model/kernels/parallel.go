// Package kernels holds the plain-Go compute kernels of the GPT: LayerNorm, GELU, fused causal
// attention, softmax cross-entropy, log-probability gathers and embeddings, each with its
// backward pass. The training graph's custom gorgonia ops (package model) and the inference
// engine call the same kernels, so training and sampling compute the same numbers.
//
// Activations are row-major float32 matrices of N = batch·block rows. Kernels write their
// outputs (they never accumulate unless a name says Accumulate) and split large work across
// the available cores.
package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Workers is the number of goroutines a kernel splits its work into. It defaults to
// GOMAXPROCS at start-up; set it to 1 to run every kernel on the calling goroutine.
var Workers = runtime.GOMAXPROCS(0)

// parallelFor runs fn over [0, n) in contiguous chunks. Work smaller than minChunk items per
// worker runs on the calling goroutine. fn must be safe to run concurrently on disjoint ranges.
//
// The chunks other than the first are queued for long-lived worker goroutines (started on
// first use), so a call costs a channel hand-off per chunk rather than a new goroutine and,
// in steady state, allocates nothing beyond fn's closure. A queued chunk that no worker has
// started by the time the caller finishes its own is run by the caller, so calls never wait
// on a busy pool, and a full queue never blocks a caller: nested or concurrent calls cannot
// deadlock.
func parallelFor(n, minChunk int, fn func(lo, hi int)) {
	w := Workers
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
		t := chunkPool.Get().(*chunkTask)
		t.fn, t.lo, t.hi = fn, lo, min(lo+chunk, n)
		t.state.Store(taskQueued) // publishes the fields above to the worker that claims it
		tasks[nt] = t
		nt++
	}
	ensureWorkers(nt)
	for _, t := range tasks[:nt] {
		select {
		case chunkCh <- t:
		default: // queue full: the loop below runs it here
		}
	}
	fn(0, min(chunk, n))
	for _, t := range tasks[:nt] {
		if t.state.CompareAndSwap(taskQueued, taskClaimed) {
			t.fn(t.lo, t.hi) // no worker got to it: run it here
		} else {
			<-t.done
		}
		t.fn = nil
		chunkPool.Put(t) // still claimed: a stale queue entry for it is skipped
	}
}

// maxChunks bounds the number of chunks one parallelFor call makes.
const maxChunks = 64

// chunkTask states.
const (
	taskClaimed int32 = iota // being run, done, or idle in the pool
	taskQueued               // waiting for a worker or the caller
)

// chunkTask is one chunk of a parallelFor call. Whoever moves state from queued to claimed
// runs it; a worker that does so signals done.
type chunkTask struct {
	fn     func(lo, hi int)
	lo, hi int
	state  atomic.Int32
	done   chan struct{}
}

var (
	chunkPool = sync.Pool{New: func() any { return &chunkTask{done: make(chan struct{}, 1)} }}
	chunkCh   = make(chan *chunkTask, 4*maxChunks)

	workersMu sync.Mutex
	workers   int
)

// ensureWorkers starts worker goroutines until n exist (at most Workers−1 are ever needed
// by one call).
func ensureWorkers(n int) {
	workersMu.Lock()
	defer workersMu.Unlock()
	for ; workers < n; workers++ {
		go func() {
			for t := range chunkCh {
				if t.state.CompareAndSwap(taskQueued, taskClaimed) {
					t.fn(t.lo, t.hi)
					t.done <- struct{}{}
				}
			}
		}()
	}
}
