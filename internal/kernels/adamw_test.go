package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// adamWState returns n parameters, gradients and moments: special values first (zeros, an
// infinite parameter, a NaN gradient, subnormals, a gradient whose square overflows), then
// values of several scales, with the second moment non-negative as AdamW keeps it.
func adamWState(rng *rand.Rand, n int) (p, g, m, v []float32) {
	p, g, m, v = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	special := [][4]float32{
		{0, 0, 0, 0}, {inf, 0.5, 0.1, 0.2}, {1, nan, 0, 0}, {-inf, -1, 0, 1},
		{1e-40, 1e-41, 1e-42, 1e-43}, {2, 1e30, 0, 0}, {-3, -1e-20, 1e-10, 1e-30},
	}
	for i := range n {
		if i < len(special) {
			p[i], g[i], m[i], v[i] = special[i][0], special[i][1], special[i][2], special[i][3]
			continue
		}
		scale := float32(math.Pow(10, float64(rng.IntN(9)-6)))
		p[i] = float32(rng.NormFloat64()) * 0.1
		g[i] = float32(rng.NormFloat64()) * scale
		m[i] = float32(rng.NormFloat64()) * scale * 0.3
		v[i] = float32(rng.ExpFloat64()) * scale * scale
	}
	return p, g, m, v
}

// adamWSteps are the constants of steps with and without decay, early (large bias
// corrections) and late, including a decay of −0.
func adamWSteps() []AdamWStep {
	step := func(lr, wd float64, t int) AdamWStep {
		b1, b2 := 0.9, 0.95
		return AdamWStep{B1: float32(b1), OneMinusB1: float32(1 - b1), B2: float32(b2), OneMinusB2: float32(1 - b2),
			Eps: 1e-8, StepSize: float32(lr / (1 - math.Pow(b1, float64(t)))),
			InvBC2Sqrt: float32(1 / math.Sqrt(1-math.Pow(b2, float64(t)))), LRWD: float32(lr * wd)}
	}
	neg := step(3e-4, 0, 5)
	neg.LRWD = float32(math.Copysign(0, -1))
	return []AdamWStep{step(1e-3, 0.1, 1), step(1e-3, 0, 1), step(3e-4, 0.1, 1000), neg}
}

// TestAdamWAVX2MatchesGo: the assembly update gives the Go loop's bits for parameters,
// moments and every length's tail, with and without decay.
func TestAdamWAVX2MatchesGo(t *testing.T) {
	needAVX2(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for si, c := range adamWSteps() {
		for _, n := range testLengths() {
			p, g, m, v := adamWState(rng, n)
			wp, wm, wv := clone32(p), clone32(m), clone32(v)
			adamWGo(wp, g, wm, wv, &c)
			setAVX2(t, true)
			AdamWUpdate(p, g, m, v, &c)
			for i := range n {
				for _, x := range []struct {
					name      string
					got, want float32
				}{{"p", p[i], wp[i]}, {"m", m[i], wm[i]}, {"v", v[i], wv[i]}} {
					if math.Float32bits(x.got) != math.Float32bits(x.want) {
						t.Fatalf("step %d, n=%d: %s[%d] = %g (%#x), Go gives %g (%#x)", si, n, x.name, i,
							x.got, math.Float32bits(x.got), x.want, math.Float32bits(x.want))
					}
				}
			}
		}
	}
}

// TestAdamWUpdate: one step against the formula in float64 (each result within a few float32
// roundings), the decay term left out when LRWD is 0 (an infinite parameter stays infinite),
// and the same bits whatever chunks the slice is updated in.
func TestAdamWUpdate(t *testing.T) {
	for _, avx := range []bool{false, true} {
		t.Run(fmt.Sprint("avx2=", avx && haveAVX2), func(t *testing.T) {
			setAVX2(t, avx)
			rng := rand.New(rand.NewPCG(5, 6))
			c := adamWSteps()[0]
			p, g, m, v := adamWState(rng, 1003)
			p0, m0, v0 := clone32(p), clone32(m), clone32(v)
			AdamWUpdate(p, g, m, v, &c)
			for i := 8; i < len(p); i++ { // past the special values
				gi := float64(g[i])
				mi := float64(c.B1)*float64(m0[i]) + float64(c.OneMinusB1)*gi
				mScale := math.Abs(float64(c.B1)*float64(m0[i])) + math.Abs(float64(c.OneMinusB1)*gi)
				vi := float64(c.B2)*float64(v0[i]) + float64(c.OneMinusB2)*gi*gi
				step := float64(c.StepSize) * mi / (math.Sqrt(vi)*float64(c.InvBC2Sqrt) + float64(c.Eps))
				decay := float64(c.LRWD) * float64(p0[i])
				pi := float64(p0[i]) - (decay + step)
				pScale := math.Abs(float64(p0[i])) + math.Abs(decay) + math.Abs(step)*(1+mScale/math.Max(math.Abs(mi), 1e-30))
				// Each result within a few float32 roundings of the terms it sums (they can cancel).
				for _, x := range []struct {
					name             string
					got, want, scale float64
				}{{"m", float64(m[i]), mi, mScale}, {"v", float64(v[i]), vi, math.Abs(vi)}, {"p", float64(p[i]), pi, pScale}} {
					if d := math.Abs(x.got - x.want); d > 5e-7*x.scale {
						t.Fatalf("%s[%d] = %g, want %g", x.name, i, x.got, x.want)
					}
				}
			}

			inf := float32(math.Inf(1))
			nd := adamWSteps()[1]
			pp, gg, mm, vv := []float32{inf, 1}, []float32{0.5, 0.5}, []float32{0, 0}, []float32{0, 0}
			AdamWUpdate(pp, gg, mm, vv, &nd)
			if !math.IsInf(float64(pp[0]), 1) {
				t.Errorf("no decay: an infinite parameter became %g", pp[0])
			}

			whole := [4][]float32{clone32(p0), clone32(g), clone32(m0), clone32(v0)}
			AdamWUpdate(whole[0], whole[1], whole[2], whole[3], &c)
			parts := [4][]float32{clone32(p0), clone32(g), clone32(m0), clone32(v0)}
			for lo := 0; lo < len(p0); {
				hi := min(len(p0), lo+1+rng.IntN(37))
				AdamWUpdate(parts[0][lo:hi], parts[1][lo:hi], parts[2][lo:hi], parts[3][lo:hi], &c)
				lo = hi
			}
			for k := range 4 {
				for i := range whole[k] {
					if math.Float32bits(whole[k][i]) != math.Float32bits(parts[k][i]) {
						t.Fatalf("array %d [%d]: %g in chunks, %g whole", k, i, parts[k][i], whole[k][i])
					}
				}
			}
		})
	}
}

func clone32(x []float32) []float32 { return append([]float32(nil), x...) }
