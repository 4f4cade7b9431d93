//go:build !amd64

package blas

// useBF16 is always false off amd64: SgemmBF16 rounds copies of its operands and
// runs the float32 product.
var useBF16 = false

// sbgemmAVX512 exists only so that the package builds on every architecture;
// it is never called when useBF16 is false.
func sbgemmAVX512(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	panic("blas: AVX512-BF16 kernel called on a non-amd64 architecture")
}

// haveBF16 is false off amd64 (no bf16 kernels).
const haveBF16 = false

// cvtPairsBF16 and interleaveBF16 exist only so that the package's tests build on every
// architecture; they are never called when haveBF16 is false.
func cvtPairsBF16(n int, src *float32, dst *uint32) {
	panic("blas: AVX512-BF16 conversion called on a non-amd64 architecture")
}

func interleaveBF16(n int, lo, hi *float32, dst *uint32) {
	panic("blas: AVX512-BF16 conversion called on a non-amd64 architecture")
}
