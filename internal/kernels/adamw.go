package kernels

import "math"

// AdamWStep holds the constants of one AdamW step (see AdamWUpdate): the moment decay rates
// B1, B2 and their complements OneMinusB1 = 1−B1, OneMinusB2 = 1−B2 (each rounded once to
// float32 from float64), Eps, StepSize = lr / (1 − B1ᵗ), InvBC2Sqrt = 1 / √(1 − B2ᵗ) and
// LRWD = lr · weight decay (0 for parameters without decay).
type AdamWStep struct {
	B1, OneMinusB1, B2, OneMinusB2 float32
	Eps, StepSize, InvBC2Sqrt      float32
	LRWD                           float32
}

// AdamWUpdate applies one AdamW step to the parameters p with gradients g and the moments m
// and v, in place, element by element (g, m and v are at least as long as p):
//
//	m ← B1·m + (1−B1)·g
//	v ← B2·v + ((1−B2)·g)·g
//	p ← p − (LRWD·p + (StepSize·m) / (√v·InvBC2Sqrt + Eps))
//
// every operation rounded to float32 in this order (no fused multiply-add). With LRWD = 0 the
// decay term is left out rather than multiplied by zero, so an infinite p does not become NaN.
// On amd64 CPUs with AVX2 an assembly loop computes 8 elements at a time with the same
// operations (VSQRTPS is float32's correctly rounded square root, which is what
// float32(math.Sqrt(float64(v))) gives), so the bits equal the Go loop's, and any split of the
// slice gives the same bits.
func AdamWUpdate(p, g, m, v []float32, c *AdamWStep) {
	n := len(p)
	g, m, v = g[:n], m[:n], v[:n]
	done := 0
	if useAVX2 && n >= 8 {
		done = n &^ 7
		adamWAVX2(&p[0], &g[0], &m[0], &v[0], done, c)
	}
	adamWGo(p[done:], g[done:], m[done:], v[done:], c)
}

// adamWGo is AdamWUpdate's Go loop.
func adamWGo(p, g, m, v []float32, c *AdamWStep) {
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	b1, omb1, b2, omb2 := c.B1, c.OneMinusB1, c.B2, c.OneMinusB2
	eps, stepSize, inv, lrWD := c.Eps, c.StepSize, c.InvBC2Sqrt, c.LRWD
	if lrWD == 0 { // separate loop so that 0*p cannot turn an infinite p into NaN
		for i := range p {
			gi := g[i]
			mi := b1*m[i] + omb1*gi
			vi := b2*v[i] + omb2*gi*gi
			m[i], v[i] = mi, vi
			denom := float32(math.Sqrt(float64(vi)))*inv + eps
			p[i] -= stepSize * mi / denom
		}
		return
	}
	for i := range p {
		gi := g[i]
		mi := b1*m[i] + omb1*gi
		vi := b2*v[i] + omb2*gi*gi
		m[i], v[i] = mi, vi
		denom := float32(math.Sqrt(float64(vi)))*inv + eps
		p[i] -= lrWD*p[i] + stepSize*mi/denom
	}
}
