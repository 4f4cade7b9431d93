package blas

import (
	"math"
	"sync"
)

// bf16Bits rounds f to bfloat16 as the CPU's VCVTNEPS2BF16 does, returning the
// 16 bits: round to nearest even, zeros and denormals to a zero of the same
// sign, NaN to a quiet NaN, infinities kept.
func bf16Bits(f float32) uint32 {
	b := math.Float32bits(f)
	switch {
	case b&0x7f800000 == 0: // zero or denormal
		return (b >> 16) & 0x8000
	case b&0x7fffffff > 0x7f800000: // NaN
		return (b >> 16) | 0x40
	}
	return (b + 0x7fff + (b>>16)&1) >> 16
}

// RoundBF16 returns f rounded to the nearest bfloat16 value (8 significant
// bits, round to nearest even; denormals become zero), as a float32: the
// value SgemmBF16 multiplies in place of f.
func RoundBF16(f float32) float32 { return math.Float32frombits(bf16Bits(f) << 16) }

// HasBF16 reports whether SgemmBF16 runs on the CPU's bfloat16 dot-product
// instructions (AVX512-BF16 on amd64). Without them SgemmBF16 gives the same
// values up to float32 rounding (the order of additions; the instructions
// flush denormal sums to zero), more slowly than Sgemm: it rounds copies of
// the operands first.
func HasBF16() bool { return useBF16 }

// SgemmBF16 is Sgemm with every element of op(A) and op(B) rounded to
// bfloat16 (RoundBF16) and the exact products summed in float32: the matrix
// product of bf16 mixed-precision training, half the memory traffic per
// operand and, with HasBF16, twice the multiply-adds per instruction of the
// float32 kernels. A and B are not modified. Where the CPU has no bf16
// instructions it rounds copies of A and B and calls Sgemm.
//
// Results depend on the CPU's instruction set, never on GOMAXPROCS: products
// are split across goroutines as Sgemm's pure-Go path splits them, with the
// same arithmetic for every element whatever its block. It panics on bad
// arguments as Sgemm does.
func SgemmBF16(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if useBF16 {
		sgemmWith(sbgemmGo, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	sgemmWith(sbgemmRounded, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sbgemmGo splits a bf16 product across goroutines (see split.go); the
// arguments are valid and m, n, k > 0.
func sbgemmGo(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	splitSgemm(goParts(), sbgemmAVX512, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// roundedBufs holds the rounded copies of A and B of one sbgemmRounded call.
type roundedBufs struct {
	a, b []float32
}

// roundedPool recycles the rounded copies of sbgemmRounded.
var roundedPool = sync.Pool{New: func() any { return new(roundedBufs) }}

// sbgemmRounded is SgemmBF16 without bf16 instructions: it rounds copies of
// the stored A and B (their rows × cols parts, strides kept) and calls the
// float32 backend.
func sbgemmRounded(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	aRows, aCols := m, k
	if transA {
		aRows, aCols = k, m
	}
	bRows, bCols := k, n
	if transB {
		bRows, bCols = n, k
	}
	bufs := roundedPool.Get().(*roundedBufs)
	bufs.a = roundedCopy(bufs.a, a, aRows, aCols, lda)
	bufs.b = roundedCopy(bufs.b, b, bRows, bCols, ldb)
	current().sgemm(transA, transB, m, n, k, alpha, bufs.a, lda, bufs.b, ldb, beta, c, ldc)
	roundedPool.Put(bufs)
}

// roundedCopy returns the rows×cols matrix x (row stride ld) rounded to
// bfloat16, with the same stride, in dst's storage when it is large enough.
func roundedCopy(dst, x []float32, rows, cols, ld int) []float32 {
	need := (rows-1)*ld + cols
	if cap(dst) < need {
		dst = make([]float32, need)
	}
	dst = dst[:need]
	for i := 0; i < rows; i++ {
		src := x[i*ld:][:cols]
		out := dst[i*ld:][:cols]
		for j, v := range src {
			out[j] = RoundBF16(v)
		}
	}
	return dst
}
