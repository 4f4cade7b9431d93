package blas

import (
	"math"
	"testing"
)

// The AVX-512 6×64 kernels against the AVX2 6×16 ones, bit for bit, on every shape the
// package's other tests use (edges of 6-row and 16/64-column tiles, the decode steps'
// in-place B, products split and blocked over k), B packed and in place, A packed and read in
// place, with small cache blocks so that several blocks of k and of rows are crossed: the
// wide kernels must change speed only. Also against the float64 reference, which fails if both are wrong alike.
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
	cases = append(cases, gemmCase{m: 50, n: 200, k: 70, alpha: 1, beta: 0}, gemmCase{m: 97, n: 129, k: 33, trans: true, alpha: -2, beta: 0.5},
		// Whole 64-column tiles, where A is read in place (rows past a multiple of 6 packed).
		gemmCase{m: 50, n: 128, k: 70, padA: 3, alpha: 1, beta: 0}, gemmCase{m: 97, n: 192, k: 33, transA: true, padA: 1, alpha: -2, beta: 0.5},
		gemmCase{m: 130, n: 64, k: 300, transA: true, trans: true, alpha: 0.5, beta: 1}, gemmCase{m: 5, n: 64, k: 9, trans: true, alpha: 1, beta: 0},
		gemmCase{m: 60, n: 256, k: 17, padC: 2, alpha: 1.5, beta: -1})
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
				run := func(wide, aInPlace bool) []float32 {
					withAVX512(t, wide)
					withReadAInPlace(t, aInPlace)
					c := append([]float32(nil), c0...)
					sgemmAVX2(tc.transA, tc.trans, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
					return c
				}
				narrow := run(false, false)
				for _, aInPlace := range []bool{false, true} {
					wide := run(true, aInPlace)
					if j, ok := bitsEqual(narrow, wide); !ok {
						t.Fatalf("%v kc=%d mc=%d unpack=%d, A read in place %v: c[%d] = %g with AVX-512, %g with AVX2", tc, blocking[0], blocking[1], unpack, aInPlace, j, wide[j], narrow[j])
					}
				}
			}
		}
	}
	withAVX512(t, true)
	withReadAInPlace(t, true)
	for i, tc := range append(edgeCases(), cases[len(cases)-5:]...) {
		checkGemm(t, sgemmAVX2, tc, uint64(9500+i))
	}
}

// Products that sgemmGo splits by whole 64-column tiles (wideColumnSplit) give the bits of
// the product computed whole, for any number of goroutines.
func TestWideColumnSplitBitIdentical(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512F on this CPU: the column split of the 6×64 kernels is not used here")
	}
	withAVX2(t, true)
	withAVX512(t, true)
	withReadAInPlace(t, true)
	for i, tc := range []gemmCase{
		{m: 128, n: 384, k: 300, transA: true, alpha: 1, beta: 1},
		{m: 200, n: 128, k: 64, trans: true, padC: 3, alpha: 0.5, beta: 0},
		{m: 61, n: 640, k: 129, padA: 2, alpha: -1, beta: 0.25},
	} {
		a, lda, b, ldb, c0, ldc := gemmOperands(tc, uint64(40+i))
		want := append([]float32(nil), c0...)
		sgemmAVX2(tc.transA, tc.trans, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
		for _, p := range []int{2, 3, 5} {
			if _, ok := wideColumnSplit(tc.trans, tc.m, tc.n, tc.k, p); !ok && p == 2 {
				t.Fatalf("%v: the case should take the column split", tc)
			}
			withProcs(t, p)
			got := append([]float32(nil), c0...)
			sgemmGo(tc.transA, tc.trans, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
			if j, ok := bitsEqual(want, got); !ok {
				t.Errorf("%v on %d goroutines: c[%d] = %g, whole gives %g", tc, p, j, got[j], want[j])
			}
		}
	}
}
