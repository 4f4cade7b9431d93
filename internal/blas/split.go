package blas

import (
	"math/bits"

	"github.com/tinychat-go/tinychat/internal/freelist"
	"github.com/tinychat-go/tinychat/internal/workpool"
)

// splitMinFlops is the smallest product (2·m·n·k) that is divided between
// goroutines: below it (about 10 µs of work) waking another goroutine costs
// more than it saves. The attention kernels' per-head products (2·64·64·32)
// stay whole; they are already spread over the cores by their caller.
const splitMinFlops = 1 << 20

// maxParts bounds the number of goroutines one product is split across.
const maxParts = 16

// minTail is the fewest rows (or columns) the last block of a split product
// may have: a smaller remainder is added to the block before it, so that no
// block is small enough to take a kernel's small-matrix path (sgemmAVX2's
// row path, rowPathMaxM) when the whole product does not.
const minTail = 8

// Determinism: a split product must give the same bits however many parts it
// is split into, so that results do not depend on GOMAXPROCS. splitSgemm,
// which divides by the number of workers, may only be given a function that
// computes every element of C the same way whatever block of C it is asked
// for (sgemmAVX2 does: TestSplitSgemmBitIdentical). splitSgemmByShape, for
// native libraries, whose kernels may depend on a call's size, divides by the
// shape alone and lets the number of workers set only how many blocks run at
// once. sgemmGo's splits by whole 64-column tiles (wideColumnSplit) and by
// 16-column panels (deepColumnSplit) call runBlocks with sgemmAVX2 directly,
// under splitSgemm's rule. Either way each
// block is one call of f on a disjoint block of C, and which goroutine runs it
// does not matter.

// gemmTask is one block of a split product, run on the shared worker pool.
type gemmTask struct {
	f              sgemmFunc
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	job            workpool.Job
}

// Run computes the block.
func (t *gemmTask) Run() {
	t.f(t.transA, t.transB, t.m, t.n, t.k, t.alpha, t.a, t.lda, t.b, t.ldb, t.beta, t.c, t.ldc)
}

var taskList freelist.List[gemmTask]

// splitSgemm computes the product with f, divided into up to parts blocks of
// rows of C (or of columns when C has few rows) that run at once: the caller
// computes the first block, worker goroutines the others. f must be safe to
// call concurrently on disjoint blocks of C and must compute each element of C
// the same way whatever block it is given (see Determinism above). Arguments
// are valid and m, n, k > 0, as for every backend. In steady state it does not
// allocate.
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
	// Blocks in multiples of 8 rows/columns keep the kernels on full tiles.
	step := (size/parts + 7) &^ 7
	runBlocks(parts, byRows, max(step, 8), f, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// splitSgemmByShape is splitSgemm for a native library: the blocks depend only
// on the product's shape — a power of two of them, up to maxParts, each at least
// shapeMinBlock rows (or columns, when C has more columns than rows) and
// splitMinFlops — and workers (the goroutines available, the caller included) sets
// only how many of them run at once; with fewer than 2 the caller runs them all in
// turn. So the library is called on the same blocks, and gives the same bits,
// whatever the number of workers.
func splitSgemmByShape(workers int, f sgemmFunc, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	splitSgemmByShapeMin(shapeMinBlock, workers, f, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// splitSgemmByShapeMin is splitSgemmByShape with blocks of at least minBlock rows or columns.
func splitSgemmByShapeMin(minBlock, workers int, f sgemmFunc, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	flops := 2 * float64(m) * float64(n) * float64(k)
	if flops < 2*splitMinFlops {
		f(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	parts := int(min(maxParts, flops/splitMinFlops))
	// Each block is a library call that packs its operands again: blocks of rows pack all
	// of op(B) (k×n) each, blocks of columns all of op(A) (m×k). Splitting the larger of m
	// and n repacks the smaller operand (GPT-2's MLP product 1024×3072×768 by columns rather
	// than rows: 108 → 118 GFLOP/s on two cores of a Zen 3 EPYC, medians of 5 alternated
	// rounds in one process, OpenBLAS 0.3.21).
	byRows := m >= n || n < 2*minBlock
	size := m
	if !byRows {
		size = n
	}
	parts = min(parts, size/minBlock)
	if parts < 2 {
		f(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	parts = 1 << (bits.Len(uint(parts)) - 1) // a power of two: as many blocks per worker on 2, 4, 8 or 16 cores
	step := ((size+parts-1)/parts + 7) &^ 7
	runBlocks(min(workers, maxParts), byRows, step, f, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// shapeMinBlock is the fewest rows (or columns) in one of splitSgemmByShape's blocks. Each
// packed element of the operand a block repacks serves that many multiply-adds: with at least
// 32, GPT-2 small's body (12 layers of width 768, 1,024 tokens) split its products into 16
// blocks of 64 rows, and the OpenBLAS step took 6.0–6.6 s, against 5.5–6.0 with blocks of at
// least 128 and 5.6–5.7 with 256 (3 alternated rounds of BenchmarkTrainingStep in ./train, two
// cores of a Zen 3 EPYC, OpenBLAS 0.3.21, session 22). BenchmarkShapeBlocks compares 32 and
// 128 product by product. 256 would leave a 768-row product (nanoGPT's shape) in 2 blocks and
// a 1,536-row one in 4; 128 keeps 4 and 8.
const shapeMinBlock = 128

// blockEnds sets bounds[i] to where block i of a split of size rows (or columns) into blocks
// of step ends (block 0 starts at 0) and returns the number of blocks: the last block is
// merged into the one before when it would have fewer than minTail, and the block after
// maxParts of them takes all that is left, so there are at most maxParts+1. step ≥ 8.
func blockEnds(size, step int, bounds *[maxParts + 1]int) int {
	nb := 0
	for lo := 0; lo < size; {
		hi := min(lo+step, size)
		if size-hi < minTail || nb == maxParts {
			hi = size
		}
		bounds[nb] = hi
		nb++
		lo = hi
	}
	return nb
}

// runBlocks computes the product with f on blocks of step rows (byRows) or
// columns of C, the last one merged into the one before when it would have
// fewer than minTail: with workers ≥ 2 the caller computes the first block and
// worker goroutines (workers-1 of them) the others, taking them from the front
// of the queue, while the caller, done with its own, takes the unclaimed ones
// from the back; else the caller computes them all in order. (Waiting for the
// blocks from the front, the caller waited on the one a worker had just taken
// while the rest queued behind it, so a product split by shape into 16 blocks
// ran on two cores at about one core's speed: 1024 × 768 × 3072 on OpenBLAS,
// "native-shape-2" in BenchmarkSgemm, 87–89 GFLOP/s, 149–154 now.) There are
// at most maxParts+1 blocks (the last takes what is left). step ≥ 8.
func runBlocks(workers int, byRows bool, step int, f sgemmFunc, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	size := m
	if !byRows {
		size = n
	}
	var bounds [maxParts + 1]int
	nb := blockEnds(size, step, &bounds)
	block := func(t *gemmTask, lo, hi int) {
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
	}
	var tasks [maxParts + 1]*gemmTask
	for i := 1; i < nb; i++ {
		t := taskList.Get()
		block(t, bounds[i-1], bounds[i])
		tasks[i] = t
	}
	if workers >= 2 {
		for _, t := range tasks[1:nb] {
			t.job.Start(t, min(workers-1, nb-1))
		}
	}
	if byRows {
		f(transA, transB, bounds[0], n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	} else {
		f(transA, transB, m, bounds[0], k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
	for i := nb - 1; i >= 1; i-- {
		t := tasks[i]
		if workers >= 2 {
			t.job.Finish()
		} else {
			t.Run()
		}
		t.a, t.b, t.c, t.f = nil, nil, nil, nil // do not keep the caller's matrices alive
		taskList.Put(t)
	}
}
