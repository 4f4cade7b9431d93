package mathx

import (
	"math"
	"testing"
)

// near reports whether got is within tol of want, relatively (or absolutely near zero).
func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func TestSigmoidExact(t *testing.T) {
	cases := []struct{ x, want float64 }{
		{0, 0.5},
		{math.Inf(1), 1},
		{math.Inf(-1), 0},
		{800, 1},               // e^800 overflows; the result must not be NaN
		{-800, 0},              // e^−800 underflows to 0
		{-700, math.Exp(-700)}, // still representable: full relative precision is kept
		{math.MaxFloat64, 1},
		{-math.MaxFloat64, 0},
	}
	for _, c := range cases {
		if got := Sigmoid(c.x); got != c.want {
			t.Errorf("Sigmoid(%g) = %g, want %g", c.x, got, c.want)
		}
	}
	if got := Sigmoid(math.NaN()); !math.IsNaN(got) {
		t.Errorf("Sigmoid(NaN) = %g, want NaN", got)
	}
}

func TestSoftplusExact(t *testing.T) {
	cases := []struct{ x, want float64 }{
		{0, math.Ln2},
		{math.Inf(1), math.Inf(1)},
		{math.Inf(-1), 0},
		{800, 800}, // log(1 + e^800) without overflow
		{1e300, 1e300},
		{-800, 0},
		{-700, math.Exp(-700)}, // log1p(e^x) ≈ e^x, not rounded to 0
		{math.MaxFloat64, math.MaxFloat64},
		{-math.MaxFloat64, 0},
	}
	for _, c := range cases {
		if got := Softplus(c.x); got != c.want {
			t.Errorf("Softplus(%g) = %g, want %g", c.x, got, c.want)
		}
	}
	if got := Softplus(math.NaN()); !math.IsNaN(got) {
		t.Errorf("Softplus(NaN) = %g, want NaN", got)
	}
}

// xs are test points spanning small, moderate and huge magnitudes of both signs.
var xs = func() []float64 {
	out := []float64{0, 1e-300, 1e-12, 1e-6, 0.1, 0.5, 1, 2, 5, 10, 20, 30, 36, 37, 40, 50, 100, 700, 710, 1000, 1e10, 1e300}
	for _, x := range out[1:] {
		out = append(out, -x)
	}
	return out
}()

func TestFiniteAndBounded(t *testing.T) {
	for _, x := range xs {
		s, sp := Sigmoid(x), Softplus(x)
		if math.IsNaN(s) || s < 0 || s > 1 {
			t.Errorf("Sigmoid(%g) = %g, want in [0, 1]", x, s)
		}
		if math.IsNaN(sp) || math.IsInf(sp, 0) || sp < 0 || sp < x {
			t.Errorf("Softplus(%g) = %g, want finite and ≥ max(x, 0)", x, sp)
		}
	}
}

func TestSigmoidSymmetry(t *testing.T) {
	for _, x := range xs {
		// σ(−x) = 1 − σ(x), up to a couple of ulps of 1 (the rounding of σ(x) near 1 and of
		// the subtraction).
		if got, want := Sigmoid(-x), 1-Sigmoid(x); math.Abs(got-want) > 4e-16 {
			t.Errorf("Sigmoid(%g) = %g, 1 − Sigmoid(%g) = %g", -x, got, x, want)
		}
		if got := Sigmoid(x) + Sigmoid(-x); !near(got, 1, 1e-15) {
			t.Errorf("Sigmoid(%g) + Sigmoid(%g) = %g, want 1", x, -x, got)
		}
	}
}

func TestSoftplusIdentity(t *testing.T) {
	for _, x := range xs {
		// softplus(x) − softplus(−x) = x.
		if got := Softplus(x) - Softplus(-x); !near(got, x, 1e-15) {
			t.Errorf("Softplus(%g) − Softplus(%g) = %g, want %g", x, -x, got, x)
		}
	}
}

func TestAgainstDirectFormula(t *testing.T) {
	// In [−30, 30] the textbook formulas are safe in float64.
	for i := -600; i <= 600; i++ {
		x := float64(i) / 20
		if got, want := Sigmoid(x), 1/(1+math.Exp(-x)); !near(got, want, 1e-15) {
			t.Errorf("Sigmoid(%g) = %.17g, direct formula %.17g", x, got, want)
		}
		if got, want := Softplus(x), math.Log(1+math.Exp(x)); !near(got, want, 1e-14) {
			t.Errorf("Softplus(%g) = %.17g, direct formula %.17g", x, got, want)
		}
	}
}

// TestSigmoidIsSoftplusDerivative checks d/dx softplus(x) = σ(x) by central differences.
func TestSigmoidIsSoftplusDerivative(t *testing.T) {
	const h = 1e-5
	for _, x := range []float64{-20, -3, -0.5, 0, 0.5, 3, 20} {
		num := (Softplus(x+h) - Softplus(x-h)) / (2 * h)
		if !near(num, Sigmoid(x), 1e-8) {
			t.Errorf("numerical Softplus'(%g) = %g, Sigmoid = %g", x, num, Sigmoid(x))
		}
	}
}
