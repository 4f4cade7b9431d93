// Package workpool runs parts of one computation on long-lived worker goroutines, for the
// kernels and the matrix multiply that split their work across cores. A part handed to the
// pool is run by whichever comes first: an idle worker, or the caller when it comes to wait
// for it. So a caller never waits on a busy pool, and nested or concurrent use cannot
// deadlock. In steady state nothing is allocated.
//
// While a caller holds the pool (Hold, as model.Graph.Run does for a training step's burst of
// parts), an idle worker looks for the next part for a while (DefaultSpin, 1 ms) before it
// sleeps, yielding its core to any other ready goroutine as it looks, and a caller waiting for
// a worker's part looks the same way: a sleeping worker takes longer to wake (over 100 µs on
// the development machine) than most parts of a small model's step take to compute
// (BenchmarkWakeAfterPause). Which goroutine runs a part never changes its result.
package workpool
