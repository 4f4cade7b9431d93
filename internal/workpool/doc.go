// Package workpool runs parts of one computation on long-lived worker goroutines, for the
// kernels and the matrix multiply that split their work across cores. A part handed to the
// pool is run by whichever comes first: an idle worker, or the caller when it comes to wait
// for it. So a caller never waits on a busy pool, and nested or concurrent use cannot
// deadlock. In steady state nothing is allocated.
package workpool
