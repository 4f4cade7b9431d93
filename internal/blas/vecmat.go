package blas

import (
	"fmt"

	gblas "gonum.org/v1/gonum/blas"
)

// VecMat computes y = x·W for one row x of length k and W a row-major [k, m]
// matrix (a layer's [in, out] weight), y of length m: the product of a
// decode step of one sequence.
//
// It runs the pure-Go AVX2 row kernel (the one Sgemm's pure-Go backend uses
// for products of a few rows) where the CPU has AVX2 and FMA, whatever
// backend Sgemm uses, and gonum's SSE kernels elsewhere: a native library's
// general product of one row costs more in setup than the product itself
// (BenchmarkVecMat on the 2-core AMD EPYC: 128×512 in 4.3 µs, against 10-11
// µs with gonum's Sgemv and 24 µs with OpenBLAS's Sgemm). y has the same bits as each row of a pure-Go Sgemm of up
// to 5 rows (its row path). It does not allocate in steady state.
func VecMat(x, w []float32, k, m int, y []float32) {
	if k < 0 || m < 0 || len(x) < k || len(w) < k*m || len(y) < m {
		panic(fmt.Sprintf("blas: VecMat of k=%d m=%d with len(x)=%d len(w)=%d len(y)=%d", k, m, len(x), len(w), len(y)))
	}
	if m == 0 {
		return
	}
	if k == 0 {
		clear(y[:m])
		return
	}
	if useAVX2 {
		sgemmRowsAVX2(false, 1, m, k, 1, x, k, w, m, 0, y, m)
		return
	}
	l1.Sgemv(gblas.Trans, k, m, 1, w[:k*m], m, x[:k], 1, 0, y[:m], 1)
}

// DecodeMaxRows is the most rows DecodeSgemm runs on the pure-Go kernels.
const DecodeMaxRows = 16

// DecodeSgemm computes C = A·B for contiguous row-major A [m, k], B [k, n] and
// C [m, n]: the products of a KV-cache decode step, m rows (one per sequence,
// or a short prompt chunk) times a layer's weight.
//
// Products of up to DecodeMaxRows rows run on the pure-Go AVX2 kernels
// whatever Sgemm's backend (where the CPU has AVX2 and FMA): at so few rows
// they beat a native library's general product (BenchmarkDecode: OpenBLAS on
// one thread does 10-37 GFLOP/s at 2-8 rows of the tinychat model's products,
// the pure-Go kernels 29-49), and one row is VecMat. Larger products go to
// Sgemm. Like Sgemm, the bits do not depend on GOMAXPROCS.
func DecodeSgemm(m, n, k int, a, b, c []float32) {
	if m == 1 {
		VecMat(a, b, k, n, c)
		return
	}
	if !useAVX2 || m > DecodeMaxRows {
		Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
		return
	}
	sgemmWith(sgemmGo, false, false, m, n, k, 1, a, k, b, n, 0, c, n)
}
