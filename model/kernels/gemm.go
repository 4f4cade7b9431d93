package kernels

import "github.com/tinychat-go/tinychat/model/blas"

// gemmSplitFlops is the work (m·n·k multiply-adds) above which Gemm splits a product across
// Workers. Below it one call on the calling goroutine is faster than the hand-off.
var gemmSplitFlops = 1 << 20

// Gemm computes C = alpha·op(A)·op(B) + beta·C (row-major, as blas.Sgemm) and, for large
// products, splits C into Workers blocks of rows (or columns, when C is wide) computed
// concurrently, each by a single-threaded BLAS call. This keeps both cores busy without the
// BLAS library's own threads, which would compete with the kernels' goroutines.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	w := Workers
	if w <= 1 || m*n*k < gemmSplitFlops {
		blas.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if m >= n {
		parallelFor(m, 16, func(lo, hi int) {
			aOff := lo * lda // rows of A
			if transA {
				aOff = lo // columns of the stored Aᵀ
			}
			blas.Sgemm(transA, transB, hi-lo, n, k, alpha, a[aOff:], lda, b, ldb, beta, c[lo*ldc:], ldc)
		})
		return
	}
	parallelFor(n, 16, func(lo, hi int) {
		bOff := lo // columns of B
		if transB {
			bOff = lo * ldb // rows of the stored Bᵀ
		}
		blas.Sgemm(transA, transB, m, hi-lo, k, alpha, a, lda, b[bOff:], ldb, beta, c[lo:], ldc)
	})
}

// SetGemmSplit turns the splitting of large products on or off (for measurements).
func SetGemmSplit(on bool) {
	if on {
		gemmSplitFlops = 1 << 20
	} else {
		gemmSplitFlops = 1 << 62
	}
}
