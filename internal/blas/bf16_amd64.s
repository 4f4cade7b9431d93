// AVX512-BF16 kernels of SgemmBF16 (see bf16_amd64.go).
//
// The packed operands hold pairs of bfloat16 values in 32-bit words, the value
// of step 2p in the low half and of step 2p+1 in the high half; VDPBF16PS
// multiplies the pairs of A and B exactly and adds both products to a float32
// accumulator. The store is the float32 kernels': alpha*acc + beta*C with one
// rounding, or alpha*acc when beta is ±0 (C is then not read).
//
// Registers of the kernel:
//
//	CX        remaining pair steps
//	AX        packed A micro-panel (6 words per step)
//	BX, R10   the first and third of four packed B panels, SI apart (bytes)
//	DX, R8    the current row of C and its stride in bytes
//	Z0..Z23   accumulators: row r of the tile in Z(4r) … Z(4r+3)
//	Z24..Z27  the B pairs of the current step (64 columns)
//	Z28, Z29  broadcast A pairs; Z30, Z31 alpha and beta (epilogue)

#include "textflag.h"
#include "zmm_amd64.h"

// BF16_STEP6x64 does one pair step: the B pairs at boff of the four panels
// times each of the 6 A pairs at aoff(AX). Go's assembler has no AVX512-BF16
// mnemonics, so each VDPBF16PS Z(24+q), Z28|Z29, Z(4r+q) is spelled as its six
// EVEX bytes (62 P0 P1 P2 52 ModRM; checked against GNU as).
#define BF16_STEP6x64(aoff, boff) \
	VMOVUPS      boff(BX), Z24 \
	VMOVUPS      boff(BX)(SI*1), Z25 \
	VMOVUPS      boff(R10), Z26 \
	VMOVUPS      boff(R10)(SI*1), Z27 \
	VPBROADCASTD aoff+0(AX), Z28 \
	BYTE $0x62; BYTE $0x92; BYTE $0x1e; BYTE $0x40; BYTE $0x52; BYTE $0xc0 \
	BYTE $0x62; BYTE $0x92; BYTE $0x1e; BYTE $0x40; BYTE $0x52; BYTE $0xc9 \
	BYTE $0x62; BYTE $0x92; BYTE $0x1e; BYTE $0x40; BYTE $0x52; BYTE $0xd2 \
	BYTE $0x62; BYTE $0x92; BYTE $0x1e; BYTE $0x40; BYTE $0x52; BYTE $0xdb \
	VPBROADCASTD aoff+4(AX), Z29 \
	BYTE $0x62; BYTE $0x92; BYTE $0x16; BYTE $0x40; BYTE $0x52; BYTE $0xe0 \
	BYTE $0x62; BYTE $0x92; BYTE $0x16; BYTE $0x40; BYTE $0x52; BYTE $0xe9 \
	BYTE $0x62; BYTE $0x92; BYTE $0x16; BYTE $0x40; BYTE $0x52; BYTE $0xf2 \
	BYTE $0x62; BYTE $0x92; BYTE $0x16; BYTE $0x40; BYTE $0x52; BYTE $0xfb \
	VPBROADCASTD aoff+8(AX), Z28 \
	BYTE $0x62; BYTE $0x12; BYTE $0x1e; BYTE $0x40; BYTE $0x52; BYTE $0xc0 \
	BYTE $0x62; BYTE $0x12; BYTE $0x1e; BYTE $0x40; BYTE $0x52; BYTE $0xc9 \
	BYTE $0x62; BYTE $0x12; BYTE $0x1e; BYTE $0x40; BYTE $0x52; BYTE $0xd2 \
	BYTE $0x62; BYTE $0x12; BYTE $0x1e; BYTE $0x40; BYTE $0x52; BYTE $0xdb \
	VPBROADCASTD aoff+12(AX), Z29 \
	BYTE $0x62; BYTE $0x12; BYTE $0x16; BYTE $0x40; BYTE $0x52; BYTE $0xe0 \
	BYTE $0x62; BYTE $0x12; BYTE $0x16; BYTE $0x40; BYTE $0x52; BYTE $0xe9 \
	BYTE $0x62; BYTE $0x12; BYTE $0x16; BYTE $0x40; BYTE $0x52; BYTE $0xf2 \
	BYTE $0x62; BYTE $0x12; BYTE $0x16; BYTE $0x40; BYTE $0x52; BYTE $0xfb \
	VPBROADCASTD aoff+16(AX), Z28 \
	BYTE $0x62; BYTE $0x82; BYTE $0x1e; BYTE $0x40; BYTE $0x52; BYTE $0xc0 \
	BYTE $0x62; BYTE $0x82; BYTE $0x1e; BYTE $0x40; BYTE $0x52; BYTE $0xc9 \
	BYTE $0x62; BYTE $0x82; BYTE $0x1e; BYTE $0x40; BYTE $0x52; BYTE $0xd2 \
	BYTE $0x62; BYTE $0x82; BYTE $0x1e; BYTE $0x40; BYTE $0x52; BYTE $0xdb \
	VPBROADCASTD aoff+20(AX), Z29 \
	BYTE $0x62; BYTE $0x82; BYTE $0x16; BYTE $0x40; BYTE $0x52; BYTE $0xe0 \
	BYTE $0x62; BYTE $0x82; BYTE $0x16; BYTE $0x40; BYTE $0x52; BYTE $0xe9 \
	BYTE $0x62; BYTE $0x82; BYTE $0x16; BYTE $0x40; BYTE $0x52; BYTE $0xf2 \
	BYTE $0x62; BYTE $0x82; BYTE $0x16; BYTE $0x40; BYTE $0x52; BYTE $0xfb

// func sbgemmKernel6x64(kp int, a, b *uint32, bstride int, c *float32, ldc int, alpha, beta float32)
//
// C[0:6, 0:64] = alpha * Σ_p A[p]·B[p] + beta*C over kp pair steps, where a is
// a packed A micro-panel (kp groups of 6 pairs, one per row), b the first of
// four packed B panels bstride words apart (each kp groups of 16 pairs), c
// points to C[0,0] with row stride ldc floats.
TEXT ·sbgemmKernel6x64(SB), NOSPLIT, $0-56
	MOVQ kp+0(FP), CX
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
	JLT  sb6x64tail

sb6x64loop4:
	BF16_STEP6x64(0, 0)
	BF16_STEP6x64(24, 64)
	BF16_STEP6x64(48, 128)
	BF16_STEP6x64(72, 192)
	ADDQ $96, AX
	ADDQ $256, BX
	ADDQ $256, R10
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  sb6x64loop4

sb6x64tail:
	TESTQ CX, CX
	JZ    sb6x64store

sb6x64loop1:
	BF16_STEP6x64(0, 0)
	ADDQ $24, AX
	ADDQ $64, BX
	ADDQ $64, R10
	DECQ CX
	JNZ  sb6x64loop1

sb6x64store:
	VBROADCASTSS alpha+48(FP), Z30
	MOVL         beta+52(FP), R9
	SHLL         $1, R9
	JZ           sb6x64zero
	VBROADCASTSS beta+52(FP), Z31

	STORE_TILE_BETA
	VZEROUPPER
	RET

sb6x64zero:
	STORE_TILE_ZERO
	VZEROUPPER
	RET


// func cvtPairsBF16(n int, src *float32, dst *uint32)
//
// dst[i] = bf16(src[2i]) | bf16(src[2i+1])<<16 for i < n (round to nearest
// even; denormal inputs become zero), 8 words per step: VCVTNEPS2BF16 of 16
// consecutive floats is exactly that layout (spelled as its EVEX bytes, as Go's
// assembler lacks it). n must be a multiple of 8.
TEXT ·cvtPairsBF16(SB), NOSPLIT, $0-24
	MOVQ  n+0(FP), CX
	MOVQ  src+8(FP), SI
	MOVQ  dst+16(FP), DI
	SHRQ  $3, CX
	TESTQ CX, CX
	JZ    cvtpdone

cvtploop:
	VMOVUPS (SI), Z0
	BYTE $0x62; BYTE $0xf2; BYTE $0x7e; BYTE $0x48; BYTE $0x72; BYTE $0xc8 // VCVTNEPS2BF16 Z0, Y1
	VMOVDQU Y1, (DI)
	ADDQ    $64, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     cvtploop

cvtpdone:
	VZEROUPPER
	RET

// func interleaveBF16(n int, lo, hi *float32, dst *uint32)
//
// dst[i] = bf16(lo[i]) | bf16(hi[i])<<16 for i < n (two rows of an operand
// whose pairs run down its columns), 16 words per step. n must be a multiple
// of 16.
TEXT ·interleaveBF16(SB), NOSPLIT, $0-32
	MOVQ  n+0(FP), CX
	MOVQ  lo+8(FP), SI
	MOVQ  hi+16(FP), BX
	MOVQ  dst+24(FP), DI
	SHRQ  $4, CX
	TESTQ CX, CX
	JZ    ilvdone

ilvloop:
	VMOVUPS   (SI), Z2
	VMOVUPS   (BX), Z3
	BYTE $0x62; BYTE $0xf2; BYTE $0x7e; BYTE $0x48; BYTE $0x72; BYTE $0xc2 // VCVTNEPS2BF16 Z2, Y0
	BYTE $0x62; BYTE $0xf2; BYTE $0x7e; BYTE $0x48; BYTE $0x72; BYTE $0xcb // VCVTNEPS2BF16 Z3, Y1
	VPMOVZXWD Y0, Z0
	VPMOVZXWD Y1, Z1
	VPSLLD    $16, Z1, Z1
	VPORD     Z1, Z0, Z0
	VMOVDQU32 Z0, (DI)
	ADDQ      $64, SI
	ADDQ      $64, BX
	ADDQ      $64, DI
	DECQ      CX
	JNZ       ilvloop

ilvdone:
	VZEROUPPER
	RET
