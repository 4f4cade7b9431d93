//go:build !amd64

package blas

// haveAVX2FMA is false off amd64: sgemmGo always runs sgemmSSE.
const haveAVX2FMA = false

// sgemmAVX2 exists only so that the package and its tests build on every
// architecture; it is never called when haveAVX2FMA is false.
func sgemmAVX2(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	panic("blas: AVX2 kernel called on a non-amd64 architecture")
}

// The AVX2 path's cache blocking (see gemm_amd64.go); unused here, declared
// so that the package's tests build on every architecture.
var gemmKC, gemmMC = 256, 192

// sgemmRowsAVX2 exists only so that the package builds on every architecture;
// it is never called when haveAVX2FMA is false.
func sgemmRowsAVX2(transA bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	panic("blas: AVX2 kernel called on a non-amd64 architecture")
}

// unpackMaxM is declared so that the package's tests build on every architecture.
var unpackMaxM = 48

// rowPathMaxM is declared so that the package's tests build on every architecture.
const rowPathMaxM = 5

// autoPrefersPureGo is false off amd64: the pure-Go path there has no assembly micro-kernel,
// and a native library (Accelerate, OpenBLAS) is faster.
var autoPrefersPureGo = func() bool { return false }

// haveAVX512 and useAVX512 are false off amd64 (no AVX-512 kernels); declared
// so that the package's tests build on every architecture.
const haveAVX512 = false

var useAVX512 = false

// readAInPlace is declared so that the package's tests build on every architecture.
var readAInPlace = true

// wideColumnSplit is never true off amd64 (no AVX-512 kernels).
func wideColumnSplit(transB bool, m, n, k, parts int) (step int, ok bool) { return 0, false }

// deepColumnSplit is never true off amd64 (it splits for the AVX2 kernels).
func deepColumnSplit(transB bool, m, n, k, parts int) (step int, ok bool) { return 0, false }

// sharedSgemm never runs off amd64 (it computes with the AVX2 kernels).
func sharedSgemm(parts int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) bool {
	return false
}

// triangularFits is false off amd64: SgemmTriangularSerial leaves the product to its caller.
func triangularFits(m, n int) bool { return false }

// sgemmTriangularAVX2 is never called off amd64 (triangularFits is false).
func sgemmTriangularAVX2(upper, transA bool, m, n int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	panic("blas: AVX2 kernel called on a non-amd64 architecture")
}
