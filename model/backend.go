package model

import (
	"sync"

	"github.com/tinychat-go/tinychat/internal/blas"
	"github.com/tinychat-go/tinychat/internal/kernels"
	"github.com/tinychat-go/tinychat/internal/workpool"
)

// BLASName says which matrix-product path the model runs on: OpenBLAS (or Accelerate) found at
// run time, or the pure-Go kernel. TINYCHAT_BLAS=go forces the pure-Go path; TINYCHAT_BLAS=PATH
// names a BLAS library to load. Results are bit-identical for a given path whatever the number
// of cores, and differ between paths in the last bits.
func BLASName() string { return blas.Name() }

// SetThreads sets how many goroutines one operation of a graph, the inference engine or the
// optimizer splits its work into — the matrix products and the element-wise kernels; n ≤ 0
// restores the default (GOMAXPROCS). Results are the same bits whatever n is; only speed
// changes. Two trainings at once on a 2-core machine run faster with 1 each than with 2 each
// (the examples/tinychat pipeline trains its direct-answer ablation beside SFT that way). Safe
// to call while other goroutines compute: an operation already running keeps its split.
func SetThreads(n int) {
	kernels.SetWorkers(n)
	blas.SetThreads(n)
}

// Threads reports the number of goroutines one operation splits its work into (see
// SetThreads).
func Threads() int { return kernels.Workers() }

// KeepThreadsAwake keeps the goroutines that take the other parts of each operation
// (SetThreads) awake between operations until release is called: an idle one looks for the
// next part for a millisecond before it sleeps, yielding its core to any other ready goroutine
// as it looks. Calls may nest and overlap; release may be called more than once. A graph's Run
// keeps them awake while it runs: on the 2-core development machine (a virtual machine) a
// sleeping goroutine took over 100 µs to wake, longer than most parts of a small model's
// operations, so without it most of them ran on one core. An Engine's decoding does not, as a
// server's lanes decode side by side on every core, where an awake helper holds a core the
// others need (9% fewer tokens a second in serve's benchmark); call it around decoding that
// has the machine to itself, such as an evaluation (examples/tinychat's took 43–47 s without
// it, 36–39 s with it). Results are the same bits either way.
func KeepThreadsAwake() (release func()) {
	workpool.Hold()
	var once sync.Once
	return func() { once.Do(workpool.Release) }
}
