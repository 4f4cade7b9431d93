package blas

import (
	"sync"

	"github.com/tinychat-go/tinychat/internal/workpool"
)

// splitMinFlops is the smallest product (2·m·n·k) that splitSgemm divides
// between goroutines: below it (about 10 µs of work) waking another goroutine
// costs more than it saves. The attention kernels' per-head products (2·64·64·32)
// stay whole; they are already spread over the cores by their caller.
const splitMinFlops = 1 << 20

// maxParts bounds the number of parts one product is split into.
const maxParts = 16

// gemmTask is one part of a split product, run on the shared worker pool.
type gemmTask struct {
	f              sgemmFunc
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	job            workpool.Job
}

// Run computes the part.
func (t *gemmTask) Run() {
	t.f(t.transA, t.transB, t.m, t.n, t.k, t.alpha, t.a, t.lda, t.b, t.ldb, t.beta, t.c, t.ldc)
}

var taskPool = sync.Pool{New: func() any { return new(gemmTask) }}

// splitSgemm computes the product with f, divided into up to parts blocks of
// rows of C (or of columns when C has few rows) that run at once: the caller
// computes the first block, worker goroutines the others. f must be safe to
// call concurrently on disjoint blocks of C (a native library set to one
// thread is). Arguments are valid and m, n, k > 0, as for every backend. In
// steady state it does not allocate.
func splitSgemm(parts int, f sgemmFunc, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	parts = min(parts, maxParts)
	if parts < 2 || 2*float64(m)*float64(n)*float64(k) < splitMinFlops {
		f(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	byRows := m >= 8*parts || m >= n
	size := m
	if !byRows {
		size = n
	}
	// Blocks in multiples of 8 rows/columns keep the library's kernels on full tiles.
	step := (size/parts + 7) &^ 7
	if step == 0 {
		step = 8
	}
	var tasks [maxParts]*gemmTask
	nt := 0
	for lo := step; lo < size; lo += step {
		hi := min(lo+step, size)
		t := taskPool.Get().(*gemmTask)
		t.f, t.transA, t.transB, t.k, t.alpha, t.beta = f, transA, transB, k, alpha, beta
		t.lda, t.ldb, t.ldc = lda, ldb, ldc
		if byRows {
			t.m, t.n, t.b, t.c = hi-lo, n, b, c[lo*ldc:]
			if transA { // op(A) rows are columns of A
				t.a = a[lo:]
			} else {
				t.a = a[lo*lda:]
			}
		} else {
			t.m, t.n, t.a, t.c = m, hi-lo, a, c[lo:]
			if transB { // op(B) columns are rows of B
				t.b = b[lo*ldb:]
			} else {
				t.b = b[lo:]
			}
		}
		tasks[nt] = t
		nt++
	}
	for _, t := range tasks[:nt] {
		t.job.Start(t, nt)
	}
	if byRows {
		f(transA, transB, min(step, m), n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	} else {
		f(transA, transB, m, min(step, n), k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
	for _, t := range tasks[:nt] {
		t.job.Finish()
		t.a, t.b, t.c, t.f = nil, nil, nil, nil // do not keep the caller's matrices alive
		taskPool.Put(t)
	}
}
