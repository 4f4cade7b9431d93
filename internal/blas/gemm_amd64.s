// AVX2/FMA micro-kernels for the pure-Go SGEMM path (see gemm_amd64.go).
//
// The kernels finish with the same epilogue: each accumulated vector acc is
// written to C as alpha*acc + beta*C, or as alpha*acc alone when beta is ±0
// (C is then output only and is never read, so NaNs in it do not propagate).
//
// Register use common to the kernels:
//
//	CX       remaining k steps
//	AX       pointer into A (packed micro-panel, or a row of op(A))
//	BX       pointer into B (packed micro-panel, or a row of B)
//	DX       pointer to the current row of C
//	R8       row stride of C in bytes
//	R9       scratch (bits of beta)
//	Y12, Y13 alpha and beta broadcast to all 8 lanes (epilogue only)

#include "textflag.h"

// SGEMM_STEP6x16 does one k step of the 6×16 kernel: it multiplies the 16
// values of packed B at boff(BX) (Y12, Y13) by each of the 6 values of
// packed A at aoff(AX) (broadcast alternately into Y14 and Y15, so a
// broadcast can issue while the previous one is still being consumed) and
// adds the products to the accumulators Y0..Y11 (row r: Y(2r) holds columns
// 0-7, Y(2r+1) columns 8-15).
#define SGEMM_STEP6x16(aoff, boff) \
	VMOVUPS      boff(BX), Y12; \
	VMOVUPS      boff+32(BX), Y13; \
	VBROADCASTSS aoff(AX), Y14; \
	VFMADD231PS  Y12, Y14, Y0; \
	VFMADD231PS  Y13, Y14, Y1; \
	VBROADCASTSS aoff+4(AX), Y15; \
	VFMADD231PS  Y12, Y15, Y2; \
	VFMADD231PS  Y13, Y15, Y3; \
	VBROADCASTSS aoff+8(AX), Y14; \
	VFMADD231PS  Y12, Y14, Y4; \
	VFMADD231PS  Y13, Y14, Y5; \
	VBROADCASTSS aoff+12(AX), Y15; \
	VFMADD231PS  Y12, Y15, Y6; \
	VFMADD231PS  Y13, Y15, Y7; \
	VBROADCASTSS aoff+16(AX), Y14; \
	VFMADD231PS  Y12, Y14, Y8; \
	VFMADD231PS  Y13, Y14, Y9; \
	VBROADCASTSS aoff+20(AX), Y15; \
	VFMADD231PS  Y12, Y15, Y10; \
	VFMADD231PS  Y13, Y15, Y11

// STORE_BETA writes alpha*acc + beta*C for the 8 floats at off(DX), using
// Y14 as scratch.
#define STORE_BETA(acc, off) \
	VMULPS      off(DX), Y13, Y14; \
	VFMADD231PS acc, Y12, Y14; \
	VMOVUPS     Y14, off(DX)

// STORE_ZERO writes alpha*acc to the 8 floats at off(DX) (beta == 0).
#define STORE_ZERO(acc, off) \
	VMULPS  acc, Y12, acc; \
	VMOVUPS acc, off(DX)

// ZERO6x16 clears the 6×16 accumulators Y0..Y11.
#define ZERO6x16 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7 \
	VXORPS Y8, Y8, Y8 \
	VXORPS Y9, Y9, Y9 \
	VXORPS Y10, Y10, Y10 \
	VXORPS Y11, Y11, Y11

// STORE6x16_BETA and STORE6x16_ZERO write the 6×16 accumulators Y0..Y11 to the six rows of C
// from DX on (R8 apart) with STORE_BETA or STORE_ZERO: the epilogue of every 6×16 kernel.
#define STORE6x16_BETA \
	STORE_BETA(Y0, 0); \
	STORE_BETA(Y1, 32); \
	ADDQ R8, DX; \
	STORE_BETA(Y2, 0); \
	STORE_BETA(Y3, 32); \
	ADDQ R8, DX; \
	STORE_BETA(Y4, 0); \
	STORE_BETA(Y5, 32); \
	ADDQ R8, DX; \
	STORE_BETA(Y6, 0); \
	STORE_BETA(Y7, 32); \
	ADDQ R8, DX; \
	STORE_BETA(Y8, 0); \
	STORE_BETA(Y9, 32); \
	ADDQ R8, DX; \
	STORE_BETA(Y10, 0); \
	STORE_BETA(Y11, 32)

#define STORE6x16_ZERO \
	STORE_ZERO(Y0, 0); \
	STORE_ZERO(Y1, 32); \
	ADDQ R8, DX; \
	STORE_ZERO(Y2, 0); \
	STORE_ZERO(Y3, 32); \
	ADDQ R8, DX; \
	STORE_ZERO(Y4, 0); \
	STORE_ZERO(Y5, 32); \
	ADDQ R8, DX; \
	STORE_ZERO(Y6, 0); \
	STORE_ZERO(Y7, 32); \
	ADDQ R8, DX; \
	STORE_ZERO(Y8, 0); \
	STORE_ZERO(Y9, 32); \
	ADDQ R8, DX; \
	STORE_ZERO(Y10, 0); \
	STORE_ZERO(Y11, 32)

// func sgemmKernel6x16(k int, a, b, c *float32, ldc int, alpha, beta float32)
//
// C[0:6, 0:16] = alpha * Σ_l A[l] ⊗ B[l] + beta*C for l < k, where
//
//	a is a packed A micro-panel: k groups of 6 floats, group l holding
//	  column l of 6 consecutive rows of op(A) (24 bytes per step);
//	b is a packed B micro-panel: k groups of 16 floats, group l holding
//	  16 consecutive columns of row l of op(B) (64 bytes per step);
//	c points to C[0,0] and ldc is its row stride in floats.
//
// Accumulators: Y0..Y11 (two per row of C). Y12, Y13: B values of the
// current step; Y14, Y15: broadcast A values. The main loop does 4 steps per
// iteration, a second loop the remaining k mod 4.
TEXT ·sgemmKernel6x16(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8

	ZERO6x16

	CMPQ CX, $4
	JLT  k6x16tail

k6x16loop4:
	SGEMM_STEP6x16(0, 0)
	SGEMM_STEP6x16(24, 64)
	SGEMM_STEP6x16(48, 128)
	SGEMM_STEP6x16(72, 192)
	ADDQ $96, AX
	ADDQ $256, BX
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  k6x16loop4

k6x16tail:
	TESTQ CX, CX
	JZ    k6x16store

k6x16loop1:
	SGEMM_STEP6x16(0, 0)
	ADDQ $24, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  k6x16loop1

k6x16store:
	VBROADCASTSS alpha+40(FP), Y12
	MOVL         beta+44(FP), R9
	SHLL         $1, R9                // drop the sign bit: zero for +0 and -0
	JZ           k6x16zero
	VBROADCASTSS beta+44(FP), Y13

	STORE6x16_BETA
	VZEROUPPER
	RET

k6x16zero:
	STORE6x16_ZERO
	VZEROUPPER
	RET

// func sgemvRow64(k int, a *float32, inca int, b *float32, ldb int, c *float32, alpha, beta float32)
//
// c[0:64] = alpha * Σ_l a[l*inca] * b[l*ldb : l*ldb+64] + beta*c[0:64] for
// l < k: one row of C times an unpacked row-major B (used when op(A) has too
// few rows for packing B to pay). inca and ldb are strides in floats.
//
// Accumulators: Y0..Y7 (columns 0-7, ..., 56-63). Y8: broadcast a[l]; the
// B values are memory operands of the FMAs. SI, DI: the strides of a and b
// in bytes.
TEXT ·sgemvRow64(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ inca+16(FP), SI
	SHLQ $2, SI
	MOVQ b+24(FP), BX
	MOVQ ldb+32(FP), DI
	SHLQ $2, DI
	MOVQ c+40(FP), DX

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

	TESTQ CX, CX
	JZ    row64store

row64loop:
	VBROADCASTSS (AX), Y8
	VFMADD231PS  (BX), Y8, Y0
	VFMADD231PS  32(BX), Y8, Y1
	VFMADD231PS  64(BX), Y8, Y2
	VFMADD231PS  96(BX), Y8, Y3
	VFMADD231PS  128(BX), Y8, Y4
	VFMADD231PS  160(BX), Y8, Y5
	VFMADD231PS  192(BX), Y8, Y6
	VFMADD231PS  224(BX), Y8, Y7
	ADDQ         SI, AX
	ADDQ         DI, BX
	DECQ         CX
	JNZ          row64loop

row64store:
	VBROADCASTSS alpha+48(FP), Y12
	MOVL         beta+52(FP), R9
	SHLL         $1, R9
	JZ           row64zero
	VBROADCASTSS beta+52(FP), Y13
	STORE_BETA(Y0, 0)
	STORE_BETA(Y1, 32)
	STORE_BETA(Y2, 64)
	STORE_BETA(Y3, 96)
	STORE_BETA(Y4, 128)
	STORE_BETA(Y5, 160)
	STORE_BETA(Y6, 192)
	STORE_BETA(Y7, 224)
	VZEROUPPER
	RET

row64zero:
	STORE_ZERO(Y0, 0)
	STORE_ZERO(Y1, 32)
	STORE_ZERO(Y2, 64)
	STORE_ZERO(Y3, 96)
	STORE_ZERO(Y4, 128)
	STORE_ZERO(Y5, 160)
	STORE_ZERO(Y6, 192)
	STORE_ZERO(Y7, 224)
	VZEROUPPER
	RET

// func sgemvRow16(k int, a *float32, inca int, b *float32, ldb int, c *float32, alpha, beta float32)
//
// As sgemvRow64 for 16 columns, with the same arithmetic per column: one
// fused multiply-add chain over l (Y0, Y1), then the same store. So a column
// gets the same bits whichever of the two computes it, which keeps a product
// independent of how it is split (see split.go). Y8: broadcast a values.
TEXT ·sgemvRow16(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ inca+16(FP), SI
	SHLQ $2, SI
	MOVQ b+24(FP), BX
	MOVQ ldb+32(FP), DI
	SHLQ $2, DI
	MOVQ c+40(FP), DX

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

	TESTQ CX, CX
	JZ    row16store

row16loop:
	VBROADCASTSS (AX), Y8
	VFMADD231PS  (BX), Y8, Y0
	VFMADD231PS  32(BX), Y8, Y1
	ADDQ         SI, AX
	ADDQ         DI, BX
	DECQ         CX
	JNZ          row16loop

row16store:
	VBROADCASTSS alpha+48(FP), Y12
	MOVL         beta+52(FP), R9
	SHLL         $1, R9
	JZ           row16zero
	VBROADCASTSS beta+52(FP), Y13
	STORE_BETA(Y0, 0)
	STORE_BETA(Y1, 32)
	VZEROUPPER
	RET

row16zero:
	STORE_ZERO(Y0, 0)
	STORE_ZERO(Y1, 32)
	VZEROUPPER
	RET

// func copyPanels16(np int, src, dst *float32, dstride int)
//
// Packing helper: copies np consecutive groups of 16 floats from src to dst,
// advancing dst by dstride floats per group (dst[q*dstride : q*dstride+16] =
// src[16q : 16q+16]). It spreads one row of B over the 16-column panels.
// SI, DI: source and destination pointers; DX: dstride in bytes; Y0, Y1:
// the 16 floats in flight.
TEXT ·copyPanels16(SB), NOSPLIT, $0-32
	MOVQ  np+0(FP), CX
	MOVQ  src+8(FP), SI
	MOVQ  dst+16(FP), DI
	MOVQ  dstride+24(FP), DX
	SHLQ  $2, DX
	TESTQ CX, CX
	JZ    cp16done

cp16loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    $64, SI
	ADDQ    DX, DI
	DECQ    CX
	JNZ     cp16loop

cp16done:
	VZEROUPPER
	RET

// func copyPanels6(np int, src, dst *float32, dstride int)
//
// As copyPanels16 for groups of 6 floats (dst[q*dstride : q*dstride+6] =
// src[6q : 6q+6]): spreads one row of A (a column of op(A) when A is
// transposed) over the 6-row panels. X0 carries 4 floats, AX the other 2.
TEXT ·copyPanels6(SB), NOSPLIT, $0-32
	MOVQ  np+0(FP), CX
	MOVQ  src+8(FP), SI
	MOVQ  dst+16(FP), DI
	MOVQ  dstride+24(FP), DX
	SHLQ  $2, DX
	TESTQ CX, CX
	JZ    cp6done

cp6loop:
	MOVUPS (SI), X0
	MOVQ   16(SI), AX
	MOVUPS X0, (DI)
	MOVQ   AX, 16(DI)
	ADDQ   $24, SI
	ADDQ   DX, DI
	DECQ   CX
	JNZ    cp6loop

cp6done:
	RET

// func sgemmKernel6x16U(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)
//
// sgemmKernel6x16 with B read in place instead of from a packed panel: b
// points to 16 consecutive columns of row 0 of a row-major B whose rows are
// ldb floats apart, and each step reads the next row (used when op(A) has
// too few rows for packing B to pay). The instructions of a step and of the
// store are sgemmKernel6x16's, in the same order, so every element of C gets
// the same bits from either kernel. SI: ldb in bytes.
TEXT ·sgemmKernel6x16U(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ ldb+24(FP), SI
	SHLQ $2, SI
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8

	ZERO6x16

	CMPQ CX, $4
	JLT  k6x16utail

k6x16uloop4:
	SGEMM_STEP6x16(0, 0)
	ADDQ SI, BX
	SGEMM_STEP6x16(24, 0)
	ADDQ SI, BX
	SGEMM_STEP6x16(48, 0)
	ADDQ SI, BX
	SGEMM_STEP6x16(72, 0)
	ADDQ SI, BX
	ADDQ $96, AX
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  k6x16uloop4

k6x16utail:
	TESTQ CX, CX
	JZ    k6x16ustore

k6x16uloop1:
	SGEMM_STEP6x16(0, 0)
	ADDQ $24, AX
	ADDQ SI, BX
	DECQ CX
	JNZ  k6x16uloop1

k6x16ustore:
	VBROADCASTSS alpha+48(FP), Y12
	MOVL         beta+52(FP), R9
	SHLL         $1, R9                // drop the sign bit: zero for +0 and -0
	JZ           k6x16uzero
	VBROADCASTSS beta+52(FP), Y13

	STORE6x16_BETA
	VZEROUPPER
	RET

k6x16uzero:
	STORE6x16_ZERO
	VZEROUPPER
	RET

// SGEMM_STEP6x16A(binc) is SGEMM_STEP6x16 with op(A) read in place: rows 0-2 at AX, AX+R11,
// AX+2·R11 and rows 3-5 at R13, R13+R11, R13+2·R11 (R11 = rs in bytes); then AX and R13 step
// by ss (R12, bytes) and BX by binc, the row stride of B in bytes.
// The same instructions on the same values in the same order, so the same bits.
#define SGEMM_STEP6x16A(binc) \
	VMOVUPS      (BX), Y12; \
	VMOVUPS      32(BX), Y13; \
	VBROADCASTSS (AX), Y14; \
	VFMADD231PS  Y12, Y14, Y0; \
	VFMADD231PS  Y13, Y14, Y1; \
	VBROADCASTSS (AX)(R11*1), Y15; \
	VFMADD231PS  Y12, Y15, Y2; \
	VFMADD231PS  Y13, Y15, Y3; \
	VBROADCASTSS (AX)(R11*2), Y14; \
	VFMADD231PS  Y12, Y14, Y4; \
	VFMADD231PS  Y13, Y14, Y5; \
	VBROADCASTSS (R13), Y15; \
	VFMADD231PS  Y12, Y15, Y6; \
	VFMADD231PS  Y13, Y15, Y7; \
	VBROADCASTSS (R13)(R11*1), Y14; \
	VFMADD231PS  Y12, Y14, Y8; \
	VFMADD231PS  Y13, Y14, Y9; \
	VBROADCASTSS (R13)(R11*2), Y15; \
	VFMADD231PS  Y12, Y15, Y10; \
	VFMADD231PS  Y13, Y15, Y11; \
	ADDQ         R12, AX; \
	ADDQ         R12, R13; \
	ADDQ         binc, BX

// func sgemmKernel6x16A(k int, a *float32, rs, ss int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)
//
// sgemmKernel6x16 with op(A) read where it is: element (r, l) of the 6×k block of op(A) is at
// a[r·rs + l·ss] (rs = lda, ss = 1 for A; rs = 1, ss = lda for a transposed A), so A is not
// packed; step l reads b[l·ldb : l·ldb+16] (ldb = 16 for a packed panel, B's row stride for B
// read in place, as in sgemmKernel6x16U; SI: ldb in bytes). Steps, accumulators and epilogue
// are sgemmKernel6x16's: the same bits.
TEXT ·sgemmKernel6x16A(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ rs+16(FP), R11
	SHLQ $2, R11
	MOVQ ss+24(FP), R12
	SHLQ $2, R12
	LEAQ (AX)(R11*2), R13
	ADDQ R11, R13
	MOVQ b+32(FP), BX
	MOVQ ldb+40(FP), SI
	SHLQ $2, SI
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), R8
	SHLQ $2, R8

	ZERO6x16

	CMPQ CX, $4
	JLT  k6x16Atail

k6x16Aloop4:
	SGEMM_STEP6x16A(SI)
	SGEMM_STEP6x16A(SI)
	SGEMM_STEP6x16A(SI)
	SGEMM_STEP6x16A(SI)
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  k6x16Aloop4

k6x16Atail:
	TESTQ CX, CX
	JZ    k6x16Astore

k6x16Aloop1:
	SGEMM_STEP6x16A(SI)
	DECQ CX
	JNZ  k6x16Aloop1

k6x16Astore:
	VBROADCASTSS alpha+64(FP), Y12
	MOVL         beta+68(FP), R9
	SHLL         $1, R9                // drop the sign bit: zero for +0 and -0
	JZ           k6x16Azero
	VBROADCASTSS beta+68(FP), Y13

	STORE6x16_BETA
	VZEROUPPER
	RET

k6x16Azero:
	STORE6x16_ZERO
	VZEROUPPER
	RET
