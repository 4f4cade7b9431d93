package kernels

import "math"

// LayerNormEps is the epsilon added to the variance, as in GPT-2 and PyTorch's default.
const LayerNormEps = 1e-5

// LayerNormForward normalises each of the rows of x (rows×cols) to zero mean and unit
// variance, then applies the affine weight w and bias b (length cols). It writes out and, when
// they are non-nil, the per-row mean and reciprocal standard deviation used by the backward pass.
func LayerNormForward(out, mean, rstd, x, w, b []float32, rows, cols int) {
	layerNormTasks.parallelFor(rows, 16, layerNormArgs{out: out, mean: mean, rstd: rstd, x: x, w: w, b: b, rows: rows, cols: cols},
		func(a *layerNormArgs, lo, hi int) {
			LayerNormRows(a.out, a.mean, a.rstd, a.x, a.w, a.b, a.cols, lo, hi)
		})
}

// layerNormArgs are the arguments of the LayerNorm kernels' ranges: out is the output, or dx
// for the backward pass.
type layerNormArgs struct {
	out, mean, rstd, x, w, b []float32
	dw, db, dout             []float32
	rows, cols               int
}

var layerNormTasks tasks[layerNormArgs]

// LayerNormRows is LayerNormForward for rows lo..hi−1 on the calling goroutine, without
// allocating (the inference engine calls it for its few rows per decode step).
func LayerNormRows(out, mean, rstd, x, w, b []float32, cols, lo, hi int) {
	if useAVX512 && hi-lo >= lnMinRows && cols > 0 {
		layerNormRowsAVX512(out, mean, rstd, x, w, b, cols, lo, hi)
		return
	}
	if useAVX2 && hi-lo >= lnMinRows && cols > 0 {
		layerNormRowsAVX2(out, mean, rstd, x, w, b, cols, lo, hi)
		return
	}
	for r := lo; r < hi; r++ {
		xr := x[r*cols : (r+1)*cols]
		or := out[r*cols : (r+1)*cols]
		var s float64
		for _, v := range xr {
			s += float64(v)
		}
		m := s / float64(cols)
		var ss float64
		for _, v := range xr {
			d := float64(v) - m
			ss += d * d
		}
		rs := 1 / math.Sqrt(ss/float64(cols)+LayerNormEps)
		m32, rs32 := float32(m), float32(rs)
		for j, v := range xr {
			or[j] = (v-m32)*rs32*w[j] + b[j]
		}
		if mean != nil {
			mean[r] = m32
			rstd[r] = rs32
		}
	}
}

// lnMinRows is the fewest rows the AVX-512 kernels take: with fewer, most of each gather's
// lanes are idle and the Go loop is as fast or faster (width 128: one row 0.55 µs against
// 1.1 µs, three rows 1.27 against 1.19, four 1.49 against 1.20, eight 2.83 against 1.20).
const lnMinRows = 4

// rowOffsets returns i·cols for i < 16, the gathers' indices.
func rowOffsets(cols int) (idx [16]int32) {
	for i := range idx {
		idx[i] = int32(i * cols)
	}
	return idx
}

// layerNormRowsAVX512 is LayerNormRows on the AVX-512 kernels, 16 rows at a time.
func layerNormRowsAVX512(out, mean, rstd, x, w, b []float32, cols, lo, hi int) {
	_, _, _ = x[hi*cols-1], w[cols-1], b[cols-1]
	_ = out[hi*cols-1]
	idx := rowOffsets(cols)
	var m16, r16 [16]float32
	for r := lo; r < hi; r += 16 {
		n := min(16, hi-r)
		lnStatsAVX512(&x[r*cols], cols, &idx[0], 1<<n-1, &m16[0], &r16[0])
		for i := range n {
			o := (r + i) * cols
			lnApplyAVX512(&out[o], &x[o], &w[0], &b[0], cols, m16[i], r16[i])
		}
		if mean != nil {
			copy(mean[r:r+n], m16[:n])
			copy(rstd[r:r+n], r16[:n])
		}
	}
}

// LayerNormBackward computes the gradients of LayerNormForward: dx (rows×cols), and dw and db
// (length cols), from the upstream gradient dout and the saved mean and rstd.
func LayerNormBackward(dx, dw, db, dout, x, mean, rstd, w []float32, rows, cols int) {
	if useAVX512 && cols > 0 && rows > 0 {
		layerNormBackwardAVX512(dx, dw, db, dout, x, mean, rstd, w, rows, cols)
		return
	}
	if useAVX2 && cols > 0 && rows > 0 {
		layerNormBackwardAVX2(dx, dw, db, dout, x, mean, rstd, w, rows, cols)
		return
	}
	args := layerNormArgs{out: dx, dw: dw, db: db, dout: dout, x: x, mean: mean, rstd: rstd, w: w, rows: rows, cols: cols}
	// dx: row-parallel.
	layerNormTasks.parallelFor(rows, 16, args, func(a *layerNormArgs, lo, hi int) {
		dx, dout, x, mean, rstd, w, cols := a.out, a.dout, a.x, a.mean, a.rstd, a.w, a.cols
		for r := lo; r < hi; r++ {
			xr := x[r*cols : (r+1)*cols]
			gr := dout[r*cols : (r+1)*cols]
			dxr := dx[r*cols : (r+1)*cols]
			m, rs := mean[r], rstd[r]
			// dxhat = g*w; dx = rs * (dxhat - mean(dxhat) - xhat*mean(dxhat*xhat))
			var sum1, sum2 float32
			for j, g := range gr {
				dh := g * w[j]
				sum1 += dh
				sum2 += dh * (xr[j] - m) * rs
			}
			sum1 /= float32(cols)
			sum2 /= float32(cols)
			for j, g := range gr {
				xh := (xr[j] - m) * rs
				dxr[j] = rs * (g*w[j] - sum1 - xh*sum2)
			}
		}
	})
	// dw, db: column-parallel so no partial sums are needed.
	layerNormTasks.parallelFor(cols, 32, args, func(a *layerNormArgs, lo, hi int) {
		layerNormDwGo(a.dw, a.db, a.dout, a.x, a.mean, a.rstd, a.rows, a.cols, lo, hi)
	})
}

// layerNormDwGo sets dw and db of LayerNormBackward for the columns lo..hi−1.
func layerNormDwGo(dw, db, dout, x, mean, rstd []float32, rows, cols, lo, hi int) {
	dwc, dbc := dw[lo:hi], db[lo:hi]
	for j := range dwc {
		dwc[j], dbc[j] = 0, 0
	}
	for r := 0; r < rows; r++ {
		xr := x[r*cols+lo : r*cols+hi]
		gr := dout[r*cols+lo : r*cols+hi]
		m, rs := mean[r], rstd[r]
		for j, g := range gr {
			dwc[j] += g * (xr[j] - m) * rs
			dbc[j] += g
		}
	}
}

// rowOffsets8 returns i·cols for i < 8 and laneMask8 −1 in the lanes i < n, the AVX2
// gathers' indices and mask.
func rowOffsets8(cols int) (idx [8]int32) {
	for i := range idx {
		idx[i] = int32(i * cols)
	}
	return idx
}

func laneMask8(n int) (mask [8]int32) {
	for i := range n {
		mask[i] = -1
	}
	return mask
}

// layerNormRowsAVX2 is LayerNormRows on the AVX2 kernels, 8 rows at a time; the last cols mod
// 8 columns of each row in Go, with the same operations.
func layerNormRowsAVX2(out, mean, rstd, x, w, b []float32, cols, lo, hi int) {
	_, _, _ = x[hi*cols-1], w[cols-1], b[cols-1]
	_ = out[hi*cols-1]
	idx := rowOffsets8(cols)
	cols8 := cols &^ 7
	var m8, r8 [8]float32
	for r := lo; r < hi; r += 8 {
		n := min(8, hi-r)
		mask := laneMask8(n)
		lnStatsAVX2(&x[r*cols], cols, &idx[0], &mask[0], &m8[0], &r8[0])
		for i := range n {
			o := (r + i) * cols
			m, rs := m8[i], r8[i]
			if cols8 > 0 {
				lnApplyAVX2(&out[o], &x[o], &w[0], &b[0], cols8, m, rs)
			}
			for j := cols8; j < cols; j++ {
				out[o+j] = (x[o+j]-m)*rs*w[j] + b[j]
			}
		}
		if mean != nil {
			copy(mean[r:r+n], m8[:n])
			copy(rstd[r:r+n], r8[:n])
		}
	}
}

// layerNormBackwardAVX2 is LayerNormBackward on the AVX2 kernels: the dx pass 8 rows at a
// time, dw and db 32 columns at a time; the columns past them in Go, with the same operations.
func layerNormBackwardAVX2(dx, dw, db, dout, x, mean, rstd, w []float32, rows, cols int) {
	_, _, _ = dx[rows*cols-1], dout[rows*cols-1], x[rows*cols-1]
	_, _, _, _, _ = mean[rows-1], rstd[rows-1], w[cols-1], dw[cols-1], db[cols-1]
	args := layerNormArgs{out: dx, dw: dw, db: db, dout: dout, x: x, mean: mean, rstd: rstd, w: w, rows: rows, cols: cols}
	layerNormTasks.parallelFor(rows, 16, args, func(a *layerNormArgs, lo, hi int) {
		dx, dout, x, mean, rstd, w, cols := a.out, a.dout, a.x, a.mean, a.rstd, a.w, a.cols
		cols8 := cols &^ 7
		idx := rowOffsets8(cols)
		var m8, r8, s1, s2 [8]float32
		for r := lo; r < hi; r += 8 {
			n := min(8, hi-r)
			mask := laneMask8(n)
			copy(m8[:], mean[r:r+n])
			copy(r8[:], rstd[r:r+n])
			lnBackSumsAVX2(&dout[r*cols], &x[r*cols], &w[0], cols, &idx[0], &mask[0], &m8[0], &r8[0], &s1[0], &s2[0])
			for i := range n {
				o := (r + i) * cols
				m, rs, sum1, sum2 := m8[i], r8[i], s1[i], s2[i]
				if cols8 > 0 {
					lnBackDxAVX2(&dx[o], &dout[o], &x[o], &w[0], cols8, m, rs, sum1, sum2)
				}
				for j := cols8; j < cols; j++ {
					xh := (x[o+j] - m) * rs
					dx[o+j] = rs * (dout[o+j]*w[j] - sum1 - xh*sum2)
				}
			}
		}
	})
	layerNormTasks.parallelFor(cols, 32, args, func(a *layerNormArgs, lo, hi int) {
		dw, db, dout, x, mean, rstd, rows, cols := a.dw, a.db, a.dout, a.x, a.mean, a.rstd, a.rows, a.cols
		c := lo
		for ; c+32 <= hi; c += 32 {
			lnBackDwAVX2(&dw[c], &db[c], &dout[c], &x[c], &mean[0], &rstd[0], rows, cols)
		}
		if c < hi {
			layerNormDwGo(dw, db, dout, x, mean, rstd, rows, cols, c, hi)
		}
	})
}

// layerNormBackwardAVX512 is LayerNormBackward on the AVX-512 kernels: the dx pass 16 rows at
// a time, dw and db 64 columns at a time.
func layerNormBackwardAVX512(dx, dw, db, dout, x, mean, rstd, w []float32, rows, cols int) {
	_, _, _ = dx[rows*cols-1], dout[rows*cols-1], x[rows*cols-1]
	_, _, _, _, _ = mean[rows-1], rstd[rows-1], w[cols-1], dw[cols-1], db[cols-1]
	args := layerNormArgs{out: dx, dw: dw, db: db, dout: dout, x: x, mean: mean, rstd: rstd, w: w, rows: rows, cols: cols}
	layerNormTasks.parallelFor(rows, 16, args, func(a *layerNormArgs, lo, hi int) {
		dx, dout, x, mean, rstd, w, cols := a.out, a.dout, a.x, a.mean, a.rstd, a.w, a.cols
		idx := rowOffsets(cols)
		var m16, r16, s1, s2 [16]float32
		for r := lo; r < hi; r += 16 {
			n := min(16, hi-r)
			copy(m16[:], mean[r:r+n])
			copy(r16[:], rstd[r:r+n])
			lnBackSumsAVX512(&dout[r*cols], &x[r*cols], &w[0], cols, &idx[0], 1<<n-1, &m16[0], &r16[0], &s1[0], &s2[0])
			for i := range n {
				o := (r + i) * cols
				lnBackDxAVX512(&dx[o], &dout[o], &x[o], &w[0], cols, m16[i], r16[i], s1[i], s2[i])
			}
		}
	})
	layerNormTasks.parallelFor(cols, 32, args, func(a *layerNormArgs, lo, hi int) {
		dw, db, dout, x, mean, rstd, rows, cols := a.dw, a.db, a.dout, a.x, a.mean, a.rstd, a.rows, a.cols
		for c := lo; c < hi; c += 64 {
			n := min(64, hi-c)
			mask := ^uint64(0)
			if n < 64 {
				mask = 1<<n - 1
			}
			lnBackDwAVX512(&dw[c], &db[c], &dout[c], &x[c], &mean[0], &rstd[0], rows, cols, mask)
		}
	})
}

// Constants of GELU's tanh approximation.
const (
	geluC = 0.7978845608028654 // sqrt(2/pi)
	geluA = 0.044715
)

// GELUForward applies GELU in its tanh form, y = x/2·(1 + tanh(√(2/π)(x + 0.044715x³))), to
// every element of x. When th is non-nil it stores the tanh term for the backward pass.
func GELUForward(y, th, x []float32) {
	geluTasks.parallelFor(len(x), 4096, geluArgs{y: y, th: th, x: x}, func(a *geluArgs, lo, hi int) { GELURange(a.y, a.th, a.x, lo, hi) })
}

// geluArgs are the arguments of the GELU kernels' ranges: y is the output, or dx for the
// backward pass.
type geluArgs struct{ y, th, x, dy []float32 }

var geluTasks tasks[geluArgs]

// GELURange is GELUForward for elements lo..hi−1 on the calling goroutine, without allocating.
// With AVX2 and FMA it runs the 8-lane assembly kernel geluAVX2 (the last (hi−lo) mod 8
// elements under a lane mask, so each element's bits do not depend on where a range starts or
// ends), or with AVX-512 its 16-lane twin geluAVX512 (the same bits); otherwise geluScalar.
func GELURange(y, th, x []float32, lo, hi int) {
	x = x[lo:hi]
	y = y[lo:hi][:len(x)]
	var ts []float32
	if th != nil {
		ts = th[lo:hi][:len(x)]
	}
	if useAVX2 {
		if len(x) > 0 {
			var tp *float32
			if ts != nil {
				tp = &ts[0]
			}
			if useAVX512 {
				geluAVX512(&y[0], tp, &x[0], len(x))
			} else {
				geluAVX2(&y[0], tp, &x[0], len(x))
			}
		}
		return
	}
	geluScalar(y, ts, x)
}

// geluScalar sets y[i] = GELU(x[i]) for every i (len(y) ≥ len(x)) and, when ts is non-nil,
// ts[i] to the tanh term. The tanh is Tanh's rational approximation written out in the loop:
// the call and the small-argument test cost as much as the arithmetic (BenchmarkGELU: 13 →
// 6.6 ns/element).
//
// Past ±tanhClamp the tanh term is set to ±1 outright. Evaluated with separate multiplies and
// adds the approximation gives exactly ±1 there anyway, but where the compiler fuses them into
// FMAs (arm64, GOAMD64=v3) it gives 1 − 2⁻²², which would make GELU(−30) −3.6e-6 rather than
// 0 and leave 1 − t² nonzero in the backward pass.
func geluScalar(y, ts, x []float32) {
	for i, v := range x {
		t := geluTanh(v)
		if ts != nil {
			ts[i] = t
		}
		y[i] = 0.5 * v * (1 + t)
	}
}

// geluTanh is GELU's tanh term of v as geluScalar computes it: the tanh of
// √(2/π)(v + 0.044715v³), ±1 past ±tanhClamp.
func geluTanh(v float32) float32 {
	u := geluC * (v + geluA*v*v*v)
	switch {
	case u >= tanhClamp:
		return 1
	case u <= -tanhClamp:
		return -1
	}
	return tanhRational(u)
}

// GELUBackward computes dx = dy·GELU'(x) from the tanh terms saved by GELUForward, or, with
// th nil, from the tanh terms recomputed from x by GELUForward's own instructions — the same
// bits (TestGELUBackwardRecomputes). The model recomputes them: GELU is bound by memory
// traffic rather than arithmetic, and a saved th is a buffer as large as x written by the
// forward pass and read by the backward one.
func GELUBackward(dx, dy, x, th []float32) {
	geluTasks.parallelFor(len(x), 4096, geluArgs{y: dx, th: th, x: x, dy: dy}, func(a *geluArgs, lo, hi int) {
		geluBackwardRange(a.y, a.dy, a.x, a.th, lo, hi)
	})
}

// geluBackwardRange is GELUBackward for elements lo..hi−1 on the calling goroutine: the
// assembly kernels geluBackwardAVX2 (th saved) or geluBackwardTanhAVX2 (th nil) with AVX2 and
// FMA (their 16-lane twins, the same bits, with AVX-512), else geluBackwardScalar.
func geluBackwardRange(dx, dy, x, th []float32, lo, hi int) {
	x = x[lo:hi]
	n := len(x)
	dx, dy = dx[lo:hi][:n], dy[lo:hi][:n]
	if th != nil {
		th = th[lo:hi][:n]
	}
	if useAVX2 {
		switch {
		case n == 0:
		case th == nil && useAVX512:
			geluBackwardTanhAVX512(&dx[0], &dy[0], &x[0], n)
		case th == nil:
			geluBackwardTanhAVX2(&dx[0], &dy[0], &x[0], n)
		case useAVX512:
			geluBackwardAVX512(&dx[0], &dy[0], &x[0], &th[0], n)
		default:
			geluBackwardAVX2(&dx[0], &dy[0], &x[0], &th[0], n)
		}
		return
	}
	geluBackwardScalar(dx, dy, x, th)
}

// geluBackwardScalar sets dx[i] = dy[i]·GELU'(x[i]) for every i of x, from the tanh terms th
// (recomputed by geluTanh where th is nil).
func geluBackwardScalar(dx, dy, x, th []float32) {
	for i, v := range x {
		var t float32
		if th != nil {
			t = th[i]
		} else {
			t = geluTanh(v)
		}
		d := 0.5*(1+t) + 0.5*v*(1-t*t)*geluC*(1+3*geluA*v*v)
		dx[i] = dy[i] * d
	}
}

// tanhClamp is where Tanh's rational approximation reaches ±1 in float32 (evaluated without
// fused multiply-adds).
const tanhClamp = 7.90531110763549805

// Tanh is a fast float32 hyperbolic tangent (a rational approximation, as used by Eigen and
// XLA), accurate to a few ulp and monotone; it is exact in sign and saturates at ±1.
//
// Past ±tanhClamp it returns ±1 outright (see geluScalar: with fused multiply-adds the
// approximation would give 1 − 2⁻²² there).
func Tanh(x float32) float32 {
	if x >= tanhClamp {
		return 1
	} else if x <= -tanhClamp {
		return -1
	}
	if x < 0.0004 && x > -0.0004 {
		return x
	}
	return tanhRational(x)
}

// tanhRational is the rational approximation behind Tanh and the scalar GELU (Eigen's and
// XLA's), for |x| < tanhClamp; small enough to be inlined.
func tanhRational(x float32) float32 {
	x2 := x * x
	p := ((((((-2.76076847742355e-16*x2+2.00018790482477e-13)*x2+-8.60467152213735e-11)*x2+
		5.12229709037114e-08)*x2+1.48572235717979e-05)*x2+6.37261928875436e-04)*x2 + 4.89352455891786e-03) * x
	q := (((1.19825839466702e-06*x2+1.18534705686654e-04)*x2+2.26843463243900e-03)*x2 + 4.89352518554385e-03)
	return p / q
}
