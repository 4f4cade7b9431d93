package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/tinychat-go/tinychat/internal/racecheck"
)

// skipWithoutAVX2 skips tests of the AVX2 path where it cannot run.
func skipWithoutAVX2(t testing.TB) {
	t.Helper()
	if !haveAVX2FMA {
		t.Skip("no AVX2+FMA (or not amd64): the AVX2 path is not used here")
	}
}

// withAVX2 sets useAVX2 for the duration of the test.
func withAVX2(t testing.TB, on bool) {
	t.Helper()
	old := useAVX2
	useAVX2 = on
	t.Cleanup(func() { useAVX2 = old })
}

// withAVX512 sets useAVX512 for the duration of the test.
func withAVX512(t testing.TB, on bool) {
	t.Helper()
	old := useAVX512
	useAVX512 = on
	t.Cleanup(func() { useAVX512 = old })
}

// withReadAInPlace sets readAInPlace for the duration of the test.
func withReadAInPlace(t testing.TB, on bool) {
	t.Helper()
	old := readAInPlace
	readAInPlace = on
	t.Cleanup(func() { readAInPlace = old })
}

// withProcs sets the gomaxprocs seam for the duration of the test.
func withProcs(t testing.TB, p int) {
	t.Helper()
	old := gomaxprocs
	gomaxprocs = func() int { return p }
	t.Cleanup(func() { gomaxprocs = old })
}

// withBlocking sets the AVX2 path's cache blocking for the duration of the test.
func withBlocking(t testing.TB, kc, mc int) {
	t.Helper()
	oldKC, oldMC := gemmKC, gemmMC
	gemmKC, gemmMC = kc, mc
	t.Cleanup(func() { gemmKC, gemmMC = oldKC, oldMC })
}

// edgeCases are small shapes around the micro-tile sizes (6 rows, 16 and 64
// columns) in all four transpose combinations, with padded leading
// dimensions and alpha/beta (including beta 0 over NaN) varying by case.
func edgeCases() []gemmCase {
	ms := []int{1, 2, 5, 6, 7, 11, 13, 17, 40}
	ns := []int{1, 3, 15, 16, 17, 33, 40, 64, 83, 145}
	ks := []int{1, 2, 3, 4, 5, 9, 31}
	ab := []struct {
		alpha, beta float32
		nan         bool
	}{{0.7, -1.3, false}, {-1.25, 0, true}, {1, 1, false}, {2, 0.5, false}}
	var cs []gemmCase
	i := 0
	for _, m := range ms {
		for _, n := range ns {
			for _, k := range ks {
				for _, tA := range []bool{false, true} {
					for _, tB := range []bool{false, true} {
						v := ab[i%len(ab)]
						pad := i % 3
						cs = append(cs, gemmCase{m, n, k, pad, (pad + 1) % 3, 2 - pad, v.alpha, v.beta, v.nan, tA, tB})
						i++
					}
				}
			}
		}
	}
	return cs
}

// The serial AVX2 kernel on the shared test shapes and on the edge shapes.
func TestSgemmAVX2(t *testing.T) {
	skipWithoutAVX2(t)
	for i, tc := range gemmCases() {
		t.Run(tc.String(), func(t *testing.T) { checkGemm(t, sgemmAVX2, tc, uint64(i)) })
	}
	for i, tc := range edgeCases() {
		t.Run("edge/"+tc.String(), func(t *testing.T) { checkGemm(t, sgemmAVX2, tc, uint64(1000+i)) })
	}
}

// Small cache blocks make the small shapes cross several blocks of k (where
// later blocks add to C with beta 1) and of rows, including ragged last
// blocks; the default blocks are exercised with k and m beyond them.
func TestSgemmAVX2Blocking(t *testing.T) {
	skipWithoutAVX2(t)
	t.Run("small", func(t *testing.T) {
		withBlocking(t, 7, 12)
		for i, tc := range gemmCases() {
			t.Run(tc.String(), func(t *testing.T) { checkGemm(t, sgemmAVX2, tc, uint64(i)) })
		}
		for i, tc := range edgeCases() {
			if tc.k < 8 && tc.m < 13 {
				continue // within one block: covered by TestSgemmAVX2
			}
			t.Run("edge/"+tc.String(), func(t *testing.T) { checkGemm(t, sgemmAVX2, tc, uint64(2000+i)) })
		}
	})
	big := []gemmCase{
		{m: 203, n: 37, k: 600, padA: 1, padB: 2, padC: 3, alpha: 0.5, beta: 0.25},
		{m: 400, n: 20, k: 257, alpha: -1, beta: 0, nanC: true},
		{m: 7, n: 50, k: 1000, alpha: 1, beta: 1},
	}
	for i, tc := range big {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				tc.transA, tc.trans = tA, tB
				t.Run("default/"+tc.String(), func(t *testing.T) { checkGemm(t, sgemmAVX2, tc, uint64(3000+i)) })
			}
		}
	}
}

// sgemmGo on the AVX2 path, serial and split across several goroutines
// (splitSgemm), with products large enough to be split.
func TestSgemmGoAVX2Procs(t *testing.T) {
	skipWithoutAVX2(t)
	withAVX2(t, true)
	cases := []gemmCase{
		{m: 256, n: 65, k: 128, padA: 1, padB: 2, padC: 3, alpha: 0.5, beta: 0.25},
		{m: 130, n: 67, k: 129, padA: 3, padC: 1, alpha: -1, beta: 0, nanC: true},
		{m: 9, n: 300, k: 200, padC: 5, alpha: 1, beta: 1},   // split by columns
		{m: 3, n: 1000, k: 300, alpha: 1, beta: 0},           // row path, split by columns
		{m: 1, n: 2000, k: 300, padB: 1, alpha: 2, beta: -1}, // row path
		{m: 99, n: 130, k: 50, alpha: 1, beta: 0.5},
	}
	for _, p := range []int{1, 2, 3, 8} {
		withProcs(t, p)
		for i, tc := range cases {
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					tc.transA, tc.trans = tA, tB
					t.Run(fmt.Sprintf("procs%d/%s", p, tc), func(t *testing.T) { checkGemm(t, sgemmGo, tc, uint64(i)) })
				}
			}
		}
		for i, tc := range edgeCases() {
			if i%7 != 0 {
				continue // a sample is enough here
			}
			t.Run(fmt.Sprintf("procs%d/edge/%s", p, tc), func(t *testing.T) { checkGemm(t, sgemmGo, tc, uint64(4000+i)) })
		}
	}
}

// The SSE fallback (what CPUs without AVX2+FMA and other architectures run)
// stays correct when selected explicitly.
func TestSgemmGoSSE(t *testing.T) {
	withAVX2(t, false)
	for _, p := range []int{1, 2} {
		withProcs(t, p)
		for i, tc := range gemmCases() {
			t.Run(fmt.Sprintf("procs%d/%s", p, tc), func(t *testing.T) { checkGemm(t, sgemmGo, tc, uint64(i)) })
		}
	}
}

// A warmed-up sgemmGo call on the AVX2 path allocates nothing: the packing
// buffers come from a pool and splitSgemm reuses its tasks and workers.
func TestSgemmGoAVX2NoAllocs(t *testing.T) {
	skipWithoutAVX2(t)
	if racecheck.Enabled() {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	withAVX2(t, true)
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range []benchShape{
		{m: 768, k: 128, n: 384},
		{transA: true, m: 128, k: 768, n: 384},
		{transB: true, m: 768, k: 384, n: 128},
		{m: 1, k: 128, n: 65},
		{m: 1, k: 128, n: 65, transB: true},
		{m: 8, k: 128, n: 384}, // B in place
		{m: 8, k: 512, n: 65},  // B in place but its last column, packed
	} {
		a, b, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
		lda, ldb := s.strides()
		for _, p := range []int{1, 2} {
			withProcs(t, p)
			call := func() { sgemmGo(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, b, ldb, 0, c, s.n) }
			call()
			assert.Zero(t, testing.AllocsPerRun(20, call), "%s procs=%d", s, p)
		}
	}
}

// BenchmarkPureGo compares, in one binary, the pure-Go paths at the
// benchmark shapes: the SSE fallback ("sse", as sgemmGo runs it without
// AVX2), the AVX2 path as sgemmGo runs it ("avx2", split across GOMAXPROCS
// goroutines, 6×16 tiles only) and the AVX2 kernel on one goroutine ("avx2-1t"), and where the
// CPU has AVX-512 the same with its 6×64 tiles ("avx512", "avx512-1t"). Run with
//
//	go test -run '^$' -bench PureGo -count 3 ./internal/blas/
func BenchmarkPureGo(b *testing.B) {
	for _, s := range benchShapes() {
		b.Run(s.String(), func(b *testing.B) {
			b.Run("sse", func(b *testing.B) {
				withAVX2(b, false)
				benchGemm(b, sgemmGo, s)
			})
			if !haveAVX2FMA {
				return
			}
			withAVX2(b, true)
			for _, wide := range []bool{false, true} {
				if wide && !haveAVX512 {
					continue
				}
				name := "avx2"
				if wide {
					name = "avx512"
				}
				b.Run(name, func(b *testing.B) {
					withAVX512(b, wide)
					benchGemm(b, sgemmGo, s)
				})
				b.Run(name+"-1t", func(b *testing.B) {
					withAVX512(b, wide)
					benchGemm(b, sgemmAVX2, s)
				})
				if wide {
					b.Run(name+"-packA-1t", func(b *testing.B) {
						withAVX512(b, wide)
						withReadAInPlace(b, false)
						benchGemm(b, sgemmAVX2, s)
					})
				}
			}
		})
	}
}

// withUnpackMaxM sets the AVX2 path's in-place-B threshold for the duration of the test.
func withUnpackMaxM(t testing.TB, m int) {
	t.Helper()
	old := unpackMaxM
	unpackMaxM = m
	t.Cleanup(func() { unpackMaxM = old })
}

// decodeCases are the small-m products of batched decoding: every m from 1 to 17 (and a few
// past unpackMaxM), column counts around the 16-column panels, k within one block of k, across
// blocks, and at the decode engine's widths, with padded strides, alpha/beta (beta 0 over NaN).
func decodeCases() []gemmCase {
	ms := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 47, 48, 49}
	nks := [][2]int{{16, 1}, {17, 5}, {40, 31}, {64, 300}, {83, 128}, {145, 9}, {384, 128}, {128, 512}}
	ab := []struct {
		alpha, beta float32
		nan         bool
	}{{1, 0, true}, {0.7, -1.3, false}, {1, 1, false}, {-1.25, 0, false}}
	var cs []gemmCase
	i := 0
	for _, m := range ms {
		for _, nk := range nks {
			v := ab[i%len(ab)]
			pad := i % 3
			cs = append(cs, gemmCase{m: m, n: nk[0], k: nk[1], padA: pad, padB: 2 - pad, padC: (pad + 1) % 3,
				alpha: v.alpha, beta: v.beta, nanC: v.nan, transA: i%5 == 4})
			i++
		}
	}
	return cs
}

// The in-place-B path (m ≤ unpackMaxM, B not transposed) against the float64 reference at
// every m from 1 to 17, serial and as sgemmGo splits it, and bit for bit against the packed
// path, which it must match exactly (same kernel arithmetic): where B is packed is a matter of
// speed only.
func TestSgemmAVX2InPlaceB(t *testing.T) {
	skipWithoutAVX2(t)
	withAVX2(t, true)
	for i, tc := range decodeCases() {
		t.Run(tc.String(), func(t *testing.T) {
			checkGemm(t, sgemmAVX2, tc, uint64(5000+i))
			for _, p := range []int{2, 3} {
				withProcs(t, p)
				checkGemm(t, sgemmGo, tc, uint64(5000+i))
			}
			if tc.m <= rowPathMaxM {
				return // the row path, not the packed kernels
			}
			a, lda, b, ldb, c0, ldc := gemmOperands(tc, uint64(i))
			if tc.nanC {
				for j := range c0 {
					c0[j] = float32(math.NaN())
				}
			}
			got := append([]float32(nil), c0...)
			sgemmAVX2(tc.transA, false, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
			withUnpackMaxM(t, 0) // always pack B
			want := append([]float32(nil), c0...)
			sgemmAVX2(tc.transA, false, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
			if j, ok := bitsEqual(want, got); !ok {
				t.Errorf("c[%d] = %g in place, %g packed", j, got[j], want[j])
			}
		})
	}
}
