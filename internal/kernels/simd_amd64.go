//go:build amd64

package kernels

import "golang.org/x/sys/cpu"

// haveAVX2 reports whether the CPU (and OS) support AVX2 and FMA, which the assembly kernels
// in simd_amd64.s need.
var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// useAVX2 selects the assembly kernels for GELU and the softmax rows; when false the scalar
// Go loops run. It starts as haveAVX2; tests set it false to compare the two paths.
var useAVX2 = haveAVX2

// geluAVX2 is the vector body of GELURange: y[i] = x[i]/2·(1 + t[i]) for i < n, with t[i]
// the clamped rational tanh of √(2/π)(x[i] + 0.044715x[i]³), also stored in th[i] when th is
// not nil. All n elements, the last n mod 8 included, go through the same instructions.
//
//go:noescape
func geluAVX2(y, th, x *float32, n int)

// geluBackwardAVX2 is the vector body of GELUBackward: dx[i] = dy[i]·GELU'(x[i]) for i < n,
// from the tanh terms th saved by the forward pass.
//
//go:noescape
func geluBackwardAVX2(dx, dy, x, th *float32, n int)

// geluBackwardTanhAVX2 is geluBackwardAVX2 with the tanh terms recomputed from x by
// geluAVX2's instructions (GELUBackward with th nil).
//
//go:noescape
func geluBackwardTanhAVX2(dx, dy, x *float32, n int)

// expSubSumAVX2 sets dst[i] = Exp(src[i] − mx) for i < n (dst may equal src) and returns
// the sum of the results, accumulated in float64. Like Exp it gives 0 below x = −87.33654
// and +Inf above 88.37626.
//
//go:noescape
func expSubSumAVX2(dst, src *float32, n int, mx float32) float64

// maxAVX2 returns the largest of x[0..n−1], n ≥ 1, ignoring NaNs after x[0] as the scalar
// loop `if v > mx { mx = v }` does.
//
//go:noescape
func maxAVX2(x *float32, n int) float32

// scaleAVX2 multiplies x[0..n−1] by s.
//
//go:noescape
func scaleAVX2(x *float32, n int, s float32)

// addAVX2 sets out[i] = x[i] + y[i] for i < n, n ≥ 1 (out may be x or y).
//
//go:noescape
func addAVX2(out, x, y *float32, n int)

// subMulAVX2 sets d[i] = p[i]·(d[i] − s) for i < n, n ≥ 1: the subtraction, then the
// multiplication, each rounded as in Go.
//
//go:noescape
func subMulAVX2(d, p *float32, n int, s float32)

// dotRowsAVX2 sets out[p] = scale·(q·k[p·ldk : p·ldk+d]) for p < n; d is a positive multiple
// of 8 (see AttendRow).
//
//go:noescape
func dotRowsAVX2(q, k *float32, ldk, n, d int, scale float32, out *float32)

// axpyRows32AVX2 sets out[0:32] = Σ_i p[i]·v[i·ldv : i·ldv+32] for i < n, n ≥ 1.
//
//go:noescape
func axpyRows32AVX2(p *float32, n int, v *float32, ldv int, out *float32)

// axpyRows8AVX2 is axpyRows32AVX2 for 8 columns, with the same arithmetic per column.
//
//go:noescape
func axpyRows8AVX2(p *float32, n int, v *float32, ldv int, out *float32)

// adamWAVX2 is AdamWUpdate's vector body over the first n elements, n a positive multiple of
// 8, with adamWGo's operations in its order (adamw_amd64.s).
//
//go:noescape
func adamWAVX2(p, grad, m, v *float32, n int, c *AdamWStep)

// geluAVX512 is geluAVX2 16 lanes at a time (AVX-512F): the same instructions on each
// element, so the same bits.
//
//go:noescape
func geluAVX512(y, th, x *float32, n int)

// geluBackwardAVX512 is geluBackwardAVX2 16 lanes at a time: the same bits.
//
//go:noescape
func geluBackwardAVX512(dx, dy, x, th *float32, n int)

// geluBackwardTanhAVX512 is geluBackwardTanhAVX2 16 lanes at a time: the same bits.
//
//go:noescape
func geluBackwardTanhAVX512(dx, dy, x *float32, n int)

// expSubExactAVX2 sets dst[i] = Exp(src[i] − mx) for i < n (dst may equal src) with Exp's
// own operations, unfused, so with its bits (expSubSumAVX2 fuses them and differs in the
// last bits).
//
//go:noescape
func expSubExactAVX2(dst, src *float32, n int, mx float32)
