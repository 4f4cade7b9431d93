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
)

// Workers is the number of goroutines a kernel splits its work into. It defaults to
// GOMAXPROCS at start-up; set it to 1 to run every kernel on the calling goroutine.
var Workers = runtime.GOMAXPROCS(0)

// parallelFor runs fn over [0, n) in contiguous chunks. Work smaller than minChunk items per
// worker runs on the calling goroutine. fn must be safe to run concurrently on disjoint ranges.
func parallelFor(n, minChunk int, fn func(lo, hi int)) {
	w := Workers
	if minChunk < 1 {
		minChunk = 1
	}
	if max := n / minChunk; w > max {
		w = max
	}
	if w <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	wg.Add(w - 1)
	chunk := (n + w - 1) / w
	for i := 1; i < w; i++ {
		lo, hi := i*chunk, min((i+1)*chunk, n)
		go func() {
			defer wg.Done()
			if lo < hi {
				fn(lo, hi)
			}
		}()
	}
	fn(0, min(chunk, n))
	wg.Wait()
}
