//go:build amd64

package kernels

import "golang.org/x/sys/cpu"

// useAVX512 selects the AVX-512 LayerNorm kernels (norm_amd64.s); when false the AVX2 ones
// (norm_avx2_amd64.s) run where useAVX2 is set, else the Go loops. Both give the Go loops' bits
// (TestLayerNormVectorMatchesGo): the per-row sums keep their order by running one row per
// lane, 16 (8) rows at a time, and the element-wise passes do each element's operations in the
// Go expression's order, without fused multiply-adds. It also selects the 16-lane GELU kernels
// (geluAVX512 and the backward ones, simd_amd64.s), which give the 8-lane AVX2 ones' bits
// (TestGELUAVX512MatchesAVX2).
var useAVX512 = haveAVX512

// haveAVX512 reports whether the CPU (and OS) support AVX-512F besides AVX2 and FMA.
var haveAVX512 = haveAVX2 && cpu.X86.HasAVX512F

// lnStatsAVX512 computes, for the rows i < n (n ≤ 16) at x + i·cols floats, the mean and
// 1/√(variance + eps) as LayerNormRows does (float64 sums in column order), rounded to
// float32 into mean[i] and rstd[i]; idx holds i·cols for i < 16 and mask the n low bits.
//
//go:noescape
func lnStatsAVX512(x *float32, cols int, idx *int32, mask uint64, mean, rstd *float32)

// lnApplyAVX512 sets out[j] = (x[j]−m)·rs·w[j] + b[j] for j < cols.
//
//go:noescape
func lnApplyAVX512(out, x, w, b *float32, cols int, m, rs float32)

// lnBackSumsAVX512 computes, for the rows i < n (n ≤ 16) at gr + i·cols and x + i·cols (gr the
// upstream gradient), the float32 sums of LayerNormBackward's dx pass in column order:
// sum1[i] = Σ gr·w[j] and sum2[i] = Σ (gr·w[j])·(x−mean[i])·rstd[i], each divided by cols.
//
//go:noescape
func lnBackSumsAVX512(gr, x, w *float32, cols int, idx *int32, mask uint64, mean, rstd, sum1, sum2 *float32)

// lnBackDxAVX512 sets dx[j] = rs·((gr[j]·w[j] − s1) − ((x[j]−m)·rs)·s2) for j < cols.
//
//go:noescape
func lnBackDxAVX512(dx, gr, x, w *float32, cols int, m, rs, s1, s2 float32)

// lnBackDwAVX512 sets dw[j] = Σ_r gr[r,j]·(x[r,j]−mean[r])·rstd[r] and db[j] = Σ_r gr[r,j]
// for
// the columns j < 64 whose bit is set in mask, summing over the rows r < rows in order; gr and
// x point to column 0 of row 0, rows are cols floats apart.
//
//go:noescape
func lnBackDwAVX512(dw, db, gr, x, mean, rstd *float32, rows, cols int, mask uint64)

// lnStatsAVX2 is lnStatsAVX512 for 8 rows: idx holds i·cols for i < 8 and mask −1 in the lanes
// of the rows i < n (n ≤ 8), 0 in the others (norm_avx2_amd64.s).
//
//go:noescape
func lnStatsAVX2(x *float32, cols int, idx, mask *int32, mean, rstd *float32)

// lnApplyAVX2 is lnApplyAVX512 over cols8 columns, a positive multiple of 8.
//
//go:noescape
func lnApplyAVX2(out, x, w, b *float32, cols8 int, m, rs float32)

// lnBackSumsAVX2 is lnBackSumsAVX512 for 8 rows, idx and mask as for lnStatsAVX2.
//
//go:noescape
func lnBackSumsAVX2(gr, x, w *float32, cols int, idx, mask *int32, mean, rstd, sum1, sum2 *float32)

// lnBackDxAVX2 is lnBackDxAVX512 over cols8 columns, a positive multiple of 8.
//
//go:noescape
func lnBackDxAVX2(dx, gr, x, w *float32, cols8 int, m, rs, s1, s2 float32)

// lnBackDwAVX2 is lnBackDwAVX512 for exactly 32 columns.
//
//go:noescape
func lnBackDwAVX2(dw, db, gr, x, mean, rstd *float32, rows, cols int)
