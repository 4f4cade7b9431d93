//go:build amd64

package blas

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tinychat-go/tinychat/internal/racecheck"
)

// TestSharedSgemmBitIdentical: a product whose blocks of rows share one packed op(B) gives the
// bits of sgemmAVX2 over the whole product, for any number of parts, both transpositions and
// several blocks of k; and it declines the products it is not for.
func TestSharedSgemmBitIdentical(t *testing.T) {
	skipWithoutAVX2(t)
	withAVX2(t, true)
	used := 0
	for i, tc := range splitShapes() {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				tc.transA, tc.trans = tA, tB
				a, lda, b, ldb, c0, ldc := gemmOperands(tc, uint64(i))
				want := append([]float32(nil), c0...)
				sgemmAVX2(tA, tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
				for _, parts := range []int{1, 2, 3, 5, 7, 16} {
					got := append([]float32(nil), c0...)
					ok := sharedSgemm(parts, tA, tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
					if !ok {
						if j, same := bitsEqual(c0, got); !same {
							t.Fatalf("%s, %d parts: declined but wrote c[%d]", tc, parts, j)
						}
						if parts == 1 || tc.k < sharedMinK {
							continue
						}
						if tc.m >= 8*parts && (tB || tc.m > unpackMaxM) && 2*tc.m*tc.n*tc.k >= splitMinFlops {
							t.Errorf("%s, %d parts: declined a product split by rows with B packed", tc, parts)
						}
						continue
					}
					used++
					if parts == 1 {
						t.Fatalf("%s: ran with one part", tc)
					}
					if j, same := bitsEqual(want, got); !same {
						t.Errorf("%s, %d parts: c[%d] = %g, whole gives %g", tc, parts, j, got[j], want[j])
					}
				}
			}
		}
	}
	if used < 20 {
		t.Fatalf("only %d products took the shared path", used)
	}
}

// TestSharedSgemmNoAllocs: in steady state the shared split allocates nothing.
func TestSharedSgemmNoAllocs(t *testing.T) {
	skipWithoutAVX2(t)
	withAVX2(t, true)
	if racecheck.Enabled() {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	r := rand.New(rand.NewPCG(1, 1))
	m, n, k := 768, 384, 128
	a, b, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	allocs := testing.AllocsPerRun(50, func() {
		if !sharedSgemm(2, false, false, m, n, k, 1, a, k, b, n, 0, c, n) {
			t.Fatal("declined")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per call", allocs)
	}
}

// TestTransposePanels: the register transposes of packA and packB copy every element to its
// place (and nothing past the kc8 columns of the panel), at several strides.
func TestTransposePanels(t *testing.T) {
	skipWithoutAVX2(t)
	r := rand.New(rand.NewPCG(2, 3))
	for _, rows := range []int{6, 16} {
		for _, kc8 := range []int{8, 16, 64, 256} {
			for _, lds := range []int{kc8, kc8 + 3, 2*kc8 + 8} {
				src := randSlice(r, (rows-1)*lds+kc8)
				dst := make([]float32, rows*kc8+rows)
				for i := range dst {
					dst[i] = -1
				}
				if rows == 6 {
					transposePanel6(kc8, &src[0], lds, &dst[0])
				} else {
					transposePanel16(kc8, &src[0], lds, &dst[0])
				}
				for l := range kc8 {
					for i := range rows {
						if got, want := dst[l*rows+i], src[i*lds+l]; got != want {
							t.Fatalf("%d rows, kc8=%d, lds=%d: dst[%d·%d+%d] = %g, want %g", rows, kc8, lds, l, rows, i, got, want)
						}
					}
				}
				for i := rows * kc8; i < len(dst); i++ {
					if dst[i] != -1 {
						t.Fatalf("%d rows, kc8=%d: wrote dst[%d] past the panel", rows, kc8, i)
					}
				}
			}
		}
	}
}

// TestAVX2ReadAInPlaceBitIdentical: on the AVX2 path (no AVX-512), the 6×16 kernels reading
// op(A) where it is (products of at most aInPlaceMaxN columns), with B packed or, for few rows,
// in place too, give the bits of the ones reading packed panels, for A and Aᵀ, rows past a
// multiple of 6, columns past a multiple of 16, padded strides, several blocks of k and rows,
// and beta 0 (C not read), 1 and others; and both are the right product.
func TestAVX2ReadAInPlaceBitIdentical(t *testing.T) {
	skipWithoutAVX2(t)
	withAVX2(t, true)
	withAVX512(t, false)
	var cases []gemmCase
	for _, n := range []int{1, 5, 16, 17, 31, 32} {
		cases = append(cases, gemmCase{m: 50, n: n, k: 70, padA: 3, alpha: 1, beta: 0},
			gemmCase{m: 97, n: n, k: 33, transA: true, padA: 1, alpha: -2, beta: 0.5},
			gemmCase{m: 130, n: n, k: 300, transA: true, trans: true, alpha: 0.5, beta: 1},
			gemmCase{m: 61, n: n, k: 517, padC: 2, alpha: 1.5, beta: -1, nanC: false},
			gemmCase{m: 192, n: n, k: 192, transA: true, alpha: 0.125, beta: 0},
			// Few rows: B read in place as well (unpackMaxM), rows past a multiple of 6 by rows.
			gemmCase{m: 48, n: n, k: 192, transA: true, padB: 2, alpha: 1, beta: 0},
			gemmCase{m: 47, n: n, k: 100, padA: 1, alpha: 0.5, beta: 2})
	}
	used := 0
	for _, blocking := range [][2]int{{256, 192}, {16, 12}} {
		withBlocking(t, blocking[0], blocking[1])
		for i, tc := range cases {
			if i%2 == 1 {
				withUnpackMaxM(t, 0) // B packed even for few rows
			} else {
				withUnpackMaxM(t, 48)
			}
			a, lda, b, ldb, c0, ldc := gemmOperands(tc, uint64(7000+i))
			run := func(inPlace bool) []float32 {
				withReadAInPlace(t, inPlace)
				c := append([]float32(nil), c0...)
				sgemmAVX2(tc.transA, tc.trans, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
				return c
			}
			packed, inPlace := run(false), run(true)
			if j, ok := bitsEqual(packed, inPlace); !ok {
				t.Fatalf("%v kc=%d mc=%d: c[%d] = %g reading A in place, %g from packed panels", tc, blocking[0], blocking[1], j, inPlace[j], packed[j])
			}
			if tc.n <= aInPlaceMaxN && tc.m >= gemmMR {
				used++
			}
		}
	}
	if used < 20 {
		t.Fatalf("only %d products read A in place", used)
	}
	withReadAInPlace(t, true)
	for i, tc := range cases {
		checkGemm(t, sgemmAVX2, tc, uint64(7500+i))
	}
}

// TestSharedSgemmManyParts: at 16 parts, the row counts whose blocks of 8 leave a remainder
// of 8 or more (a 17th block) give the whole product's bits too, as splitSgemm's blocks do.
func TestSharedSgemmManyParts(t *testing.T) {
	skipWithoutAVX2(t)
	withAVX2(t, true)
	for m := 128; m <= 160; m++ {
		tc := gemmCase{m: m, n: 96, k: 80, trans: true, alpha: 1, beta: 0.5}
		a, lda, b, ldb, c0, ldc := gemmOperands(tc, uint64(m))
		want := append([]float32(nil), c0...)
		sgemmAVX2(false, true, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
		got := append([]float32(nil), c0...)
		if !sharedSgemm(maxParts, false, true, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc) {
			t.Fatalf("m=%d: declined", m)
		}
		if j, ok := bitsEqual(want, got); !ok {
			t.Fatalf("m=%d: c[%d] = %g, whole gives %g", m, j, got[j], want[j])
		}
	}
}

// TestDeepColumnSplitBitIdentical: weight-gradient-like products (few rows, k past one block of
// k, 8 panels a part) take the split by 16-column panels on the AVX2 kernels, on both CPUs' kernels, and give
// sgemmAVX2's bits over the whole product on 2, 3 and 5 goroutines — with A or B transposed, a
// last panel cut short, α and β, padded strides; a product with more rows stays split by rows.
func TestDeepColumnSplitBitIdentical(t *testing.T) {
	if !haveAVX2FMA {
		t.Skip("no AVX2/FMA on this CPU: the split is not used")
	}
	withAVX2(t, true)
	for _, avx512 := range []bool{false, haveAVX512} {
		withAVX512(t, avx512)
		for i, tc := range []gemmCase{
			{m: 128, n: 384, k: 300, transA: true, alpha: 1, beta: 0},
			{m: 65, n: 266, k: 513, transA: true, padC: 3, alpha: 0.5, beta: 1},
			{m: 190, n: 300, k: 257, trans: true, padA: 2, alpha: -1, beta: 0.25},
			{m: 96, n: 400, k: 600, padB: 1, alpha: 1, beta: 0},
		} {
			if _, ok := wideColumnSplit(tc.trans, tc.m, tc.n, tc.k, 2); ok {
				continue // the AVX-512 path's split by 64-column tiles takes it
			}
			if _, ok := deepColumnSplit(tc.trans, tc.m, tc.n, tc.k, 2); !ok {
				t.Fatalf("%v: the case should take the column split", tc)
			}
			a, lda, b, ldb, c0, ldc := gemmOperands(tc, uint64(60+i))
			want := append([]float32(nil), c0...)
			sgemmAVX2(tc.transA, tc.trans, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
			for _, p := range []int{2, 3, 5} {
				withProcs(t, p)
				got := append([]float32(nil), c0...)
				sgemmGo(tc.transA, tc.trans, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
				if j, ok := bitsEqual(want, got); !ok {
					t.Errorf("avx512 %v, %v on %d goroutines: c[%d] = %g, whole gives %g", avx512, tc, p, j, got[j], want[j])
				}
			}
		}
	}
	for _, s := range [][4]int{{512, 384, 1536, 2}, {128, 384, 256, 2}, {128, 192, 1536, 2}, {64, 384, 1536, 1}} {
		if _, ok := deepColumnSplit(true, s[0], s[1], s[2], s[3]); ok {
			t.Errorf("m, n, k = %d, %d, %d on %d parts should not take the column split", s[0], s[1], s[2], s[3])
		}
	}
}

// TestSgemmTriangularMatchesFull: the triangular products (lower and upper op(A), A transposed or
// not) give the bits of sgemmAVX2's whole product over the explicit zeros — rows below, at and
// past multiples of 6, up to one block of k, 16 and 32 columns, padded strides, C starting as
// NaN — and SgemmTriangularSerial declines the shapes it does not handle.
func TestSgemmTriangularMatchesFull(t *testing.T) {
	if !haveAVX2FMA {
		t.Skip("no AVX2/FMA on this CPU: the triangular products are left to the caller")
	}
	withAVX2(t, true)
	withReadAInPlace(t, true)
	withAVX512(t, useAVX512) // restored at the end: the loop below sets it
	widths := []bool{false}  // the AVX2 kernels, then the AVX-512 ones where the CPU has them
	if haveAVX512 {
		widths = append(widths, true)
	} else {
		t.Log("no AVX-512 on this CPU: its triangular kernels are not tested")
	}
	r := rand.New(rand.NewPCG(8, 9))
	for _, wide := range widths {
		useAVX512 = wide
		ns := []int{16, 32}
		if wide {
			ns = append(ns, 64)
		}
		for _, upper := range []bool{false, true} {
			for _, transA := range []bool{false, true} {
				for _, m := range []int{1, 2, 5, 6, 7, 11, 12, 13, 47, 48, 50, 95, 190, 192, 256} {
					for _, n := range ns {
						checkTriangular(t, r, wide, upper, transA, m, n)
					}
				}
			}
		}
	}
	withAVX512(t, false)
	for _, s := range [][2]int{{257, 32}, {64, 64}, {64, 8}, {64, 24}, {0, 16}} {
		if triangularFits(s[0], s[1]) {
			t.Errorf("m=%d n=%d should not fit without AVX-512", s[0], s[1])
		}
	}
	if haveAVX512 {
		withAVX512(t, true)
		for _, s := range [][2]int{{257, 64}, {64, 128}, {64, 48}, {0, 64}} {
			if triangularFits(s[0], s[1]) {
				t.Errorf("m=%d n=%d should not fit with AVX-512", s[0], s[1])
			}
		}
	}
	if !IsNative() {
		withAVX512(t, false)
		c := make([]float32, 64*64)
		if SgemmTriangularSerial(false, false, 64, 64, 1, make([]float32, 64*64), 64, make([]float32, 64*64), 64, c, 64) {
			t.Error("SgemmTriangularSerial computed a 64-column product without AVX-512")
		}
		if !SgemmTriangularSerial(false, false, 64, 32, 1, make([]float32, 64*64), 64, make([]float32, 64*32), 32, c, 32) {
			t.Error("SgemmTriangularSerial declined a 64×32 product on the pure-Go path")
		}
	}
}

// checkTriangular compares sgemmTriangularAVX2 on a random m×m triangular op(A) (explicit
// zeros) and an m×n B, padded strides and C starting NaN, with the whole product's bits.
func checkTriangular(t *testing.T, r *rand.Rand, wide, upper, transA bool, m, n int) {
	t.Helper()
	lda, ldb, ldc := m+3, n+5, n+2
	a := make([]float32, m*lda)
	for i := range m { // element (i, l) of op(A)
		for l := range m {
			if (!upper && l > i) || (upper && l < i) {
				continue // zero
			}
			v := float32(r.NormFloat64())
			if transA {
				a[l*lda+i] = v
			} else {
				a[i*lda+l] = v
			}
		}
	}
	b := randSlice(r, m*ldb)
	alpha := float32(r.NormFloat64())
	want := make([]float32, m*ldc)
	sgemmAVX2(transA, false, m, n, m, alpha, a, lda, b, ldb, 0, want, ldc)
	got := make([]float32, m*ldc)
	for i := range got {
		got[i] = float32(math.NaN())
	}
	if !triangularFits(m, n) {
		t.Fatalf("AVX-512 %v: m=%d n=%d should fit", wide, m, n)
	}
	sgemmTriangularAVX2(upper, transA, m, n, alpha, a, lda, b, ldb, got, ldc)
	for i := range m {
		for j := range n {
			w, g := want[i*ldc+j], got[i*ldc+j]
			if math.Float32bits(w) != math.Float32bits(g) {
				t.Fatalf("AVX-512 %v upper %v transA %v m=%d n=%d: c[%d][%d] = %g, whole product gives %g", wide, upper, transA, m, n, i, j, g, w)
			}
		}
	}
}
