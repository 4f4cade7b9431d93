//go:build !amd64

package kernels

// haveAVX2 is false off amd64: the scalar Go loops always run.
const haveAVX2 = false

// useAVX2 is always false off amd64 (a variable only so that the tests, which set it, build).
var useAVX2 = false

// geluAVX2 exists only so that the package builds on every architecture; it is never called
// when useAVX2 is false.
func geluAVX2(y, th, x *float32, n int) { panic("kernels: AVX2 kernel called off amd64") }

// geluBackwardAVX2 is a stub; see geluAVX2.
func geluBackwardAVX2(dx, dy, x, th *float32, n int) {
	panic("kernels: AVX2 kernel called off amd64")
}

// geluBackwardTanhAVX2 is a stub; see geluAVX2.
func geluBackwardTanhAVX2(dx, dy, x *float32, n int) {
	panic("kernels: AVX2 kernel called off amd64")
}

// expSubSumAVX2 is a stub; see geluAVX2.
func expSubSumAVX2(dst, src *float32, n int, mx float32) float64 {
	panic("kernels: AVX2 kernel called off amd64")
}

// maxAVX2 is a stub; see geluAVX2.
func maxAVX2(x *float32, n int) float32 { panic("kernels: AVX2 kernel called off amd64") }

// scaleAVX2 is a stub; see geluAVX2.
func scaleAVX2(x *float32, n int, s float32) { panic("kernels: AVX2 kernel called off amd64") }

// addAVX2 is a stub; see geluAVX2.
func addAVX2(out, x, y *float32, n int) { panic("kernels: AVX2 kernel called off amd64") }

// subMulAVX2 is a stub; see geluAVX2.
func subMulAVX2(d, p *float32, n int, s float32) { panic("kernels: AVX2 kernel called off amd64") }

// dotRowsAVX2 is a stub; see geluAVX2.
func dotRowsAVX2(q, k *float32, ldk, n, d int, scale float32, out *float32) {
	panic("kernels: AVX2 kernel called off amd64")
}

// axpyRows32AVX2 is a stub; see geluAVX2.
func axpyRows32AVX2(p *float32, n int, v *float32, ldv int, out *float32) {
	panic("kernels: AVX2 kernel called off amd64")
}

// axpyRows8AVX2 is a stub; see geluAVX2.
func axpyRows8AVX2(p *float32, n int, v *float32, ldv int, out *float32) {
	panic("kernels: AVX2 kernel called off amd64")
}

// useAVX512 is always false off amd64 (see norm_amd64.go).
var useAVX512 = false

// haveAVX512 is false off amd64.
const haveAVX512 = false

func lnStatsAVX512(x *float32, cols int, idx *int32, mask uint64, mean, rstd *float32) {
	panic("kernels: AVX-512 kernel called off amd64")
}

func lnApplyAVX512(out, x, w, b *float32, cols int, m, rs float32) {
	panic("kernels: AVX-512 kernel called off amd64")
}

func lnBackSumsAVX512(gr, x, w *float32, cols int, idx *int32, mask uint64, mean, rstd, sum1, sum2 *float32) {
	panic("kernels: AVX-512 kernel called off amd64")
}

func lnBackDxAVX512(dx, gr, x, w *float32, cols int, m, rs, s1, s2 float32) {
	panic("kernels: AVX-512 kernel called off amd64")
}

func lnBackDwAVX512(dw, db, gr, x, mean, rstd *float32, rows, cols int, mask uint64) {
	panic("kernels: AVX-512 kernel called off amd64")
}

// adamWAVX2 is a stub; see geluAVX2.
func adamWAVX2(p, grad, m, v *float32, n int, c *AdamWStep) {
	panic("kernels: AVX2 kernel called off amd64")
}

func lnStatsAVX2(x *float32, cols int, idx, mask *int32, mean, rstd *float32) {
	panic("kernels: AVX2 kernel called off amd64")
}

func lnApplyAVX2(out, x, w, b *float32, cols8 int, m, rs float32) {
	panic("kernels: AVX2 kernel called off amd64")
}

func lnBackSumsAVX2(gr, x, w *float32, cols int, idx, mask *int32, mean, rstd, sum1, sum2 *float32) {
	panic("kernels: AVX2 kernel called off amd64")
}

func lnBackDxAVX2(dx, gr, x, w *float32, cols8 int, m, rs, s1, s2 float32) {
	panic("kernels: AVX2 kernel called off amd64")
}

func lnBackDwAVX2(dw, db, gr, x, mean, rstd *float32, rows, cols int) {
	panic("kernels: AVX2 kernel called off amd64")
}

// geluAVX512 is a stub; see geluAVX2.
func geluAVX512(y, th, x *float32, n int) { panic("kernels: AVX-512 kernel called off amd64") }

// geluBackwardAVX512 is a stub; see geluAVX2.
func geluBackwardAVX512(dx, dy, x, th *float32, n int) {
	panic("kernels: AVX-512 kernel called off amd64")
}

// geluBackwardTanhAVX512 is a stub; see geluAVX2.
func geluBackwardTanhAVX512(dx, dy, x *float32, n int) {
	panic("kernels: AVX-512 kernel called off amd64")
}

// expSubExactAVX2 is a stub; see geluAVX2.
func expSubExactAVX2(dst, src *float32, n int, mx float32) {
	panic("kernels: AVX2 kernel called off amd64")
}
