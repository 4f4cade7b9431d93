package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tinychat-go/tinychat/internal/racecheck"
)

// withBF16 sets useBF16 for the duration of the test.
func withBF16(t testing.TB, on bool) {
	t.Helper()
	old := useBF16
	useBF16 = on
	t.Cleanup(func() { useBF16 = old })
}

// bf16Paths are the SgemmBF16 implementations this CPU can run: the rounded copies always,
// the AVX512-BF16 kernels where the CPU has them.
func bf16Paths() []bool {
	if haveBF16 {
		return []bool{false, true}
	}
	return []bool{false}
}

func TestRoundBF16(t *testing.T) {
	for _, tc := range []struct {
		in   uint32 // float32 bits
		want uint32 // bf16 bits
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // 1 + 2⁻⁸: a tie, to even (down)
		{0x3f818000, 0x3f82}, // 1 + 3·2⁻⁸: a tie, to even (up)
		{0x3f808001, 0x3f81}, // just past the tie: up
		{0xbf80ffff, 0xbf81}, // negative, rounds away from zero in magnitude
		{0x7f7fffff, 0x7f80}, // the largest float32 rounds to +Inf
		{0x7f800000, 0x7f80}, // +Inf
		{0xff800000, 0xff80}, // -Inf
		{0x7fc00001, 0x7fc0}, // a quiet NaN stays a quiet NaN
		{0x7f800001, 0x7fc0}, // a signalling NaN is quieted
		{0x00000000, 0x0000}, // +0
		{0x80000000, 0x8000}, // -0
		{0x007fffff, 0x0000}, // a denormal becomes +0
		{0x80000001, 0x8000}, // a negative denormal becomes -0
		{0x00800000, 0x0080}, // the smallest normal stays
	} {
		if got := bf16Bits(math.Float32frombits(tc.in)); got != tc.want {
			t.Errorf("bf16Bits(%#08x) = %#04x, want %#04x", tc.in, got, tc.want)
		}
		if got := math.Float32bits(RoundBF16(math.Float32frombits(tc.in))); got != tc.want<<16 {
			t.Errorf("RoundBF16(%#08x) = %#08x, want %#08x", tc.in, got, tc.want<<16)
		}
	}
}

// bf16Inputs are random floats of every magnitude with the special values and ties mixed in.
func bf16Inputs(n int) []float32 {
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, n)
	special := []uint32{0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0x00000001, 0x807fffff, 0x7f7fffff, 0x3f808000, 0x3f818000}
	for i := range x {
		switch i % 4 {
		case 0:
			x[i] = math.Float32frombits(r.Uint32())
		case 1:
			x[i] = math.Float32frombits(r.Uint32()&^0xffff | 0x8000) // ties
		case 2:
			x[i] = math.Float32frombits(special[r.IntN(len(special))])
		default:
			x[i] = float32(r.NormFloat64())
		}
	}
	return x
}

// The CPU's conversion (VCVTNEPS2BF16, in the packing helpers) gives the bits of bf16Bits on
// every class of input, in both layouts.
func TestBF16ConversionMatchesScalar(t *testing.T) {
	if !haveBF16 {
		t.Skip("no AVX512-BF16 on this CPU: SgemmBF16 rounds copies in Go here (tested below)")
	}
	const n = 4096
	x := bf16Inputs(2 * n)
	got := make([]uint32, n)
	cvtPairsBF16(n, &x[0], &got[0])
	for i := range got {
		if want := bf16Bits(x[2*i]) | bf16Bits(x[2*i+1])<<16; got[i] != want {
			t.Fatalf("cvtPairsBF16: word %d (%#08x, %#08x) = %#08x, want %#08x", i, math.Float32bits(x[2*i]), math.Float32bits(x[2*i+1]), got[i], want)
		}
	}
	interleaveBF16(n, &x[0], &x[n], &got[0])
	for i := range got {
		if want := bf16Bits(x[i]) | bf16Bits(x[n+i])<<16; got[i] != want {
			t.Fatalf("interleaveBF16: word %d = %#08x, want %#08x", i, got[i], want)
		}
	}
}

// checkGemmBF16 runs SgemmBF16 for tc and compares it with the float64 product of the
// operands rounded to bf16 (at checkGemm's tolerance). With exact set, the operands are rounded
// before the call, so the test sees the products alone; otherwise the rounding inside must be
// RoundBF16's (truncating, say, is off by about 2⁻⁹ of each product, beyond the tolerance).
func checkGemmBF16(t *testing.T, tc gemmCase, seed uint64, exact bool) {
	t.Helper()
	a, lda, b, ldb, c, ldc := gemmOperands(tc, seed)
	if tc.nanC {
		for i := 0; i < tc.m; i++ {
			for j := 0; j < tc.n; j++ {
				c[i*ldc+j] = float32(math.NaN())
			}
		}
	}
	ra, rb := append([]float32(nil), a...), append([]float32(nil), b...)
	for i := range ra {
		ra[i] = RoundBF16(ra[i])
	}
	for i := range rb {
		rb[i] = RoundBF16(rb[i])
	}
	if exact {
		a, b = ra, rb
	}
	aCopy, bCopy := append([]float32(nil), a...), append([]float32(nil), b...)
	want, scale := refSgemm(tc.transA, tc.trans, tc.m, tc.n, tc.k, tc.alpha, ra, lda, rb, ldb, tc.beta, c, ldc)
	SgemmBF16(tc.transA, tc.trans, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	if _, ok := bitsEqual(aCopy, a); !ok {
		t.Fatalf("%v: A modified", tc)
	}
	if _, ok := bitsEqual(bCopy, b); !ok {
		t.Fatalf("%v: B modified", tc)
	}
	bad := 0
	for i := range c {
		tol := 1e-4*scale[i] + 1e-6
		if got := float64(c[i]); math.IsNaN(got) || math.Abs(got-want[i]) > tol {
			if bad < 3 {
				t.Errorf("%v: C[%d] (row %d col %d) = %v, want %v (tol %.3g)", tc, i, i/ldc, i%ldc, got, want[i], tol)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%v: %d of %d elements wrong", tc, bad, len(c))
	}
}

// SgemmBF16 against the float64 reference on bf16-rounded operands, on both paths, at the
// edges of the 6×64 tiles and of the pair steps (odd k), transposed or not, split across
// goroutines and blocked over k, with small cache blocks too.
func TestSgemmBF16(t *testing.T) {
	cases := append(edgeCases(), gemmCases()...)
	cases = append(cases, splitShapes()...)
	cases = append(cases, gemmCase{m: 50, n: 200, k: 71, alpha: 1, beta: 0}, gemmCase{m: 97, n: 129, k: 33, trans: true, transA: true, alpha: -2, beta: 0.5})
	for _, fast := range bf16Paths() {
		t.Run(fmt.Sprintf("instructions=%v", fast), func(t *testing.T) {
			withBF16(t, fast)
			for i, tc := range cases {
				checkGemmBF16(t, tc, uint64(700+i), i%2 == 0)
			}
			withBlocking(t, 10, 12)
			for i, tc := range splitShapes()[:4] {
				checkGemmBF16(t, tc, uint64(800+i), false)
			}
		})
	}
}

// The bf16 kernels give the same bits however a product is split between goroutines (so
// results do not depend on GOMAXPROCS) and do not allocate in steady state.
func TestSgemmBF16Split(t *testing.T) {
	if !haveBF16 {
		t.Skip("no AVX512-BF16 on this CPU: the rounded copies run the float32 path, whose split is tested in TestSplitSgemmBitIdentical")
	}
	for i, tc := range splitShapes() {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				tc.transA, tc.trans = tA, tB
				a, lda, b, ldb, c0, ldc := gemmOperands(tc, uint64(i))
				want := append([]float32(nil), c0...)
				sbgemmAVX512(tA, tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
				for _, parts := range []int{2, 3, 7} {
					got := append([]float32(nil), c0...)
					splitSgemm(parts, sbgemmAVX512, tA, tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
					if j, ok := bitsEqual(want, got); !ok {
						t.Errorf("%s split into %d parts: c[%d] = %g, whole gives %g", tc, parts, j, got[j], want[j])
					}
				}
			}
		}
	}
	if racecheck.Enabled() {
		return // the race detector makes sync.Pool drop items at random
	}
	// Products of several sizes in turn, as a training step makes them: a pooled buffer that
	// served a small one must still serve a large one.
	r := rand.New(rand.NewPCG(1, 1))
	a, b, c := randSlice(r, 768*512), randSlice(r, 768*512), make([]float32, 768*512)
	allocs := testing.AllocsPerRun(20, func() {
		SgemmBF16(false, true, 768, 128, 130, 1, a, 130, b, 130, 0, c, 128)
		SgemmBF16(false, false, 768, 512, 128, 1, a, 128, b, 512, 0, c, 512)
		SgemmBF16(true, false, 128, 512, 768, 1, a, 128, b, 512, 1, c, 512)
		SgemmBF16(false, false, 8, 40, 6, 1, a, 6, b, 40, 0, c, 40)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per four calls", allocs)
	}
}

// BenchmarkSgemmBF16 compares SgemmBF16 with the float32 pure-Go product at the benchmark
// shapes ("fp32", "bf16"; "bf16-copies" is the path for CPUs without bf16 instructions). Run with
//
//	go test -run '^$' -bench SgemmBF16 -count 3 ./internal/blas/
func BenchmarkSgemmBF16(b *testing.B) {
	shapes := append(benchShapes()[:15], benchShape{m: 1024, k: 768, n: 3072}, benchShape{transA: true, m: 768, k: 1024, n: 3072}, benchShape{transB: true, m: 1024, k: 3072, n: 768})
	for _, s := range shapes {
		b.Run(s.String(), func(b *testing.B) {
			b.Run("fp32", func(b *testing.B) { benchGemm(b, sgemmGo, s) })
			for _, fast := range bf16Paths() {
				name := "bf16-copies"
				if fast {
					name = "bf16"
				}
				b.Run(name, func(b *testing.B) {
					withBF16(b, fast)
					f := sbgemmRounded
					if fast {
						f = sbgemmGo
					}
					benchGemm(b, f, s)
				})
			}
		})
	}
}
