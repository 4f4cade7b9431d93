package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/tinychat-go/tinychat/internal/racecheck"
)

// splitShapes are products large enough to be split, chosen so that blocks end inside
// micro-tiles (6 rows, 16 columns), leave a last block of fewer than 6 rows, take the row path
// (m ≤ 5) with column tails that are not multiples of 16, take the in-place-B path of decode
// steps (6 ≤ m ≤ unpackMaxM, split by rows or by columns), and need several blocks of k (k >
// gemmKC, so later blocks accumulate into C), with alpha ≠ 1 and beta ≠ 0.
func splitShapes() []gemmCase {
	return []gemmCase{
		{m: 1028, n: 40, k: 300, alpha: 0.125, beta: 0.5},
		{m: 130, n: 67, k: 600, padA: 3, padC: 1, alpha: -0.3, beta: 1},
		{m: 64, n: 384, k: 768, alpha: 1, beta: 1},
		{m: 9, n: 300, k: 520, padC: 5, alpha: 0.7, beta: -1.5},
		{m: 3, n: 1000, k: 300, alpha: 0.3, beta: 0.25},
		{m: 5, n: 777, k: 513, alpha: 1, beta: 0},
		{m: 1, n: 2011, k: 300, padB: 1, alpha: 2, beta: -1},
		{m: 100, n: 130, k: 270, alpha: 1.1, beta: 0.5, nanC: false},
		{m: 13, n: 18000, k: 5, alpha: 1, beta: 0},
		{m: 8, n: 512, k: 300, padA: 1, alpha: 1, beta: 0},
		{m: 16, n: 384, k: 128, alpha: 0.5, beta: 1},
		{m: 24, n: 130, k: 512, padB: 3, alpha: 1, beta: -0.5},
	}
}

// gemmOperands returns A, B and C for tc (leading dimensions padded as tc says).
func gemmOperands(tc gemmCase, seed uint64) (a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	r := rand.New(rand.NewPCG(seed, 7))
	aRows, aCols := tc.m, tc.k
	if tc.transA {
		aRows, aCols = tc.k, tc.m
	}
	bRows, bCols := tc.k, tc.n
	if tc.trans {
		bRows, bCols = tc.n, tc.k
	}
	lda, ldb, ldc = aCols+tc.padA, bCols+tc.padB, tc.n+tc.padC
	return randSlice(r, aRows*lda), lda, randSlice(r, bRows*ldb), ldb, randSlice(r, tc.m*ldc), ldc
}

// bitsEqual reports the first element where x and y differ in their bits.
func bitsEqual(x, y []float32) (int, bool) {
	for i := range x {
		if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
			return i, false
		}
	}
	return 0, true
}

// TestSplitSgemmBitIdentical: the pure-Go AVX2 product gives the same bits whether it runs
// whole or split into any number of parts, so results do not depend on GOMAXPROCS.
func TestSplitSgemmBitIdentical(t *testing.T) {
	skipWithoutAVX2(t)
	withAVX2(t, true)
	for i, tc := range splitShapes() {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				tc.transA, tc.trans = tA, tB
				a, lda, b, ldb, c0, ldc := gemmOperands(tc, uint64(i))
				want := append([]float32(nil), c0...)
				sgemmAVX2(tA, tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
				for _, parts := range []int{2, 3, 5, 7, 16} {
					got := append([]float32(nil), c0...)
					splitSgemm(parts, sgemmAVX2, tA, tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
					if j, ok := bitsEqual(want, got); !ok {
						t.Errorf("%s split into %d parts: c[%d] = %g, whole gives %g", tc, parts, j, got[j], want[j])
					}
				}
			}
		}
	}
}

// TestSplitSgemmByShapeIgnoresWorkers: the native path's blocks depend only on the shape, so
// a library called on them gives the same bits for any number of workers. A stand-in library
// whose result depends on the size of each call shows it.
func TestSplitSgemmByShapeIgnoresWorkers(t *testing.T) {
	// sizeDependent adds m·n·1e-3 to every element of its block: any change of blocks shows.
	sizeDependent := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		sgemmGonum(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				c[i*ldc+j] += float32(m*n) * 1e-3
			}
		}
	}
	for i, tc := range splitShapes() {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			a, lda, b, ldb, c0, ldc := gemmOperands(tc, uint64(i))
			want := append([]float32(nil), c0...)
			splitSgemmByShape(1, sizeDependent, false, false, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
			for _, workers := range []int{2, 3, 8, 16, 40} {
				got := append([]float32(nil), c0...)
				splitSgemmByShape(workers, sizeDependent, false, false, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
				if j, ok := bitsEqual(want, got); !ok {
					t.Fatalf("%d workers: c[%d] = %g, 1 worker gives %g", workers, j, got[j], want[j])
				}
			}
			// And the blocks compute the right product.
			checkGemm(t, func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
				splitSgemmByShape(2, sgemmGonum, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			}, tc, uint64(i))
		})
	}
}

// TestSplitSgemmByShapeBlocks: the native path's blocks for the shapes of the speed table's
// models — a power of two of them, at least shapeMinBlock rows or columns each, along the larger
// of m and n — whatever the number of workers.
func TestSplitSgemmByShapeBlocks(t *testing.T) {
	for _, tc := range []struct {
		m, n, k int
		want    string // the blocks' m×n, in order
	}{
		{768, 384, 128, "192x384 192x384 192x384 192x384"}, // nanoGPT: 6 blocks of 128 rows would fit, 4 are a power of two
		{1536, 128, 384, "192x128 192x128 192x128 192x128 192x128 192x128 192x128 192x128"},
		{1024, 3072, 768, strings.Repeat("1024x192 ", 15) + "1024x192"}, // GPT-2's MLP: by columns
		{1024, 768, 3072, strings.Repeat("128x768 ", 7) + "128x768"},
		{200, 200, 64, "200x200"}, // one block of at least 128 rows
		{300, 20, 4096, "152x20 148x20"},
		{128, 384, 768, "128x192 128x192"}, // by columns: 128 rows make one block
		{128, 255, 768, "128x255"},         // too few columns for two blocks, too few rows
		{64, 64, 64, "64x64"},              // below 2·splitMinFlops
	} {
		for _, workers := range []int{1, 2, 5} {
			var mu sync.Mutex
			var blocks []string
			record := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
				mu.Lock()
				blocks = append(blocks, fmt.Sprintf("%dx%d", m, n))
				mu.Unlock()
			}
			a, b, c := make([]float32, tc.m*tc.k), make([]float32, tc.k*tc.n), make([]float32, tc.m*tc.n)
			splitSgemmByShape(workers, record, false, false, tc.m, tc.n, tc.k, 1, a, tc.k, b, tc.n, 0, c, tc.n)
			sort.Strings(blocks) // the workers' order varies; the blocks do not
			want := strings.Fields(tc.want)
			sort.Strings(want)
			if got := strings.Join(blocks, " "); got != strings.Join(want, " ") {
				t.Errorf("%d×%d×%d on %d workers: blocks %s, want %s", tc.m, tc.n, tc.k, workers, got, strings.Join(want, " "))
			}
		}
	}
}

// TestSplitSgemmByShapeNoAllocs: the native path's split allocates nothing per call in steady
// state, like splitSgemm.
func TestSplitSgemmByShapeNoAllocs(t *testing.T) {
	skipWithoutAVX2(t)
	withAVX2(t, true)
	if racecheck.Enabled() {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	r := rand.New(rand.NewPCG(1, 1))
	m, n, k := 768, 128, 128
	a, b, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	for _, workers := range []int{1, 2} {
		allocs := testing.AllocsPerRun(50, func() {
			splitSgemmByShape(workers, sgemmAVX2, false, true, m, n, k, 1, a, k, b, k, 0, c, n)
		})
		if allocs != 0 {
			t.Errorf("workers=%d: %v allocations per call", workers, allocs)
		}
	}
}

// TestSgemmSerialMatchesSgemm: SgemmSerial gives Sgemm's bits on one goroutine — the pure-Go
// path at shapes it splits by rows, by columns and by 64-column tiles, and the selected
// backend (native ones run the same shape blocks in turn).
func TestSgemmSerialMatchesSgemm(t *testing.T) {
	backends := []*backend{pureGoBackend(""), current()}
	for _, be := range backends {
		for i, tc := range splitShapes() {
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					tc.transA, tc.trans = tA, tB
					a, lda, b, ldb, c0, ldc := gemmOperands(tc, uint64(i))
					want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
					sgemmWith(be.sgemm, tA, tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
					sgemmWith(be.serial, tA, tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
					if j, ok := bitsEqual(want, got); !ok {
						t.Errorf("%s, %s: serial c[%d] = %g, split gives %g", be.name, tc, j, got[j], want[j])
					}
				}
			}
		}
	}
	if nb, err := loadNative(candidatesFor("")); err == nil {
		nb.configureThreads()
		tc := splitShapes()[2]
		a, lda, b, ldb, c0, ldc := gemmOperands(tc, 1)
		want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
		sgemmWith(nb.sgemm, false, false, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
		sgemmWith(nb.serial, false, false, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
		if j, ok := bitsEqual(want, got); !ok {
			t.Errorf("%s: serial c[%d] = %g, split gives %g", nb.name, j, got[j], want[j])
		}
	}
}
