package blas

import (
	"math"
	"testing"
)

// The AVX-512 6×64 kernels against the AVX2 6×16 ones, bit for bit, on every shape the
// package's other tests use (edges of 6-row and 16/64-column tiles, the decode steps'
// in-place B, products split and blocked over k), packed and in place, with small cache
// blocks so that several blocks of k and of rows are crossed: the wide kernels must change
// speed only. Also against the float64 reference, which fails if both are wrong alike.
func TestSgemmAVX512MatchesAVX2(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512F on this CPU: the 6×64 kernels are not used here")
	}
	withAVX2(t, true)
	var cases []gemmCase
	cases = append(cases, edgeCases()...)
	cases = append(cases, gemmCases()...)
	cases = append(cases, decodeCases()...)
	cases = append(cases, splitShapes()...)
	cases = append(cases, gemmCase{m: 50, n: 200, k: 70, alpha: 1, beta: 0}, gemmCase{m: 97, n: 129, k: 33, trans: true, alpha: -2, beta: 0.5})
	for _, blocking := range [][2]int{{256, 192}, {16, 12}} {
		withBlocking(t, blocking[0], blocking[1])
		for _, unpack := range []int{48, 0} {
			withUnpackMaxM(t, unpack)
			for i, tc := range cases {
				a, lda, b, ldb, c0, ldc := gemmOperands(tc, uint64(9000+i))
				if tc.nanC {
					for j := range c0 {
						c0[j] = float32(math.NaN())
					}
				}
				run := func(wide bool) []float32 {
					withAVX512(t, wide)
					c := append([]float32(nil), c0...)
					sgemmAVX2(tc.transA, tc.trans, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
					return c
				}
				narrow, wide := run(false), run(true)
				if j, ok := bitsEqual(narrow, wide); !ok {
					t.Fatalf("%v kc=%d mc=%d unpack=%d: c[%d] = %g with AVX-512, %g with AVX2", tc, blocking[0], blocking[1], unpack, j, wide[j], narrow[j])
				}
			}
		}
	}
	withAVX512(t, true)
	for i, tc := range append(edgeCases(), gemmCase{m: 50, n: 200, k: 70, alpha: 1, beta: 0}) {
		checkGemm(t, sgemmAVX2, tc, uint64(9500+i))
	}
}
