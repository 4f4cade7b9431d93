package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// setAVX2 selects the assembly kernels (on, where the CPU has them) or the scalar Go loops for
// the rest of the test.
func setAVX2(t testing.TB, on bool) {
	old := useAVX2
	useAVX2 = on && haveAVX2
	t.Cleanup(func() { useAVX2 = old })
}

// needAVX2 skips a test that compares the assembly kernels with the scalar code on a CPU (or
// architecture) without them.
func needAVX2(t *testing.T) {
	if !haveAVX2 {
		t.Skip("no AVX2/FMA: only the scalar kernels run here")
	}
}

// testLengths are the slice lengths the vector-versus-scalar tests try: every length up to 40
// (all tail sizes, with and without full vectors) and two long ones.
func testLengths() []int {
	var ns []int
	for n := 0; n <= 40; n++ {
		ns = append(ns, n)
	}
	return append(ns, 1000, 1003)
}

// geluInputs returns n GELU inputs: the special values of the spec first (0, ±1e-6, ±5, ±8,
// ±30, ±1e4 and the saturation region), then normal values of several scales.
func geluInputs(rng *rand.Rand, n int) []float32 {
	special := []float32{0, 1e-6, -1e-6, 5, -5, 8, -8, 30, -30, 1e4, -1e4, 5.45, -5.45, 5.5, -5.5,
		3e-4, -3e-4, 1, -1, 2, -2, 1e-30, float32(math.Copysign(0, -1))}
	x := make([]float32, n)
	for i := range x {
		if i < len(special) && n > 100 {
			x[i] = special[i]
			continue
		}
		scale := []float64{0.1, 1, 3, 10}[rng.IntN(4)]
		x[i] = float32(rng.NormFloat64() * scale)
	}
	return x
}

// closeRel reports whether got is within tol·(1 + |want|) of want, or both are the same
// infinity or both NaN.
func closeRel(got, want float32, tol float64) bool {
	g, w := float64(got), float64(want)
	if math.IsNaN(g) || math.IsNaN(w) {
		return math.IsNaN(g) && math.IsNaN(w)
	}
	if math.IsInf(w, 0) || math.IsInf(g, 0) {
		return g == w
	}
	return math.Abs(g-w) <= tol*(1+math.Abs(w))
}

// The vector GELU forward agrees with the scalar loop on every length and alignment, with and
// without the tanh output, writes only its range and saturates exactly as the scalar code does.
func TestGELUVectorMatchesScalar(t *testing.T) {
	needAVX2(t)
	rng := rand.New(rand.NewPCG(3, 4))
	const sentinel = float32(-12345)
	var maxDT, maxDY float64
	for _, n := range testLengths() {
		for _, off := range []int{0, 1, 3, 7} {
			for _, withTh := range []bool{true, false} {
				// x is a sub-slice starting off floats into its array, and the range [lo, hi)
				// of GELURange starts at lo = off too, so both slice and range are unaligned.
				lo, hi := off, off+n
				xa := geluInputs(rng, hi+9)
				x := xa[off:]
				run := func(vec bool) (y, th []float32) {
					setAVX2(t, vec)
					y, th = make([]float32, len(x)), make([]float32, len(x))
					for i := range y {
						y[i], th[i] = sentinel, sentinel
					}
					if withTh {
						GELURange(y, th, x, lo, hi)
					} else {
						GELURange(y, nil, x, lo, hi)
					}
					return y, th
				}
				ys, ths := run(false)
				yv, thv := run(true)
				for i := range x {
					if i < lo || i >= hi {
						if yv[i] != sentinel || thv[i] != sentinel {
							t.Fatalf("n=%d off=%d: wrote outside [%d,%d) at %d", n, off, lo, hi, i)
						}
						continue
					}
					if !withTh && thv[i] != sentinel {
						t.Fatalf("n=%d: wrote th with th nil", n)
					}
					v := x[i]
					if withTh {
						dt := math.Abs(float64(thv[i]) - float64(ths[i]))
						maxDT = max(maxDT, dt)
						if dt > 6e-7 {
							t.Fatalf("tanh term at x=%g: vector %g, scalar %g", v, thv[i], ths[i])
						}
						if math.Abs(float64(ths[i])) == 1 && thv[i] != ths[i] {
							t.Fatalf("tanh term at x=%g: vector %g, scalar saturates at %g", v, thv[i], ths[i])
						}
					}
					// y = x/2·(1+t): an error in t of a few ulp moves y by |x|/2 times that.
					dy := math.Abs(float64(yv[i]) - float64(ys[i]))
					maxDY = max(maxDY, dy/(1+math.Abs(float64(v))))
					if dy > 3e-7*(1+math.Abs(float64(v))) {
						t.Fatalf("GELU(%g): vector %g, scalar %g", v, yv[i], ys[i])
					}
				}
			}
		}
	}
	t.Logf("max |Δt| = %.3g, max |Δy|/(1+|x|) = %.3g", maxDT, maxDY)
}

// TestGELUForwardValues (gelu_test.go) with the scalar loop, as on CPUs without AVX2.
func TestGELUForwardValuesScalar(t *testing.T) {
	setAVX2(t, false)
	TestGELUForwardValues(t)
}

// GELU's values do not depend on how a slice is cut into ranges (the vector kernel does the
// last n mod 8 elements under a mask rather than in scalar code), so the parallel GELUForward
// equals one GELURange call bit for bit at any split.
func TestGELUSplitInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := geluInputs(rng, 20011)
	n := len(x)
	y, th := make([]float32, n), make([]float32, n)
	GELURange(y, th, x, 0, n)
	y2, th2 := make([]float32, n), make([]float32, n)
	GELUForward(y2, th2, x)
	for i := range y {
		if y[i] != y2[i] || th[i] != th2[i] {
			t.Fatalf("GELUForward differs from GELURange at %d", i)
		}
	}
	clear(y2)
	clear(th2)
	for lo := 0; lo < n; {
		hi := min(n, lo+1+rng.IntN(50))
		GELURange(y2, th2, x, lo, hi)
		lo = hi
	}
	for i := range y {
		if y[i] != y2[i] || th[i] != th2[i] {
			t.Fatalf("GELURange over random pieces differs at %d", i)
		}
	}
	dy := make([]float32, n)
	for i := range dy {
		dy[i] = float32(rng.NormFloat64())
	}
	dx, dx2 := make([]float32, n), make([]float32, n)
	geluBackwardRange(dx, dy, x, th, 0, n)
	GELUBackward(dx2, dy, x, th)
	for i := range dx {
		if dx[i] != dx2[i] {
			t.Fatalf("GELUBackward differs from one range at %d", i)
		}
	}
}

// geluBackwardRef is GELUBackward's formula in float64 for one element, with a bound on the
// float32 rounding error of either implementation.
func geluBackwardRef(dy, x, t float32) (want, tol float64) {
	v, tt, g := float64(x), float64(t), float64(dy)
	h := 0.5 * (1 + tt)
	k := 0.5 * v * geluC * (1 + 3*geluA*v*v)
	s := 1 - tt*tt
	want = g * (h + k*s)
	// Relative rounding of each term, plus 1 − t² losing up to 2 ulp of t² absolutely.
	tol = math.Abs(g) * (4e-7*(math.Abs(h)+math.Abs(k*s)) + 2.4e-7*math.Abs(k))
	return want, tol + 1e-30
}

// The vector GELU backward agrees with the scalar loop and with the float64 formula on every
// length and alignment, for consistent (x, t) pairs from the forward pass and for arbitrary t.
func TestGELUBackwardVectorMatchesScalar(t *testing.T) {
	needAVX2(t)
	rng := rand.New(rand.NewPCG(7, 8))
	const sentinel = float32(-12345)
	for _, n := range testLengths() {
		for _, off := range []int{0, 1, 5} {
			for _, consistent := range []bool{true, false} {
				m := off + n + 9
				x, th, dy := geluInputs(rng, m), make([]float32, m), make([]float32, m)
				for i := range dy {
					dy[i] = float32(rng.NormFloat64())
				}
				if consistent {
					geluScalar(make([]float32, m), th, x)
				} else {
					for i := range th {
						x[i] = float32(rng.NormFloat64() * 4)
						th[i] = float32(rng.Float64()*2 - 1)
					}
				}
				lo, hi := off, off+n
				run := func(vec bool) []float32 {
					setAVX2(t, vec)
					dx := make([]float32, m)
					for i := range dx {
						dx[i] = sentinel
					}
					geluBackwardRange(dx, dy, x, th, lo, hi)
					return dx
				}
				ds, dv := run(false), run(true)
				for i := range dv {
					if i < lo || i >= hi {
						if dv[i] != sentinel {
							t.Fatalf("n=%d off=%d: wrote outside [%d,%d) at %d", n, off, lo, hi, i)
						}
						continue
					}
					want, tol := geluBackwardRef(dy[i], x[i], th[i])
					for _, got := range []float32{ds[i], dv[i]} {
						if math.Abs(float64(got)-want) > tol {
							t.Fatalf("GELU' at x=%g t=%g dy=%g: got %g (scalar %g, vector %g), want %g ± %g",
								x[i], th[i], dy[i], got, ds[i], dv[i], want, tol)
						}
					}
				}
			}
		}
	}
}

// expCut is Exp's underflow cut: below it the result is exactly 0.
const expCut = -87.33654

// expInputs returns n exponent arguments: mostly in [−100, 0] (softmax rows after subtracting
// the maximum), some up to +80, and the edge values.
func expInputs(rng *rand.Rand, n int) []float32 {
	edges := []float32{0, expCut, math.Nextafter32(expCut, 0), math.Nextafter32(expCut, -100), -87.3,
		-88, -100, -1e30, float32(math.Inf(-1)), 80, 88, 88.37626, -1e-7, 1e-7, -0.5, 0.5,
		-0.34657359, 0.34657359}
	x := make([]float32, n)
	for i := range x {
		switch {
		case i < len(edges) && n > 100:
			x[i] = edges[i]
		case rng.IntN(10) == 0:
			x[i] = float32(rng.Float64() * 80)
		default:
			x[i] = float32(-rng.Float64() * 100)
		}
	}
	return x
}

// expSubSum matches float64 math.Exp to 2e-6 relative (0 exactly below the cut, +Inf above
// 88.37626), matches the scalar Exp to a few ulp, returns the sum of what it wrote, works in
// place, and writes nothing past its length.
func TestExpSubSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const sentinel = float32(-12345)
	for _, vec := range []bool{false, true} {
		if vec && !haveAVX2 {
			continue
		}
		setAVX2(t, vec)
		for _, n := range testLengths() {
			for _, off := range []int{0, 3} {
				for _, mx := range []float32{0, 1.5, -2} {
					srcA := expInputs(rng, off+n+8)
					src := srcA[off : off+n]
					for i := range src {
						src[i] += mx // so that src − mx is the generated argument, or close
					}
					dstA := make([]float32, len(srcA))
					for i := range dstA {
						dstA[i] = sentinel
					}
					dst := dstA[off : off+n]
					sum := expSubSum(dst, src, mx)
					for i, d := range dstA {
						if (i < off || i >= off+n) && d != sentinel {
							t.Fatalf("vec=%v n=%d: wrote outside the row at %d", vec, n, i)
						}
					}
					var ref float64
					for j, s := range src {
						x := s - mx
						got := dst[j]
						ref += float64(got)
						switch {
						case x < expCut:
							if got != 0 {
								t.Fatalf("vec=%v: exp(%g) = %g, want 0 below the cut", vec, x, got)
							}
						case x > 88.37626:
							if !math.IsInf(float64(got), 1) {
								t.Fatalf("vec=%v: exp(%g) = %g, want +Inf", vec, x, got)
							}
						default:
							want := math.Exp(float64(x))
							if math.Abs(float64(got)-want) > 2e-6*want {
								t.Fatalf("vec=%v: exp(%g) = %g, want %g", vec, x, got, want)
							}
							if e := Exp(x); math.Abs(float64(got-e)) > 3e-7*float64(e) {
								t.Fatalf("vec=%v: exp(%g) = %g, scalar Exp %g", vec, x, got, e)
							}
						}
					}
					if math.Abs(sum-ref) > 1e-12*ref {
						t.Fatalf("vec=%v n=%d: sum %g, elements add to %g", vec, n, sum, ref)
					}
					// In place gives the same values.
					cp := append([]float32(nil), src...)
					if s2 := expSubSum(cp, cp, mx); s2 != sum {
						t.Fatalf("vec=%v n=%d: in place sum %g, %g", vec, n, s2, sum)
					}
					for j := range cp {
						if cp[j] != dst[j] {
							t.Fatalf("vec=%v n=%d: in place differs at %d", vec, n, j)
						}
					}
				}
			}
		}
	}
}

// The exponential is exact at the range-reduction boundaries and close everywhere on a fine
// sweep of [−87.3, 88.3].
func TestExpSubSumSweep(t *testing.T) {
	needAVX2(t)
	var x []float32
	for v := -87.33; v <= 88.37; v += 0.00071 {
		x = append(x, float32(v))
	}
	e := make([]float32, len(x))
	expSubSum(e, x, 0)
	var worst float64
	for i, v := range x {
		want := math.Exp(float64(v))
		rel := math.Abs(float64(e[i])-want) / want
		worst = max(worst, rel)
		if rel > 2e-6 {
			t.Fatalf("exp(%g) = %g, want %g", v, e[i], want)
		}
	}
	t.Logf("worst relative error %.3g over %d points", worst, len(x))
}

// rowMax equals the scalar loop, including its NaN rule (a NaN counts only as x[0]), on every
// length.
func TestRowMax(t *testing.T) {
	needAVX2(t)
	rng := rand.New(rand.NewPCG(11, 12))
	nan := float32(math.NaN())
	for _, n := range testLengths()[1:] {
		for trial := range 6 {
			x := make([]float32, n+3)[3:]
			for i := range x {
				x[i] = float32(rng.NormFloat64()*10 - 50)
			}
			switch trial {
			case 1:
				x[rng.IntN(n)] = float32(math.Inf(1))
			case 2:
				x[rng.IntN(n)] = nan
			case 3:
				x[0] = nan
			case 4:
				for i := range x {
					x[i] = float32(math.Inf(-1))
				}
			case 5:
				x[n-1] = 1e30
			}
			setAVX2(t, false)
			want := rowMax(x)
			setAVX2(t, true)
			got := rowMax(x)
			if got != want && !(math.IsNaN(float64(got)) && math.IsNaN(float64(want))) {
				t.Fatalf("n=%d trial %d: max %g, scalar %g", n, trial, got, want)
			}
		}
	}
}

// scaleRow equals the scalar loop exactly and writes nothing past its slice.
func TestScaleRow(t *testing.T) {
	needAVX2(t)
	rng := rand.New(rand.NewPCG(13, 14))
	for _, n := range testLengths() {
		a := make([]float32, n+10)
		for i := range a {
			a[i] = float32(rng.NormFloat64())
		}
		b := append([]float32(nil), a...)
		setAVX2(t, false)
		scaleRow(a[1:n+1], 0.37)
		setAVX2(t, true)
		scaleRow(b[1:n+1], 0.37)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("n=%d: element %d is %g, scalar %g", n, i, b[i], a[i])
			}
		}
	}
}

// softmaxInputs returns a row of n attention scores or logits of the given spread, with
// occasional huge negative and −Inf entries (never the first, so a row always has a finite
// maximum).
func softmaxInputs(rng *rand.Rand, n int, spread float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * spread)
		if i > 0 && rng.IntN(50) == 0 {
			x[i] = []float32{-1e30, float32(math.Inf(-1)), -200}[rng.IntN(3)]
		}
	}
	return x
}

// softmaxRef is the softmax of x in float64.
func softmaxRef(x []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = max(mx, float64(v))
	}
	p := make([]float64, len(x))
	var sum float64
	for j, v := range x {
		p[j] = math.Exp(float64(v) - mx)
		sum += p[j]
	}
	for j := range p {
		p[j] /= sum
	}
	return p
}

// The vector causal softmax sums to 1, zeroes the masked part and agrees with the float64
// softmax to 1e-6 relative (plus the rounding of the float32 argument x − max), and with the scalar one (whose float32 sum of n terms may be off by
// about n·2⁻²⁴ relative) to within that.
func TestCausalSoftmaxRowVector(t *testing.T) {
	needAVX2(t)
	rng := rand.New(rand.NewPCG(15, 16))
	for _, T := range []int{1, 5, 8, 9, 17, 64, 100, 1003} {
		for _, spread := range []float64{0.1, 3, 30} {
			for _, n := range []int{1, 2, 7, 8, 9, T / 2, T - 1, T} {
				if n < 1 || n > T {
					continue
				}
				row := softmaxInputs(rng, T, spread)
				want := softmaxRef(row[:n])
				mx := row[0]
				for _, v := range row[:n] {
					mx = max(mx, v)
				}
				ref := append([]float32(nil), row...)
				row0 := append([]float32(nil), row...)
				setAVX2(t, false)
				causalSoftmaxRow(ref, n)
				setAVX2(t, true)
				causalSoftmaxRow(row, n)
				var sum float64
				for j, p := range row {
					if j >= n {
						if p != 0 || ref[j] != 0 {
							t.Fatalf("T=%d n=%d: row[%d] = %g past n", T, n, j, p)
						}
						continue
					}
					sum += float64(p)
					// x − max rounds to float32 with an error of up to |x − max|·2⁻²⁴.
					tol := 1e-6 + math.Abs(float64(row0[j]-mx))*6e-8
					if math.Abs(float64(p)-want[j]) > tol*want[j]+1e-30 {
						t.Fatalf("T=%d n=%d: p[%d] = %g, want %g", T, n, j, p, want[j])
					}
					if math.Abs(float64(p-ref[j])) > (tol+float64(n)*6e-8)*want[j]+1e-30 {
						t.Fatalf("T=%d n=%d: p[%d] = %g, scalar %g", T, n, j, p, ref[j])
					}
				}
				if math.Abs(sum-1) > 1e-6 {
					t.Fatalf("T=%d n=%d spread %g: row sums to %.9g", T, n, spread, sum)
				}
			}
		}
	}
}

// The vector softmaxRow (cross-entropy) sums to 1 and agrees with softmaxRowExact on the
// probabilities and the log-partition; LogProbForward always uses the exact form.
func TestSoftmaxRowVector(t *testing.T) {
	needAVX2(t)
	rng := rand.New(rand.NewPCG(17, 18))
	for _, v := range []int{1, 2, 3, 7, 8, 9, 65, 1000, 50257} {
		for _, spread := range []float64{0.1, 3, 30, 1e4} {
			x := softmaxInputs(rng, v, spread)
			pv, ps := make([]float32, v), make([]float32, v)
			setAVX2(t, true)
			lzv := softmaxRow(pv, x)
			lzs := softmaxRowExact(ps, x)
			if math.Abs(lzv-lzs) > 1e-7*(1+math.Abs(lzs)) {
				t.Fatalf("V=%d spread %g: log-partition %.9g, scalar %.9g", v, spread, lzv, lzs)
			}
			var sum float64
			for j := range pv {
				sum += float64(pv[j])
				if math.Abs(float64(pv[j]-ps[j])) > 1e-6*float64(ps[j])+1e-12 {
					t.Fatalf("V=%d: p[%d] = %g, scalar %g", v, j, pv[j], ps[j])
				}
			}
			if math.Abs(sum-1) > 1e-5 {
				t.Fatalf("V=%d spread %g: row sums to %.9g", v, spread, sum)
			}
		}
	}
}

// LogProbForward gives the same bits with and without AVX2 (the sampler repeats it in scalar
// code), while CrossEntropyForward agrees to float32 accuracy.
func TestLossPaths(t *testing.T) {
	needAVX2(t)
	rng := rand.New(rand.NewPCG(19, 20))
	const n, v = 37, 65
	logits := softmaxInputs(rng, n*v, 3)
	targets := make([]int32, n)
	for i := range targets {
		targets[i] = int32(rng.IntN(v))
	}
	targets[3] = -1
	type result struct {
		out, probs, nll, cprobs []float32
		loss                    float64
	}
	run := func(vec bool) result {
		setAVX2(t, vec)
		r := result{make([]float32, n), make([]float32, n*v), make([]float32, n), make([]float32, n*v), 0}
		LogProbForward(r.out, r.probs, logits, targets, n, v)
		r.loss, _ = CrossEntropyForward(r.cprobs, r.nll, logits, targets, nil, n, v)
		return r
	}
	s, w := run(false), run(true)
	for i := range s.out {
		if s.out[i] != w.out[i] {
			t.Fatalf("LogProbForward row %d: %g with AVX2, %g without", i, w.out[i], s.out[i])
		}
		if !closeRel(w.nll[i], s.nll[i], 1e-6) {
			t.Fatalf("cross-entropy row %d: %g with AVX2, %g without", i, w.nll[i], s.nll[i])
		}
	}
	for i := range s.probs {
		if s.probs[i] != w.probs[i] {
			t.Fatalf("LogProbForward probs differ at %d", i)
		}
	}
	if math.Abs(s.loss-w.loss) > 1e-6*s.loss {
		t.Fatalf("loss %g with AVX2, %g without", w.loss, s.loss)
	}
}

// The scalar path passes the package's other kernel tests too (TestSoftmaxLargeLogits and
// TestAttentionForwardReference run with the default path).
func TestSoftmaxScalarPaths(t *testing.T) {
	for _, vec := range []bool{false, true} {
		t.Run(fmt.Sprint("avx2=", vec && haveAVX2), func(t *testing.T) {
			setAVX2(t, vec)
			TestSoftmaxLargeLogits(t)
			TestAttentionForwardReference(t)
		})
	}
}

// TestGELUBackwardRecomputes: GELUBackward with th nil gives the bits of GELUBackward with the
// th GELUForward saved — the AVX2 kernels and the scalar loops, at every tail length, for
// ordinary values, values past the tanh clamp, zeros of both signs, subnormals, infinities and
// NaN (any NaN for a NaN), over more elements than one parallel chunk.
func TestGELUBackwardRecomputes(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-40, -1e-39, 30, -30, 7.9, -7.9, 1e20, -1e20, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for _, avx := range []bool{false, true} {
		setAVX2(t, avx)
		for _, n := range []int{1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 3*4096 + 5} {
			x, dy := make([]float32, n), make([]float32, n)
			for i := range x {
				x[i], dy[i] = float32(r.NormFloat64()*3), float32(r.NormFloat64())
				if r.IntN(4) == 0 {
					x[i] = special[r.IntN(len(special))]
				}
			}
			y, th := make([]float32, n), make([]float32, n)
			GELUForward(y, th, x)
			want, got := make([]float32, n), make([]float32, n)
			GELUBackward(want, dy, x, th)
			GELUBackward(got, dy, x, nil)
			for i := range got {
				if want[i] != want[i] {
					require.True(t, got[i] != got[i], "avx %v n=%d i=%d x=%v: %v, want NaN", avx, n, i, x[i], got[i])
					continue
				}
				require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "avx %v n=%d i=%d x=%v", avx, n, i, x[i])
			}
		}
	}
}

// The 16-lane GELU kernels give the 8-lane ones' bits — forward with and without the tanh
// output, backward from saved and from recomputed tanh terms — on every length and alignment,
// with the special values (NaN, ±Inf, denormals, the saturation edge) among the inputs, and
// write only their range.
func TestGELUAVX512MatchesAVX2(t *testing.T) {
	needAVX2(t)
	if !haveAVX512 {
		t.Skip("no AVX-512 on this CPU: the 16-lane GELU kernels do not run here")
	}
	setAVX2(t, true)
	old := useAVX512
	t.Cleanup(func() { useAVX512 = old })
	rng := rand.New(rand.NewPCG(21, 22))
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e-40, -1e-39,
		7.9, -7.9, 5.45, -5.45, 1e20, -1e20, 0, float32(math.Copysign(0, -1))}
	const sentinel = float32(-12345)
	for _, n := range append(testLengths(), 4096+17) {
		for _, off := range []int{0, 1, 9} {
			m := off + n + 17
			x, dy, th := geluInputs(rng, m), make([]float32, m), make([]float32, m)
			for i := range x {
				dy[i] = float32(rng.NormFloat64())
				if rng.IntN(5) == 0 {
					x[i] = special[rng.IntN(len(special))]
				}
			}
			geluScalar(make([]float32, m), th, x)
			lo, hi := off, off+n
			type outs struct{ y, th, dxSaved, dxRecomputed []float32 }
			run := func(wide bool) outs {
				useAVX512 = wide
				o := outs{make([]float32, m), make([]float32, m), make([]float32, m), make([]float32, m)}
				for _, s := range [][]float32{o.y, o.th, o.dxSaved, o.dxRecomputed} {
					for i := range s {
						s[i] = sentinel
					}
				}
				GELURange(o.y, o.th, x, lo, hi)
				yNoTh := make([]float32, m)
				GELURange(yNoTh, nil, x, lo, hi)
				for i := lo; i < hi; i++ {
					if !sameBits(yNoTh[i], o.y[i]) {
						t.Fatalf("wide %v n=%d: GELU(%g) is %g without th, %g with it", wide, n, x[i], yNoTh[i], o.y[i])
					}
				}
				geluBackwardRange(o.dxSaved, dy, x, th, lo, hi)
				geluBackwardRange(o.dxRecomputed, dy, x, nil, lo, hi)
				return o
			}
			w, a := run(true), run(false)
			for _, c := range []struct {
				name      string
				got, want []float32
			}{{"y", w.y, a.y}, {"th", w.th, a.th}, {"dx from th", w.dxSaved, a.dxSaved}, {"dx recomputed", w.dxRecomputed, a.dxRecomputed}} {
				for i := range c.got {
					if (i < lo || i >= hi) && c.got[i] != sentinel {
						t.Fatalf("%s n=%d off=%d: wrote outside [%d,%d) at %d", c.name, n, off, lo, hi, i)
					}
					if !sameBits(c.got[i], c.want[i]) {
						t.Fatalf("%s n=%d off=%d at x=%g: 16 lanes %g (%#x), 8 lanes %g (%#x)", c.name, n, off, x[i],
							c.got[i], math.Float32bits(c.got[i]), c.want[i], math.Float32bits(c.want[i]))
					}
				}
			}
		}
	}
}

// softmaxRowGo is softmaxRowExact as plain Go loops: the reference whose bits it must give.
func softmaxRowGo(p, x []float32) float64 {
	mx := x[0]
	for _, v := range x[1:] {
		if v > mx {
			mx = v
		}
	}
	var sum float64
	for j, v := range x {
		e := Exp(v - mx)
		p[j] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for j := range p[:len(x)] {
		p[j] *= inv
	}
	return float64(mx) + math.Log(sum)
}

// expSubExactAVX2 gives Exp's bits on every element, the edge values of expInputs among them
// (the cuts, their neighbours, −Inf, NaN), on every length and alignment, and writes nothing
// past its length; softmaxRowExact gives plain Go's bits on logit rows of every length, with and
// without AVX2.
func TestSoftmaxRowExactMatchesGo(t *testing.T) {
	needAVX2(t)
	setAVX2(t, true)
	rng := rand.New(rand.NewPCG(23, 24))
	const sentinel = float32(-12345)
	for _, n := range append(testLengths(), 512) {
		for _, off := range []int{0, 3} {
			src := expInputs(rng, off+n+8)
			if n > 2 {
				src[off+1] = float32(math.NaN())
			}
			mx := float32(rng.NormFloat64())
			dst := make([]float32, len(src))
			for i := range dst {
				dst[i] = sentinel
			}
			if n > 0 {
				expSubExactAVX2(&dst[off], &src[off], n, mx)
			}
			for i := range dst {
				if i < off || i >= off+n {
					if dst[i] != sentinel {
						t.Fatalf("n=%d off=%d: wrote outside at %d", n, off, i)
					}
					continue
				}
				if want := Exp(src[i] - mx); !sameBits(dst[i], want) {
					t.Fatalf("Exp(%g − %g): %g (%#x), the Go function %g (%#x)", src[i], mx, dst[i], math.Float32bits(dst[i]), want, math.Float32bits(want))
				}
			}
		}
	}
	for _, v := range []int{1, 2, 3, 7, 8, 9, 65, 512, 1003} {
		for _, spread := range []float64{0.1, 3, 30, 1e4} {
			x := softmaxInputs(rng, v, spread)
			want := make([]float32, v)
			lzWant := softmaxRowGo(want, x)
			for _, avx := range []bool{true, false} {
				setAVX2(t, avx)
				got := make([]float32, v)
				lz := softmaxRowExact(got, x)
				if math.Float64bits(lz) != math.Float64bits(lzWant) {
					t.Fatalf("avx %v V=%d spread %g: log-partition %.17g, Go %.17g", avx, v, spread, lz, lzWant)
				}
				for j := range got {
					if !sameBits(got[j], want[j]) {
						t.Fatalf("avx %v V=%d spread %g: p[%d] = %g, Go %g", avx, v, spread, j, got[j], want[j])
					}
				}
			}
		}
	}
}

// sameBits reports whether a and b have the same bits, or are both NaN (which NaN x86 keeps
// follows the operand order, which the tests do not pin).
func sameBits(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}
