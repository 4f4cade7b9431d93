// AVX2 LayerNorm kernels (see norm_amd64.go for the Go declarations and norm.go for the Go
// loops whose bits they give): the AVX-512 kernels' scheme with 8 lanes. A row's sums run in
// column order with one row per lane, VGATHERDPS reading column j of 8 rows (idx holds the
// rows' offsets, i·cols; the lanes of missing rows are masked off and read nothing). The
// element-wise passes run along the row 8 columns at a time; the callers finish the last
// cols mod 8 (and dw's columns past the last 32) in Go, with the same operations. No fused
// multiply-add anywhere: each operation rounds as Go's does.

#include "textflag.h"

DATA ln2Eps<>+0(SB)/8, $0x3ee4f8b588e368f1 // 1e-5 (LayerNormEps) as a float64
GLOBL ln2Eps<>(SB), RODATA|NOPTR, $8
DATA ln2One<>+0(SB)/8, $0x3ff0000000000000 // 1.0
GLOBL ln2One<>(SB), RODATA|NOPTR, $8

// GATHER_ROWS8(base, dst) loads column 0 at base of the 8 rows (idx in Y15, lane mask in Y14)
// into dst, lanes of missing rows zero; Y12 is scratch (the gather clears it).
#define GATHER_ROWS8(base, dst) \
	VMOVAPS    Y14, Y12 \
	VXORPS     dst, dst, dst \
	VGATHERDPS Y12, (base)(Y15*4), dst

// func lnStatsAVX2(x *float32, cols int, idx, mask *int32, mean, rstd *float32)
TEXT ·lnStatsAVX2(SB), NOSPLIT, $0-48
	MOVQ         x+0(FP), SI
	MOVQ         cols+8(FP), CX
	MOVQ         idx+16(FP), AX
	VMOVDQU      (AX), Y15
	MOVQ         mask+24(FP), AX
	VMOVDQU      (AX), Y14
	CVTSQ2SD     CX, X13
	VBROADCASTSD X13, Y13 // float64(cols)

	// s = Σ float64(x[j]) in column order: rows 0..3 in Y0, 4..7 in Y1
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	MOVQ   SI, BX
	MOVQ   CX, R9

ln2sum:
	GATHER_ROWS8(BX, Y2)
	VCVTPS2PD    X2, Y3
	VEXTRACTF128 $1, Y2, X4
	VCVTPS2PD    X4, Y4
	VADDPD       Y3, Y0, Y0
	VADDPD       Y4, Y1, Y1
	ADDQ         $4, BX
	DECQ         R9
	JNZ          ln2sum
	VDIVPD       Y13, Y0, Y6 // mean, float64
	VDIVPD       Y13, Y1, Y7

	// ss = Σ (float64(x[j]) − mean)²
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	MOVQ   SI, BX
	MOVQ   CX, R9

ln2var:
	GATHER_ROWS8(BX, Y2)
	VCVTPS2PD    X2, Y3
	VEXTRACTF128 $1, Y2, X4
	VCVTPS2PD    X4, Y4
	VSUBPD       Y6, Y3, Y3
	VSUBPD       Y7, Y4, Y4
	VMULPD       Y3, Y3, Y3
	VMULPD       Y4, Y4, Y4
	VADDPD       Y3, Y8, Y8
	VADDPD       Y4, Y9, Y9
	ADDQ         $4, BX
	DECQ         R9
	JNZ          ln2var

	// rstd = 1 / sqrt(ss/cols + eps)
	VDIVPD       Y13, Y8, Y8
	VDIVPD       Y13, Y9, Y9
	VBROADCASTSD ln2Eps<>(SB), Y10
	VADDPD       Y10, Y8, Y8
	VADDPD       Y10, Y9, Y9
	VSQRTPD      Y8, Y8
	VSQRTPD      Y9, Y9
	VBROADCASTSD ln2One<>(SB), Y11
	VDIVPD       Y8, Y11, Y8
	VDIVPD       Y9, Y11, Y9

	MOVQ       mean+32(FP), DI
	VCVTPD2PSY Y6, X10
	VCVTPD2PSY Y7, X11
	VMOVUPS    X10, (DI)
	VMOVUPS    X11, 16(DI)
	MOVQ       rstd+40(FP), DI
	VCVTPD2PSY Y8, X10
	VCVTPD2PSY Y9, X11
	VMOVUPS    X10, (DI)
	VMOVUPS    X11, 16(DI)
	VZEROUPPER
	RET

// func lnApplyAVX2(out, x, w, b *float32, cols8 int, m, rs float32)
//
// out[j] = ((x[j]−m)·rs)·w[j] + b[j] for j < cols8, a positive multiple of 8.
TEXT ·lnApplyAVX2(SB), NOSPLIT, $0-48
	MOVQ         out+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         b+24(FP), R8
	MOVQ         cols8+32(FP), BX
	VBROADCASTSS m+40(FP), Y6
	VBROADCASTSS rs+44(FP), Y7
	SHRQ         $3, BX

ln2apply:
	VMOVUPS (SI), Y0
	VSUBPS  Y6, Y0, Y0
	VMULPS  Y7, Y0, Y0
	VMULPS  (DX), Y0, Y0
	VADDPS  (R8), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, R8
	ADDQ    $32, DI
	DECQ    BX
	JNZ     ln2apply
	VZEROUPPER
	RET

// func lnBackSumsAVX2(gr, x, w *float32, cols int, idx, mask *int32, mean, rstd, sum1, sum2 *float32)
//
// For the 8 rows: sum1 = Σ gr·w[j] and sum2 = Σ ((gr·w[j])·(x−mean))·rstd in column order,
// each divided by cols.
TEXT ·lnBackSumsAVX2(SB), NOSPLIT, $0-80
	MOVQ    gr+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    w+16(FP), DX
	MOVQ    cols+24(FP), CX
	MOVQ    idx+32(FP), AX
	VMOVDQU (AX), Y15
	MOVQ    mask+40(FP), AX
	VMOVDQU (AX), Y14
	MOVQ    mean+48(FP), AX
	VMOVUPS (AX), Y6
	MOVQ    rstd+56(FP), AX
	VMOVUPS (AX), Y7
	VXORPS  Y0, Y0, Y0 // sum1
	VXORPS  Y1, Y1, Y1 // sum2
	MOVQ    CX, R9

ln2bsum:
	GATHER_ROWS8(SI, Y2) // g
	GATHER_ROWS8(DI, Y3) // x
	VBROADCASTSS (DX), Y4 // w[j]
	VMULPS       Y4, Y2, Y2 // dh = g·w
	VADDPS       Y2, Y0, Y0
	VSUBPS       Y6, Y3, Y3 // x − mean
	VMULPS       Y3, Y2, Y2
	VMULPS       Y7, Y2, Y2 // dh·(x − mean)·rstd
	VADDPS       Y2, Y1, Y1
	ADDQ         $4, SI
	ADDQ         $4, DI
	ADDQ         $4, DX
	DECQ         R9
	JNZ          ln2bsum
	CVTSQ2SS     CX, X5
	VBROADCASTSS X5, Y5 // float32(cols)
	VDIVPS       Y5, Y0, Y0
	VDIVPS       Y5, Y1, Y1
	MOVQ         sum1+64(FP), AX
	VMOVUPS      Y0, (AX)
	MOVQ         sum2+72(FP), AX
	VMOVUPS      Y1, (AX)
	VZEROUPPER
	RET

// func lnBackDxAVX2(dx, gr, x, w *float32, cols8 int, m, rs, s1, s2 float32)
//
// dx[j] = rs·((gr[j]·w[j] − s1) − ((x[j]−m)·rs)·s2) for j < cols8, a positive multiple of 8.
TEXT ·lnBackDxAVX2(SB), NOSPLIT, $0-56
	MOVQ         dx+0(FP), DI
	MOVQ         gr+8(FP), SI
	MOVQ         x+16(FP), R8
	MOVQ         w+24(FP), DX
	MOVQ         cols8+32(FP), BX
	VBROADCASTSS m+40(FP), Y6
	VBROADCASTSS rs+44(FP), Y7
	VBROADCASTSS s1+48(FP), Y8
	VBROADCASTSS s2+52(FP), Y9
	SHRQ         $3, BX

ln2bdx:
	VMOVUPS (R8), Y0
	VSUBPS  Y6, Y0, Y0
	VMULPS  Y7, Y0, Y0 // xh = (x − m)·rs
	VMULPS  Y9, Y0, Y0 // xh·s2
	VMOVUPS (SI), Y1
	VMULPS  (DX), Y1, Y1 // g·w
	VSUBPS  Y8, Y1, Y1   // − s1
	VSUBPS  Y0, Y1, Y1   // − xh·s2
	VMULPS  Y7, Y1, Y1   // rs·(…)
	VMOVUPS Y1, (DI)
	ADDQ    $32, R8
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    BX
	JNZ     ln2bdx
	VZEROUPPER
	RET

// DW2_STEP(off, dw, db) adds row r's 8 columns at off to dw and db: Y10 holds the row's mean,
// Y11 its rstd.
#define DW2_STEP(off, dw, db) \
	VMOVUPS off(SI), Y12 \
	VMOVUPS off(DI), Y13 \
	VADDPS  Y12, db, db \
	VSUBPS  Y10, Y13, Y13 \
	VMULPS  Y13, Y12, Y13 \
	VMULPS  Y11, Y13, Y13 \
	VADDPS  Y13, dw, dw

// func lnBackDwAVX2(dw, db, gr, x, mean, rstd *float32, rows, cols int)
//
// dw[j] = Σ_r (gr[r,j]·(x[r,j]−mean[r]))·rstd[r] and db[j] = Σ_r gr[r,j] for the 32 columns
// j < 32, over the rows r < rows in order; gr and x point to column 0 of row 0, rows are cols
// floats apart.
TEXT ·lnBackDwAVX2(SB), NOSPLIT, $0-64
	MOVQ   gr+16(FP), SI
	MOVQ   x+24(FP), DI
	MOVQ   mean+32(FP), R8
	MOVQ   rstd+40(FP), R9
	MOVQ   rows+48(FP), BX
	MOVQ   cols+56(FP), DX
	SHLQ   $2, DX // row stride in bytes
	VXORPS Y0, Y0, Y0 // dw, 4×8 columns
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4 // db
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TESTQ  BX, BX
	JZ     ln2bdwstore

ln2bdw:
	VBROADCASTSS (R8), Y10
	VBROADCASTSS (R9), Y11
	DW2_STEP(0, Y0, Y4)
	DW2_STEP(32, Y1, Y5)
	DW2_STEP(64, Y2, Y6)
	DW2_STEP(96, Y3, Y7)
	ADDQ         DX, SI
	ADDQ         DX, DI
	ADDQ         $4, R8
	ADDQ         $4, R9
	DECQ         BX
	JNZ          ln2bdw

ln2bdwstore:
	MOVQ    dw+0(FP), SI
	MOVQ    db+8(FP), DI
	VMOVUPS Y0, (SI)
	VMOVUPS Y1, 32(SI)
	VMOVUPS Y2, 64(SI)
	VMOVUPS Y3, 96(SI)
	VMOVUPS Y4, (DI)
	VMOVUPS Y5, 32(DI)
	VMOVUPS Y6, 64(DI)
	VMOVUPS Y7, 96(DI)
	VZEROUPPER
	RET
