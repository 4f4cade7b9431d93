// AVX-512 LayerNorm kernels (see norm_amd64.go for the Go declarations and norm.go for the
// Go loops whose bits they give).
//
// A row's sums (the mean and variance forward, the two sums of the dx pass backward) run in
// column order, as the Go loops do, with one row per lane: VGATHERDPS reads column j of 16
// rows at once (idx holds the rows' offsets, i·cols, and the mask leaves the lanes of missing
// rows alone). The element-wise passes run along the row, 16 columns at a time, the last
// cols mod 16 under a mask. No fused multiply-add anywhere: each operation rounds as Go's does.

#include "textflag.h"

DATA lnEps<>+0(SB)/8, $0x3ee4f8b588e368f1 // 1e-5 (LayerNormEps) as a float64
GLOBL lnEps<>(SB), RODATA|NOPTR, $8
DATA lnOne<>+0(SB)/8, $0x3ff0000000000000 // 1.0
GLOBL lnOne<>(SB), RODATA|NOPTR, $8

// GATHER_ROWS16(base, dst, k) loads column 0 at base of the 16 rows (idx in Z31, mask in R10)
// into dst, lanes of missing rows zero.
#define GATHER_ROWS16(base, dst, k) \
	KMOVW        R10, k \
	VXORPS       dst, dst, dst \
	VGATHERDPS   (base)(Z31*4), k, dst

// TAIL_MASK(n, k) sets k to the n low bits (n < 16 in CX after ANDQ $15); AX is scratch.
#define TAIL_MASK(k) \
	MOVL         $1, AX \
	SHLL         CX, AX \
	DECL         AX \
	KMOVW        AX, k

// func lnStatsAVX512(x *float32, cols int, idx *int32, mask uint64, mean, rstd *float32)
TEXT ·lnStatsAVX512(SB), NOSPLIT, $0-48
	MOVQ      x+0(FP), SI
	MOVQ      cols+8(FP), CX
	MOVQ      idx+16(FP), AX
	VMOVDQU32 (AX), Z31
	MOVQ      mask+24(FP), R10
	CVTSQ2SD  CX, X5
	VBROADCASTSD X5, Z5                  // float64(cols)

	// s = Σ float64(x[j]) in column order
	VXORPD    Z0, Z0, Z0                 // rows 0..7
	VXORPD    Z1, Z1, Z1                 // rows 8..15
	MOVQ      SI, BX
	MOVQ      CX, R9
lnsum:
	GATHER_ROWS16(BX, Z2, K1)
	VCVTPS2PD Y2, Z3
	VEXTRACTF64X4 $1, Z2, Y4
	VCVTPS2PD Y4, Z4
	VADDPD    Z3, Z0, Z0
	VADDPD    Z4, Z1, Z1
	ADDQ      $4, BX
	DECQ      R9
	JNZ       lnsum
	VDIVPD    Z5, Z0, Z6                 // mean, float64
	VDIVPD    Z5, Z1, Z7

	// ss = Σ (float64(x[j]) − mean)²
	VXORPD    Z8, Z8, Z8
	VXORPD    Z9, Z9, Z9
	MOVQ      SI, BX
	MOVQ      CX, R9
lnvar:
	GATHER_ROWS16(BX, Z2, K1)
	VCVTPS2PD Y2, Z3
	VEXTRACTF64X4 $1, Z2, Y4
	VCVTPS2PD Y4, Z4
	VSUBPD    Z6, Z3, Z3
	VSUBPD    Z7, Z4, Z4
	VMULPD    Z3, Z3, Z3
	VMULPD    Z4, Z4, Z4
	VADDPD    Z3, Z8, Z8
	VADDPD    Z4, Z9, Z9
	ADDQ      $4, BX
	DECQ      R9
	JNZ       lnvar

	// rstd = 1 / sqrt(ss/cols + eps)
	VDIVPD    Z5, Z8, Z8
	VDIVPD    Z5, Z9, Z9
	VBROADCASTSD lnEps<>(SB), Z10
	VADDPD    Z10, Z8, Z8
	VADDPD    Z10, Z9, Z9
	VSQRTPD   Z8, Z8
	VSQRTPD   Z9, Z9
	VBROADCASTSD lnOne<>(SB), Z11
	VDIVPD    Z8, Z11, Z8
	VDIVPD    Z9, Z11, Z9

	MOVQ      mean+32(FP), DI
	VCVTPD2PS Z6, Y12
	VCVTPD2PS Z7, Y13
	VMOVUPS   Y12, (DI)
	VMOVUPS   Y13, 32(DI)
	MOVQ      rstd+40(FP), DI
	VCVTPD2PS Z8, Y12
	VCVTPD2PS Z9, Y13
	VMOVUPS   Y12, (DI)
	VMOVUPS   Y13, 32(DI)
	VZEROUPPER
	RET

// func lnApplyAVX512(out, x, w, b *float32, cols int, m, rs float32)
TEXT ·lnApplyAVX512(SB), NOSPLIT, $0-48
	MOVQ      out+0(FP), DI
	MOVQ      x+8(FP), SI
	MOVQ      w+16(FP), DX
	MOVQ      b+24(FP), R8
	MOVQ      cols+32(FP), CX
	VBROADCASTSS m+40(FP), Z6
	VBROADCASTSS rs+44(FP), Z7
	MOVQ      CX, BX
	SHRQ      $4, BX
	JZ        lnapplytail
lnapply:
	VMOVUPS   (SI), Z0
	VSUBPS    Z6, Z0, Z0
	VMULPS    Z7, Z0, Z0
	VMULPS    (DX), Z0, Z0
	VADDPS    (R8), Z0, Z0
	VMOVUPS   Z0, (DI)
	ADDQ      $64, SI
	ADDQ      $64, DX
	ADDQ      $64, R8
	ADDQ      $64, DI
	DECQ      BX
	JNZ       lnapply
lnapplytail:
	ANDQ      $15, CX
	JZ        lnapplydone
	TAIL_MASK(K1)
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z1
	VMOVUPS.Z (R8), K1, Z2
	VSUBPS    Z6, Z0, Z0
	VMULPS    Z7, Z0, Z0
	VMULPS    Z1, Z0, Z0
	VADDPS    Z2, Z0, Z0
	VMOVUPS   Z0, K1, (DI)
lnapplydone:
	VZEROUPPER
	RET

// func lnBackSumsAVX512(gr, x, w *float32, cols int, idx *int32, mask uint64, mean, rstd, sum1, sum2 *float32)
TEXT ·lnBackSumsAVX512(SB), NOSPLIT, $0-80
	MOVQ      gr+0(FP), SI
	MOVQ      x+8(FP), DI
	MOVQ      w+16(FP), DX
	MOVQ      cols+24(FP), CX
	MOVQ      idx+32(FP), AX
	VMOVDQU32 (AX), Z31
	MOVQ      mask+40(FP), R10
	MOVQ      mean+48(FP), AX
	VMOVUPS   (AX), Z6
	MOVQ      rstd+56(FP), AX
	VMOVUPS   (AX), Z7
	VXORPS    Z0, Z0, Z0                 // sum1
	VXORPS    Z1, Z1, Z1                 // sum2
	MOVQ      CX, R9
lnbsum:
	GATHER_ROWS16(SI, Z2, K1)            // g
	GATHER_ROWS16(DI, Z3, K2)            // x
	VBROADCASTSS (DX), Z4                // w[j]
	VMULPS    Z4, Z2, Z2                 // dh = g·w
	VADDPS    Z2, Z0, Z0
	VSUBPS    Z6, Z3, Z3                 // x − mean
	VMULPS    Z3, Z2, Z2
	VMULPS    Z7, Z2, Z2                 // dh·(x − mean)·rstd
	VADDPS    Z2, Z1, Z1
	ADDQ      $4, SI
	ADDQ      $4, DI
	ADDQ      $4, DX
	DECQ      R9
	JNZ       lnbsum
	CVTSQ2SS  CX, X5
	VBROADCASTSS X5, Z5                  // float32(cols)
	VDIVPS    Z5, Z0, Z0
	VDIVPS    Z5, Z1, Z1
	MOVQ      sum1+64(FP), AX
	VMOVUPS   Z0, (AX)
	MOVQ      sum2+72(FP), AX
	VMOVUPS   Z1, (AX)
	VZEROUPPER
	RET

// func lnBackDxAVX512(dx, gr, x, w *float32, cols int, m, rs, s1, s2 float32)
TEXT ·lnBackDxAVX512(SB), NOSPLIT, $0-56
	MOVQ      dx+0(FP), DI
	MOVQ      gr+8(FP), SI
	MOVQ      x+16(FP), R8
	MOVQ      w+24(FP), DX
	MOVQ      cols+32(FP), CX
	VBROADCASTSS m+40(FP), Z6
	VBROADCASTSS rs+44(FP), Z7
	VBROADCASTSS s1+48(FP), Z8
	VBROADCASTSS s2+52(FP), Z9
	MOVQ      CX, BX
	SHRQ      $4, BX
	JZ        lnbdxtail
lnbdx:
	VMOVUPS   (R8), Z0
	VSUBPS    Z6, Z0, Z0
	VMULPS    Z7, Z0, Z0                 // xh = (x − m)·rs
	VMULPS    Z9, Z0, Z0                 // xh·s2
	VMOVUPS   (SI), Z1
	VMULPS    (DX), Z1, Z1               // g·w
	VSUBPS    Z8, Z1, Z1                 // − s1
	VSUBPS    Z0, Z1, Z1                 // − xh·s2
	VMULPS    Z7, Z1, Z1                 // rs·(…)
	VMOVUPS   Z1, (DI)
	ADDQ      $64, R8
	ADDQ      $64, SI
	ADDQ      $64, DX
	ADDQ      $64, DI
	DECQ      BX
	JNZ       lnbdx
lnbdxtail:
	ANDQ      $15, CX
	JZ        lnbdxdone
	TAIL_MASK(K1)
	VMOVUPS.Z (R8), K1, Z0
	VMOVUPS.Z (SI), K1, Z1
	VMOVUPS.Z (DX), K1, Z2
	VSUBPS    Z6, Z0, Z0
	VMULPS    Z7, Z0, Z0
	VMULPS    Z9, Z0, Z0
	VMULPS    Z2, Z1, Z1
	VSUBPS    Z8, Z1, Z1
	VSUBPS    Z0, Z1, Z1
	VMULPS    Z7, Z1, Z1
	VMOVUPS   Z1, K1, (DI)
lnbdxdone:
	VZEROUPPER
	RET

// DW_STEP(off, k, dw, db) adds row r's 16 columns at off (under mask k) to dw and db: Z20
// holds the row's mean, Z21 its rstd.
#define DW_STEP(off, k, dw, db) \
	VMOVUPS.Z off(SI), k, Z22 \
	VMOVUPS.Z off(DI), k, Z23 \
	VADDPS    Z22, db, db \
	VSUBPS    Z20, Z23, Z23 \
	VMULPS    Z23, Z22, Z23 \
	VMULPS    Z21, Z23, Z23 \
	VADDPS    Z23, dw, dw

// func lnBackDwAVX512(dw, db, gr, x, mean, rstd *float32, rows, cols int, mask uint64)
TEXT ·lnBackDwAVX512(SB), NOSPLIT, $0-72
	MOVQ      gr+16(FP), SI
	MOVQ      x+24(FP), DI
	MOVQ      mean+32(FP), R8
	MOVQ      rstd+40(FP), R9
	MOVQ      rows+48(FP), BX
	MOVQ      cols+56(FP), DX
	SHLQ      $2, DX                     // row stride in bytes
	MOVQ      mask+64(FP), AX
	KMOVW     AX, K1
	SHRQ      $16, AX
	KMOVW     AX, K2
	SHRQ      $16, AX
	KMOVW     AX, K3
	SHRQ      $16, AX
	KMOVW     AX, K4
	VXORPS    Z0, Z0, Z0                 // dw, 4×16 columns
	VXORPS    Z1, Z1, Z1
	VXORPS    Z2, Z2, Z2
	VXORPS    Z3, Z3, Z3
	VXORPS    Z4, Z4, Z4                 // db
	VXORPS    Z5, Z5, Z5
	VXORPS    Z6, Z6, Z6
	VXORPS    Z7, Z7, Z7
	TESTQ     BX, BX
	JZ        lnbdwstore
lnbdw:
	VBROADCASTSS (R8), Z20
	VBROADCASTSS (R9), Z21
	DW_STEP(0, K1, Z0, Z4)
	DW_STEP(64, K2, Z1, Z5)
	DW_STEP(128, K3, Z2, Z6)
	DW_STEP(192, K4, Z3, Z7)
	ADDQ      DX, SI
	ADDQ      DX, DI
	ADDQ      $4, R8
	ADDQ      $4, R9
	DECQ      BX
	JNZ       lnbdw
lnbdwstore:
	MOVQ      dw+0(FP), SI
	MOVQ      db+8(FP), DI
	VMOVUPS   Z0, K1, (SI)
	VMOVUPS   Z1, K2, 64(SI)
	VMOVUPS   Z2, K3, 128(SI)
	VMOVUPS   Z3, K4, 192(SI)
	VMOVUPS   Z4, K1, (DI)
	VMOVUPS   Z5, K2, 64(DI)
	VMOVUPS   Z6, K3, 128(DI)
	VMOVUPS   Z7, K4, 192(DI)
	VZEROUPPER
	RET
