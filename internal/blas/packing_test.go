//go:build amd64

package blas

import (
	"math/rand/v2"
	"testing"
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
	if raceEnabled() {
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
