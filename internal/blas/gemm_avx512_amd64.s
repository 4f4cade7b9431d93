// AVX-512 micro-kernels for the pure-Go SGEMM path (see gemm_avx512_amd64.go).
//
// Each computes a 6×64 tile of C with the arithmetic of sgemmKernel6x16 (one
// fused multiply-add chain over k per element, then alpha*acc + beta*C with one
// rounding, or alpha*acc when beta is ±0), four times as wide per step: the
// bits of every element are those the AVX2 kernels give it, so the choice of
// kernel never changes a result.
//
// Registers:
//
//	CX        remaining k steps
//	AX        pointer into the packed A micro-panel (6 floats per step), or to
//	          row 0 of A read in place (sgemmKernel6x64A: R11 and R12 its row and
//	          step strides in bytes, R13 its row 3)
//	BX        pointer into B (the first packed panel, or a row of B)
//	R10       the third packed panel (packed kernel)
//	SI        stride between packed panels, or between rows of B, in bytes
//	DX        pointer to the current row of C
//	R8        row stride of C in bytes
//	R9        scratch (bits of beta)
//	Z0..Z23   accumulators: row r of the tile in Z(4r) … Z(4r+3)
//	Z24..Z27  the 64 values of B of the current step
//	Z28, Z29  broadcast values of A (alternately)
//	Z30, Z31  alpha and beta (epilogue)

#include "textflag.h"
#include "zmm_amd64.h"

// AB_ARGS loads the arguments of sgemmKernel6x32AB and sgemmKernel6x64AB (k, a, rs, ss, b,
// ldb, c, ldc) into the registers their steps use: CX k, AX a with R11 and R12 its row and step
// strides in bytes and R13 its row 3, BX b with SI its row stride in bytes, DX c with R8 its.
#define AB_ARGS \
	MOVQ k+0(FP), CX; \
	MOVQ a+8(FP), AX; \
	MOVQ rs+16(FP), R11; \
	SHLQ $2, R11; \
	MOVQ ss+24(FP), R12; \
	SHLQ $2, R12; \
	LEAQ (AX)(R11*2), R13; \
	ADDQ R11, R13; \
	MOVQ b+32(FP), BX; \
	MOVQ ldb+40(FP), SI; \
	SHLQ $2, SI; \
	MOVQ c+48(FP), DX; \
	MOVQ ldc+56(FP), R8; \
	SHLQ $2, R8

// SGEMM_STEP6x64P does one k step of sgemmKernel6x64: the 16 values at
// boff of each of the four packed B panels (BX, BX+SI, R10, R10+SI), times
// each of the 6 packed A values at aoff(AX).
#define SGEMM_STEP6x64P(aoff, boff) \
	VMOVUPS      boff(BX), Z24 \
	VMOVUPS      boff(BX)(SI*1), Z25 \
	VMOVUPS      boff(R10), Z26 \
	VMOVUPS      boff(R10)(SI*1), Z27 \
	FMA_TILE(aoff(AX), aoff+4(AX), aoff+8(AX), aoff+12(AX), aoff+16(AX), aoff+20(AX))

// SGEMM_STEP6x64U does one k step of sgemmKernel6x64U: the 64 consecutive
// values of the row of B at BX, times each of the 6 packed A values at aoff(AX).
#define SGEMM_STEP6x64U(aoff) \
	VMOVUPS      (BX), Z24 \
	VMOVUPS      64(BX), Z25 \
	VMOVUPS      128(BX), Z26 \
	VMOVUPS      192(BX), Z27 \
	FMA_TILE(aoff(AX), aoff+4(AX), aoff+8(AX), aoff+12(AX), aoff+16(AX), aoff+20(AX))

// func sgemmKernel6x64(k int, a, b *float32, bstride int, c *float32, ldc int, alpha, beta float32)
//
// C[0:6, 0:64] = alpha * Σ_l A[l] ⊗ B[l] + beta*C for l < k, where a is a
// packed A micro-panel (as for sgemmKernel6x16) and b the first of four
// consecutive packed 16-column B micro-panels, bstride floats apart (each k
// groups of 16 floats); c points to C[0,0], ldc its row stride in floats.
// The main loop does 4 steps per iteration, a second loop the rest.
TEXT ·sgemmKernel6x64(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ bstride+24(FP), SI
	SHLQ $2, SI
	LEAQ (BX)(SI*2), R10
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8

	ZERO_TILE

	CMPQ CX, $4
	JLT  k6x64tail

k6x64loop4:
	SGEMM_STEP6x64P(0, 0)
	SGEMM_STEP6x64P(24, 64)
	SGEMM_STEP6x64P(48, 128)
	SGEMM_STEP6x64P(72, 192)
	ADDQ $96, AX
	ADDQ $256, BX
	ADDQ $256, R10
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  k6x64loop4

k6x64tail:
	TESTQ CX, CX
	JZ    k6x64store

k6x64loop1:
	SGEMM_STEP6x64P(0, 0)
	ADDQ $24, AX
	ADDQ $64, BX
	ADDQ $64, R10
	DECQ CX
	JNZ  k6x64loop1


k6x64store:
	VBROADCASTSS alpha+48(FP), Z30
	MOVL         beta+52(FP), R9
	SHLL         $1, R9                // drop the sign bit: zero for +0 and -0
	JZ           k6x64zero
	VBROADCASTSS beta+52(FP), Z31
	STORE_TILE_BETA
	VZEROUPPER
	RET

k6x64zero:
	STORE_TILE_ZERO
	VZEROUPPER
	RET


// func sgemmKernel6x64U(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)
//
// sgemmKernel6x64 with B read in place: b points to 64 consecutive columns of
// row 0 of a row-major B whose rows are ldb floats apart; step l reads row l.
TEXT ·sgemmKernel6x64U(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ ldb+24(FP), SI
	SHLQ $2, SI
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8

	ZERO_TILE

	CMPQ CX, $4
	JLT  k6x64utail

k6x64uloop4:
	SGEMM_STEP6x64U(0)
	ADDQ SI, BX
	SGEMM_STEP6x64U(24)
	ADDQ SI, BX
	SGEMM_STEP6x64U(48)
	ADDQ SI, BX
	SGEMM_STEP6x64U(72)
	ADDQ SI, BX
	ADDQ $96, AX
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  k6x64uloop4

k6x64utail:
	TESTQ CX, CX
	JZ    k6x64ustore

k6x64uloop1:
	SGEMM_STEP6x64U(0)
	ADDQ SI, BX
	ADDQ $24, AX
	DECQ CX
	JNZ  k6x64uloop1


k6x64ustore:
	VBROADCASTSS alpha+48(FP), Z30
	MOVL         beta+52(FP), R9
	SHLL         $1, R9                // drop the sign bit: zero for +0 and -0
	JZ           k6x64uzero
	VBROADCASTSS beta+52(FP), Z31
	STORE_TILE_BETA
	VZEROUPPER
	RET

k6x64uzero:
	STORE_TILE_ZERO
	VZEROUPPER
	RET

// SGEMM_STEP6x64A does one k step of sgemmKernel6x64A: the four packed B
// panels' 16 values at BX, BX+SI, R10, R10+SI times each of the 6 values of A
// read in place (row r at AX + r*R11, R13 = AX + 3*R11), then advances A by R12
// bytes and B by one step.
#define SGEMM_STEP6x64A \
	VMOVUPS      (BX), Z24 \
	VMOVUPS      (BX)(SI*1), Z25 \
	VMOVUPS      (R10), Z26 \
	VMOVUPS      (R10)(SI*1), Z27 \
	FMA_TILE((AX), (AX)(R11*1), (AX)(R11*2), (R13), (R13)(R11*1), (R13)(R11*2)) \
	ADDQ         R12, AX \
	ADDQ         R12, R13 \
	ADDQ         $64, BX \
	ADDQ         $64, R10

// func sgemmKernel6x64A(k int, a *float32, rs, ss int, b *float32, bstride int, c *float32, ldc int, alpha, beta float32)
//
// sgemmKernel6x64 with A read in place instead of from a packed micro-panel:
// the value of row r of the tile at step l is a[r*rs + l*ss] (rs, ss in
// floats: lda and 1 for A, 1 and lda for Aᵀ). Same instructions per step and
// the same store, so the same bits as the packed kernels.
TEXT ·sgemmKernel6x64A(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ rs+16(FP), R11
	SHLQ $2, R11
	MOVQ ss+24(FP), R12
	SHLQ $2, R12
	LEAQ (AX)(R11*2), R13
	ADDQ R11, R13
	MOVQ b+32(FP), BX
	MOVQ bstride+40(FP), SI
	SHLQ $2, SI
	LEAQ (BX)(SI*2), R10
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), R8
	SHLQ $2, R8

	ZERO_TILE

	CMPQ CX, $4
	JLT  k6x64atail

k6x64aloop4:
	SGEMM_STEP6x64A
	SGEMM_STEP6x64A
	SGEMM_STEP6x64A
	SGEMM_STEP6x64A
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  k6x64aloop4

k6x64atail:
	TESTQ CX, CX
	JZ    k6x64astore

k6x64aloop1:
	SGEMM_STEP6x64A
	DECQ CX
	JNZ  k6x64aloop1

k6x64astore:
	VBROADCASTSS alpha+64(FP), Z30
	MOVL         beta+68(FP), R9
	SHLL         $1, R9
	JZ           k6x64azero
	VBROADCASTSS beta+68(FP), Z31

	STORE_TILE_BETA
	VZEROUPPER
	RET

k6x64azero:
	STORE_TILE_ZERO
	VZEROUPPER
	RET

// SGEMM_STEP6x32AB does one k step of sgemmKernel6x32AB: the 32 consecutive
// values of the row of B at BX (Z24, Z25) times each of the 6 values of A read
// in place (as SGEMM_STEP6x64A), added to Z0..Z11 (row r in Z(2r), Z(2r+1));
// then advances A by R12 bytes and B by one row (SI bytes).
#define SGEMM_STEP6x32AB \
	VMOVUPS      (BX), Z24 \
	VMOVUPS      64(BX), Z25 \
	VBROADCASTSS (AX), Z28 \
	VFMADD231PS  Z24, Z28, Z0 \
	VFMADD231PS  Z25, Z28, Z1 \
	VBROADCASTSS (AX)(R11*1), Z29 \
	VFMADD231PS  Z24, Z29, Z2 \
	VFMADD231PS  Z25, Z29, Z3 \
	VBROADCASTSS (AX)(R11*2), Z28 \
	VFMADD231PS  Z24, Z28, Z4 \
	VFMADD231PS  Z25, Z28, Z5 \
	VBROADCASTSS (R13), Z29 \
	VFMADD231PS  Z24, Z29, Z6 \
	VFMADD231PS  Z25, Z29, Z7 \
	VBROADCASTSS (R13)(R11*1), Z28 \
	VFMADD231PS  Z24, Z28, Z8 \
	VFMADD231PS  Z25, Z28, Z9 \
	VBROADCASTSS (R13)(R11*2), Z29 \
	VFMADD231PS  Z24, Z29, Z10 \
	VFMADD231PS  Z25, Z29, Z11 \
	ADDQ         R12, AX \
	ADDQ         R12, R13 \
	ADDQ         SI, BX

// func sgemmKernel6x32AB(k int, a *float32, rs, ss int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)
//
// A 6×32 tile C = alpha*op(A)·B + beta*C with both operands read in place:
// row r of op(A) at step l is a[r*rs + l*ss], and step l reads the 32 values
// b[l*ldb : l*ldb+32]. The arithmetic of sgemmKernel6x16A on each 16 columns
// (one multiply-add chain per element, the same store), so the same bits.
TEXT ·sgemmKernel6x32AB(SB), NOSPLIT, $0-72
	AB_ARGS

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11

	CMPQ CX, $4
	JLT  k6x32abtail

k6x32abloop4:
	SGEMM_STEP6x32AB
	SGEMM_STEP6x32AB
	SGEMM_STEP6x32AB
	SGEMM_STEP6x32AB
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  k6x32abloop4

k6x32abtail:
	TESTQ CX, CX
	JZ    k6x32abstore

k6x32abloop1:
	SGEMM_STEP6x32AB
	DECQ CX
	JNZ  k6x32abloop1

k6x32abstore:
	VBROADCASTSS alpha+64(FP), Z30
	MOVL         beta+68(FP), R9
	SHLL         $1, R9
	JZ           k6x32abzero
	VBROADCASTSS beta+68(FP), Z31
	STORE_BETA_Z(Z0, 0)
	STORE_BETA_Z(Z1, 64)
	ADDQ R8, DX
	STORE_BETA_Z(Z2, 0)
	STORE_BETA_Z(Z3, 64)
	ADDQ R8, DX
	STORE_BETA_Z(Z4, 0)
	STORE_BETA_Z(Z5, 64)
	ADDQ R8, DX
	STORE_BETA_Z(Z6, 0)
	STORE_BETA_Z(Z7, 64)
	ADDQ R8, DX
	STORE_BETA_Z(Z8, 0)
	STORE_BETA_Z(Z9, 64)
	ADDQ R8, DX
	STORE_BETA_Z(Z10, 0)
	STORE_BETA_Z(Z11, 64)
	VZEROUPPER
	RET

k6x32abzero:
	STORE_ZERO_Z(Z0, 0)
	STORE_ZERO_Z(Z1, 64)
	ADDQ R8, DX
	STORE_ZERO_Z(Z2, 0)
	STORE_ZERO_Z(Z3, 64)
	ADDQ R8, DX
	STORE_ZERO_Z(Z4, 0)
	STORE_ZERO_Z(Z5, 64)
	ADDQ R8, DX
	STORE_ZERO_Z(Z6, 0)
	STORE_ZERO_Z(Z7, 64)
	ADDQ R8, DX
	STORE_ZERO_Z(Z8, 0)
	STORE_ZERO_Z(Z9, 64)
	ADDQ R8, DX
	STORE_ZERO_Z(Z10, 0)
	STORE_ZERO_Z(Z11, 64)
	VZEROUPPER
	RET

// SGEMM_STEP6x64AB does one k step of sgemmKernel6x64AB: the 64 consecutive
// values of the row of B at BX times each of the 6 values of A read in place,
// then advances A by R12 bytes and B by one row (SI bytes).
#define SGEMM_STEP6x64AB \
	VMOVUPS      (BX), Z24 \
	VMOVUPS      64(BX), Z25 \
	VMOVUPS      128(BX), Z26 \
	VMOVUPS      192(BX), Z27 \
	FMA_TILE((AX), (AX)(R11*1), (AX)(R11*2), (R13), (R13)(R11*1), (R13)(R11*2)) \
	ADDQ         R12, AX \
	ADDQ         R12, R13 \
	ADDQ         SI, BX

// func sgemmKernel6x64AB(k int, a *float32, rs, ss int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)
//
// sgemmKernel6x32AB 64 columns wide: sgemmKernel6x64A with B read in place
// (step l reads b[l*ldb : l*ldb+64]). Same arithmetic, so the same bits.
TEXT ·sgemmKernel6x64AB(SB), NOSPLIT, $0-72
	AB_ARGS

	ZERO_TILE

	CMPQ CX, $4
	JLT  k6x64abtail

k6x64abloop4:
	SGEMM_STEP6x64AB
	SGEMM_STEP6x64AB
	SGEMM_STEP6x64AB
	SGEMM_STEP6x64AB
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  k6x64abloop4

k6x64abtail:
	TESTQ CX, CX
	JZ    k6x64abstore

k6x64abloop1:
	SGEMM_STEP6x64AB
	DECQ CX
	JNZ  k6x64abloop1

k6x64abstore:
	VBROADCASTSS alpha+64(FP), Z30
	MOVL         beta+68(FP), R9
	SHLL         $1, R9
	JZ           k6x64abzero
	VBROADCASTSS beta+68(FP), Z31

	STORE_TILE_BETA
	VZEROUPPER
	RET

k6x64abzero:
	STORE_TILE_ZERO
	VZEROUPPER
	RET
