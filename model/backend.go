package model

import (
	"github.com/tinychat-go/tinychat/internal/blas"
	"github.com/tinychat-go/tinychat/internal/kernels"
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
