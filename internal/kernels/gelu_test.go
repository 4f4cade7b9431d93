package kernels

import (
	"math"
	"testing"
)

// GELURange and GELUForward compute GELU's tanh form to float32 accuracy, and save the tanh
// term, over the whole range (saturation included).
func TestGELUForwardValues(t *testing.T) {
	var x []float32
	for v := -12.0; v <= 12.0; v += 0.00731 {
		x = append(x, float32(v))
	}
	x = append(x, 0, 1e-6, -1e-6, 30, -30, 1e4, -1e4)
	y, th := make([]float32, len(x)), make([]float32, len(x))
	GELUForward(y, th, x)
	for i, v := range x {
		xv := float64(v)
		tw := math.Tanh(math.Sqrt(2/math.Pi) * (xv + 0.044715*xv*xv*xv))
		want := 0.5 * xv * (1 + tw)
		if d := math.Abs(float64(y[i]) - want); d > 2e-6*(1+math.Abs(want)) {
			t.Fatalf("GELU(%g) = %g, want %g", v, y[i], want)
		}
		if d := math.Abs(float64(th[i]) - tw); d > 2e-6 {
			t.Fatalf("tanh term at %g = %g, want %g", v, th[i], tw)
		}
	}
	// The range form writes only its range.
	z := make([]float32, len(x))
	GELURange(z, nil, x, 10, 20)
	for i, v := range z {
		if (i < 10 || i >= 20) && v != 0 {
			t.Fatalf("GELURange wrote outside its range at %d", i)
		}
		if i >= 10 && i < 20 && v != y[i] {
			t.Fatalf("GELURange(%d) = %g, GELUForward %g", i, v, y[i])
		}
	}
}
