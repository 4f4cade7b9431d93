package kernels

import (
	"math"

	"github.com/tinychat-go/tinychat/internal/blas"
)

// AttentionShape describes a fused causal self-attention call. The input qkv has
// Batch·Block rows of 3·Heads·HeadDim columns: the queries, then the keys, then the values,
// each laid out as [Heads, HeadDim] — the [B, T, H, d] layout that x·W_attn produces, so no
// transposed copies are made.
type AttentionShape struct {
	Batch, Block, Heads, HeadDim int
}

// Width is Heads·HeadDim, the model width.
func (s AttentionShape) Width() int { return s.Heads * s.HeadDim }

// ProbsLen is the length of the saved attention-probability buffer: Batch·Heads·Block·Block.
func (s AttentionShape) ProbsLen() int { return s.Batch * s.Heads * s.Block * s.Block }

// AttentionForward computes y = softmax(mask(q·kᵀ/√d))·v for every batch row and head, with
// a causal mask, writing y (Batch·Block × Width) and the attention probabilities probs
// (ProbsLen floats; zero above the diagonal) for the backward pass.
//
// pos, when not nil, packs several sequences into one row (Batch·Block values, each row's
// position within its sequence: 0 where a sequence starts, else the previous row's plus one):
// row t then attends only to the keys t−pos[t] … t of its own sequence, its probabilities
// zero elsewhere, so each sequence's outputs are those it would have alone in a row
// (TestAttentionPackedMatchesAlone). AttentionBackward needs no pos: the zero probabilities
// carry the mask. nil is one sequence per row.
//
// The products skip what the mask zeroes: the scores are computed in blocks of causalRows rows
// (causalBlocks), each reaching only the keys up to its last row — 0.63 of the full product at
// a block of 192 (blocks below 96 rows stay whole) — and the weighted values P·V 6 rows at a
// time, each reaching the keys up to its last row (blas.SgemmTriangularSerial: 0.52 of the full
// product at 192; blocks of causalRows where it declines: a native BLAS, a head size other than
// 16 or 32 (or 64 on a CPU with AVX-512), a block past 256). Each element is the same chain of
// multiply-adds as in the full product, only without the terms whose probability is zero, so on
// the pure-Go GEMM the results are the full product's bits (TestAttentionCausalBlocksMatchFull) while the heads' k stays
// within one of the GEMM's k blocks (gemmKC, 256 steps). The heads are spread over the cores,
// so each head's products run on its goroutine (blas.SgemmSerial) rather than being split
// again.
func AttentionForward(y, probs, qkv []float32, pos []int32, s AttentionShape) {
	attentionTasks.parallelFor(s.Batch*s.Heads, 1, attentionArgs{y: y, probs: probs, qkv: qkv, pos: pos, s: s}, attentionForwardHeads)
}

// attentionArgs are the arguments of the attention kernels' ranges of heads: y is the output,
// or dy for the backward pass.
type attentionArgs struct {
	y, probs, qkv []float32
	pos           []int32
	dqkv, scratch []float32
	s             AttentionShape
}

var attentionTasks tasks[attentionArgs]

// attentionForwardHeads is AttentionForward for the (batch row, head) pairs lo..hi−1.
func attentionForwardHeads(a *attentionArgs, lo, hi int) {
	y, probs, qkv, pos, s := a.y, a.probs, a.qkv, a.pos, a.s
	T, d, C := s.Block, s.HeadDim, s.Width()
	scale := float32(1 / math.Sqrt(float64(d)))
	for bh := lo; bh < hi; bh++ {
		b, h := bh/s.Heads, bh%s.Heads
		base := b * T * 3 * C
		q := qkv[base+h*d:]
		k := qkv[base+C+h*d:]
		v := qkv[base+2*C+h*d:]
		p := probs[bh*T*T : (bh+1)*T*T]
		for r0, r1 := range causalBlocks(T) {
			blas.SgemmSerial(false, true, r1-r0, r1, d, scale, q[r0*3*C:], 3*C, k, 3*C, 0, p[r0*T:], T)
			for t := r0; t < r1; t++ {
				if pos == nil {
					causalSoftmaxRow(p[t*T:(t+1)*T], t+1)
					continue
				}
				first := t - int(pos[b*T+t])
				clear(p[t*T : t*T+first])
				causalSoftmaxRow(p[t*T+first:(t+1)*T], t+1-first)
			}
		}
		// Y = P·V, P lower-triangular.
		yh := y[b*T*C+h*d:]
		if !blas.SgemmTriangularSerial(false, false, T, d, 1, p, T, v, 3*C, yh, C) {
			for r0, r1 := range causalBlocks(T) {
				blas.SgemmSerial(false, false, r1-r0, d, r1, 1, p[r0*T:], T, v, 3*C, 0, yh[r0*C:], C)
			}
		}
	}
}

// causalRows is the number of rows in one block of a head's causal products (see
// AttentionForward): a multiple of the GEMM's 6-row tiles and 16-column panels. Of 48, 64 and
// 96, 48 was fastest at T = 192 (go test -run '^$' -bench 'Attention$' ./internal/kernels/,
// three rounds alternated: 3.56–3.61 ms against 3.81–4.17 and 3.70–4.20).
const causalRows = 48

// causalBlocks yields the row blocks [r0, r1) that cover [0, T): causalRows each, the last
// one taking a remainder of fewer than 8 rows, so that no block is small enough for the
// GEMM's few-row path; a T below 2·causalRows is one block (at T = 64, two blocks saved 19% of
// the products' work and took 2% longer: BenchmarkAttention).
func causalBlocks(T int) func(yield func(r0, r1 int) bool) {
	return func(yield func(r0, r1 int) bool) {
		if T < 2*causalRows {
			yield(0, T)
			return
		}
		for r0 := 0; r0 < T; {
			r1 := min(r0+causalRows, T)
			if T-r1 < 8 {
				r1 = T
			}
			if !yield(r0, r1) {
				return
			}
			r0 = r1
		}
	}
}

// causalSoftmaxRow replaces row[:n] by its softmax and zeroes row[n:]. With AVX2 and FMA the
// maximum, the exponentials (summed in float64) and the scaling run as 8-lane assembly;
// otherwise causalSoftmaxRowScalar.
func causalSoftmaxRow(row []float32, n int) {
	if !useAVX2 || n <= 0 {
		causalSoftmaxRowScalar(row, n)
		return
	}
	r := row[:n]
	mx := maxAVX2(&r[0], n)
	sum := expSubSumAVX2(&r[0], &r[0], n, mx)
	scaleAVX2(&r[0], n, float32(1/sum))
	clear(row[n:])
}

// causalSoftmaxRowScalar is causalSoftmaxRow in plain Go, with a float32 sum.
func causalSoftmaxRowScalar(row []float32, n int) {
	mx := row[0]
	for _, v := range row[1:n] {
		if v > mx {
			mx = v
		}
	}
	var sum float32
	for j := 0; j < n; j++ {
		e := Exp(row[j] - mx)
		row[j] = e
		sum += e
	}
	inv := 1 / sum
	for j := 0; j < n; j++ {
		row[j] *= inv
	}
	for j := n; j < len(row); j++ {
		row[j] = 0
	}
}

// rowMax returns the largest element of x (len(x) ≥ 1), ignoring NaNs after x[0].
func rowMax(x []float32) float32 {
	if useAVX2 {
		return maxAVX2(&x[0], len(x))
	}
	mx := x[0]
	for _, v := range x[1:] {
		if v > mx {
			mx = v
		}
	}
	return mx
}

// expSubSum sets dst[j] = Exp(src[j] − mx) for every j of src (dst may be src; len(dst) ≥
// len(src)) and returns the sum of the results in float64. It is the exponential pass of a
// softmax row, mx being the row's maximum; with AVX2 and FMA it runs the 8-lane assembly
// kernel expSubSumAVX2, which follows Exp's range reduction and polynomial (with fused
// multiply-adds) and its cut-offs: exactly 0 below −87.33654, +Inf above 88.37626.
func expSubSum(dst, src []float32, mx float32) float64 {
	if len(src) == 0 {
		return 0
	}
	dst = dst[:len(src)]
	if useAVX2 {
		return expSubSumAVX2(&dst[0], &src[0], len(src), mx)
	}
	var sum float64
	for j, v := range src {
		e := Exp(v - mx)
		dst[j] = e
		sum += float64(e)
	}
	return sum
}

// scaleRow multiplies every element of x by s.
func scaleRow(x []float32, s float32) {
	if useAVX2 {
		if len(x) > 0 {
			scaleAVX2(&x[0], len(x), s)
		}
		return
	}
	for j := range x {
		x[j] *= s
	}
}

// AttentionBackward computes dqkv from the upstream gradient dy, the input qkv and the probs
// saved by AttentionForward. scratch must hold ProbsLen floats. Its products skip the masked
// half as AttentionForward's do: the rows of dP in blocks reaching the keys up to the block's
// last row; dQ = dS·K (dS lower-triangular) and dV = Pᵀ·dY and dK = dSᵀ·Q (upper-triangular)
// 6 rows at a time (blas.SgemmTriangularSerial), or where it declines in blocks of causalRows —
// the rows of dQ reaching the keys up to the block's last row, the rows of dV and dK (columns of
// P) the queries from the block's first row on.
func AttentionBackward(dqkv, dy, qkv, probs, scratch []float32, s AttentionShape) {
	attentionTasks.parallelFor(s.Batch*s.Heads, 1, attentionArgs{y: dy, probs: probs, qkv: qkv, dqkv: dqkv, scratch: scratch, s: s}, attentionBackwardHeads)
}

// attentionBackwardHeads is AttentionBackward for the (batch row, head) pairs lo..hi−1.
func attentionBackwardHeads(a *attentionArgs, lo, hi int) {
	dqkv, dy, qkv, probs, scratch, s := a.dqkv, a.y, a.qkv, a.probs, a.scratch, a.s
	T, d, C := s.Block, s.HeadDim, s.Width()
	scale := float32(1 / math.Sqrt(float64(d)))
	for bh := lo; bh < hi; bh++ {
		b, h := bh/s.Heads, bh%s.Heads
		base := b * T * 3 * C
		q, k, v := qkv[base+h*d:], qkv[base+C+h*d:], qkv[base+2*C+h*d:]
		dq, dk, dv := dqkv[base+h*d:], dqkv[base+C+h*d:], dqkv[base+2*C+h*d:]
		dyh := dy[b*T*C+h*d:]
		p := probs[bh*T*T : (bh+1)*T*T]
		dp := scratch[bh*T*T : (bh+1)*T*T]
		// dP = dY·Vᵀ, dV = Pᵀ·dY
		for r0, r1 := range causalBlocks(T) {
			blas.SgemmSerial(false, true, r1-r0, r1, d, 1, dyh[r0*C:], C, v, 3*C, 0, dp[r0*T:], T)
		}
		if !blas.SgemmTriangularSerial(true, true, T, d, 1, p, T, dyh, C, dv, 3*C) {
			for c0, c1 := range causalBlocks(T) {
				blas.SgemmSerial(true, false, c1-c0, d, T-c0, 1, p[c0*T+c0:], T, dyh[c0*C:], C, 0, dv[c0*3*C:], 3*C)
			}
		}
		softmaxBackwardCausal(dp, p, T)
		// dQ = scale·dS·K, dK = scale·dSᵀ·Q
		if !blas.SgemmTriangularSerial(false, false, T, d, scale, dp, T, k, 3*C, dq, 3*C) {
			for r0, r1 := range causalBlocks(T) {
				blas.SgemmSerial(false, false, r1-r0, d, r1, scale, dp[r0*T:], T, k, 3*C, 0, dq[r0*3*C:], 3*C)
			}
		}
		if !blas.SgemmTriangularSerial(true, true, T, d, scale, dp, T, q, 3*C, dk, 3*C) {
			for c0, c1 := range causalBlocks(T) {
				blas.SgemmSerial(true, false, c1-c0, d, T-c0, scale, dp[c0*T+c0:], T, q[c0*3*C:], 3*C, 0, dk[c0*3*C:], 3*C)
			}
		}
	}
}

// softmaxBackwardCausal turns dP (T×T, row t's first t+1 entries) into the scores' gradient
// dS = P ⊙ (dP − rowsum(P ⊙ dP)) in place, with zeros above the diagonal, where P = 0.
//
// Each row's sum is one float32 chain in column order (a multiply, then an add), whose
// latency bounds a row at a time; four rows' chains are interleaved so that the core overlaps
// them, each still in its own order, so the bits do not change (TestSoftmaxBackwardCausal
// against the row-at-a-time loop, softmaxBackwardCausalRows). The element-wise pass runs as
// 8-lane assembly with AVX2 (subMulAVX2: the same subtraction, then multiplication).
func softmaxBackwardCausal(dp, p []float32, T int) {
	_, _ = dp[T*T-1], p[T*T-1]
	var dots [4]float32
	for t0 := 0; t0 < T; t0 += 4 {
		rows := min(4, T-t0)
		if rows < 4 {
			for t := t0; t < T; t++ {
				dots[t-t0] = rowDot(p[t*T:t*T+t+1], dp[t*T:t*T+t+1])
			}
		} else {
			dots = rowDots4(dp, p, T, t0)
		}
		for r := range rows {
			t := t0 + r
			dr := dp[t*T : (t+1)*T]
			if useAVX2 {
				subMulAVX2(&dr[0], &p[t*T], t+1, dots[r])
			} else {
				for j, pv := range p[t*T : t*T+t+1] {
					dr[j] = pv * (dr[j] - dots[r])
				}
			}
			clear(dr[t+1:])
		}
	}
}

// rowDot returns Σ p[j]·d[j] as one float32 chain in order, len(d) ≥ len(p).
func rowDot(p, d []float32) float32 {
	d = d[:len(p)]
	var dot float32
	for j, pv := range p {
		dot += pv * d[j]
	}
	return dot
}

// rowDots4 returns rowDot for the four rows t0 … t0+3 (each over its first t+1 entries of p
// and dp, rows T apart), with the four chains interleaved over the columns the rows share.
func rowDots4(dp, p []float32, T, t0 int) [4]float32 {
	n := t0 + 1 // the columns all four rows have
	p0, p1, p2, p3 := p[t0*T:][:n], p[(t0+1)*T:][:n], p[(t0+2)*T:][:n], p[(t0+3)*T:][:n]
	d0, d1, d2, d3 := dp[t0*T:][:n], dp[(t0+1)*T:][:n], dp[(t0+2)*T:][:n], dp[(t0+3)*T:][:n]
	var s0, s1, s2, s3 float32
	for j := range n {
		s0 += p0[j] * d0[j]
		s1 += p1[j] * d1[j]
		s2 += p2[j] * d2[j]
		s3 += p3[j] * d3[j]
	}
	// The rows' last columns, each row's chain continued in order.
	r1, r2, r3 := (t0+1)*T, (t0+2)*T, (t0+3)*T
	s1 += p[r1+n] * dp[r1+n]
	s2 += p[r2+n] * dp[r2+n]
	s2 += p[r2+n+1] * dp[r2+n+1]
	s3 += p[r3+n] * dp[r3+n]
	s3 += p[r3+n+1] * dp[r3+n+1]
	s3 += p[r3+n+2] * dp[r3+n+2]
	return [4]float32{s0, s1, s2, s3}
}

// Exp is a fast float32 e^x, accurate to about 2 ulp; it returns 0 below about −87.3 and
// +Inf above about 88.38. Every product is rounded to float32 before it is added (the explicit
// conversions keep the compiler from fusing them, as it may on arm64 or with GOAMD64=v3), so
// its bits are the same on every CPU and those of expSubExactAVX2.
func Exp(x float32) float32 {
	if x < -87.33654 {
		return 0
	}
	if x > 88.37626 {
		return float32(math.Inf(1))
	}
	// x = k·ln2 + r, |r| ≤ ln2/2; e^r by a degree-6 polynomial.
	const ln2hi, ln2lo, log2e = 0.693359375, -2.12194440e-4, 1.44269504088896341
	k := float32(math.Floor(float64(float32(x*log2e) + 0.5)))
	r := x - float32(k*ln2hi) - float32(k*ln2lo)
	p := float32(1.9875691500e-4)
	p = float32(p*r) + 1.3981999507e-3
	p = float32(p*r) + 8.3334519073e-3
	p = float32(p*r) + 4.1665795894e-2
	p = float32(p*r) + 1.6666665459e-1
	p = float32(p*r) + 5.0000001201e-1
	e := float32(float32(p*r)*r) + r + 1
	return math.Float32frombits(math.Float32bits(e) + uint32(int32(k))<<23)
}

// AttendRow is causal self-attention for one query row against n cached positions, as the
// inference engine's decode step needs it: for each head h of heads (columns h·d to h·d+d of
// q, k, v and out), scores = scale·K_h·q_h over the n rows of k (row p at k[p·ld:]), their
// softmax as AttentionForward computes each row's (causalSoftmaxRow), and out_h = Σ_p
// scores[p]·V_h[p] over the rows of v (same stride ld). scores is scratch of at least n floats.
// n ≥ 1.
//
// With AVX2 and FMA, and d a multiple of 8, the products run as 8-lane assembly (one fused
// multiply-add chain per score and per output column, in position order); otherwise as plain
// Go loops. Either way the result is within float32 round-off of the float64 product.
func AttendRow(out, q, k, v, scores []float32, ld, n, heads, d int, scale float32) {
	w := heads * d
	_, _, _ = out[w-1], q[w-1], scores[n-1]
	_, _ = k[(n-1)*ld+w-1], v[(n-1)*ld+w-1]
	p := scores[:n]
	for h := range heads {
		c := h * d
		if useAVX2 && d%8 == 0 {
			dotRowsAVX2(&q[c], &k[c], ld, n, d, scale, &p[0])
		} else {
			qh := q[c : c+d]
			for i := range p {
				kr := k[i*ld+c:][:d]
				var s float32
				for j, x := range qh {
					s += x * kr[j]
				}
				p[i] = scale * s
			}
		}
		causalSoftmaxRow(p, n)
		oh := out[c : c+d]
		if useAVX2 && d%8 == 0 {
			j := 0
			for ; j+32 <= d; j += 32 {
				axpyRows32AVX2(&p[0], n, &v[c+j], ld, &oh[j])
			}
			for ; j < d; j += 8 {
				axpyRows8AVX2(&p[0], n, &v[c+j], ld, &oh[j])
			}
			continue
		}
		clear(oh)
		for i, pi := range p {
			vr := v[i*ld+c:][:d]
			for j := range oh {
				oh[j] += pi * vr[j]
			}
		}
	}
}

// DotRows sets out[p] = q·k[p·ldk : p·ldk+d] for p < n: the products of n rows of a row-major
// matrix (stride ldk) with the vector q, as an inference engine's LM head computes one row's
// logits against the token embedding in place. With AVX2 and FMA and d a multiple of 8 each
// is one 8-lane fused multiply-add chain (the assembly AttendRow's scores use), otherwise a
// plain Go loop; either way within float32 round-off of the float64 product.
func DotRows(out, q, k []float32, ldk, n, d int) {
	if n <= 0 || d <= 0 {
		return
	}
	_, _, _ = out[n-1], q[d-1], k[(n-1)*ldk+d-1]
	if useAVX2 && d%8 == 0 {
		dotRowsAVX2(&q[0], &k[0], ldk, n, d, 1, &out[0])
		return
	}
	q = q[:d]
	for p := range n {
		kr := k[p*ldk:][:d]
		var s float32
		for j, x := range q {
			s += x * kr[j]
		}
		out[p] = s
	}
}
