// Transposing copies for packing (gemm_amd64.go's packA and packB): 8 columns of up to 16
// rows at a time, transposed in registers.

#include "textflag.h"

// TRANSPOSE8 transposes the 8×8 block whose rows are Y0..Y7 into Y8..Y15 (Y8 is column 0),
// with Y0..Y7 as scratch: interleave pairs of rows, then pairs of pairs within each 128-bit
// half, then swap halves.
#define TRANSPOSE8 \
	VUNPCKLPS  Y1, Y0, Y8        \
	VUNPCKHPS  Y1, Y0, Y9        \
	VUNPCKLPS  Y3, Y2, Y10       \
	VUNPCKHPS  Y3, Y2, Y11       \
	VUNPCKLPS  Y5, Y4, Y12       \
	VUNPCKHPS  Y5, Y4, Y13       \
	VUNPCKLPS  Y7, Y6, Y14       \
	VUNPCKHPS  Y7, Y6, Y15       \
	VSHUFPS    $0x44, Y10, Y8, Y0 \
	VSHUFPS    $0xEE, Y10, Y8, Y1 \
	VSHUFPS    $0x44, Y11, Y9, Y2 \
	VSHUFPS    $0xEE, Y11, Y9, Y3 \
	VSHUFPS    $0x44, Y14, Y12, Y4 \
	VSHUFPS    $0xEE, Y14, Y12, Y5 \
	VSHUFPS    $0x44, Y15, Y13, Y6 \
	VSHUFPS    $0xEE, Y15, Y13, Y7 \
	VPERM2F128 $0x20, Y4, Y0, Y8 \
	VPERM2F128 $0x20, Y5, Y1, Y9 \
	VPERM2F128 $0x20, Y6, Y2, Y10 \
	VPERM2F128 $0x20, Y7, Y3, Y11 \
	VPERM2F128 $0x31, Y4, Y0, Y12 \
	VPERM2F128 $0x31, Y5, Y1, Y13 \
	VPERM2F128 $0x31, Y6, Y2, Y14 \
	VPERM2F128 $0x31, Y7, Y3, Y15

// LOAD8 loads 8 floats of the rows at R (R, R+BX, R+2BX, R+R10 with R10 = 3BX) and S (the
// same four strides) into Y0..Y7.
#define LOAD8(R, S) \
	VMOVUPS (R), Y0         \
	VMOVUPS (R)(BX*1), Y1   \
	VMOVUPS (R)(BX*2), Y2   \
	VMOVUPS (R)(R10*1), Y3  \
	VMOVUPS (S), Y4         \
	VMOVUPS (S)(BX*1), Y5   \
	VMOVUPS (S)(BX*2), Y6   \
	VMOVUPS (S)(R10*1), Y7

// func transposePanel16(kc8 int, src *float32, lds int, dst *float32)
//
// dst[l·16 + r] = src[r·lds + l] for r < 16 and l < kc8, kc8 a positive multiple of 8: 16 rows
// of op(B)ᵀ (a transposed B) into one 16-column panel. SI, R8, R11, R12: rows 0, 4, 8 and 12
// at column l; BX: lds in bytes; DI: dst row l.
TEXT ·transposePanel16(SB), NOSPLIT, $0-32
	MOVQ kc8+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), BX
	MOVQ dst+24(FP), DI
	SHLQ $2, BX
	LEAQ (BX)(BX*2), R10
	LEAQ (SI)(BX*4), R8
	LEAQ (R8)(BX*4), R11
	LEAQ (R11)(BX*4), R12
	SHRQ $3, CX

t16loop:
	LOAD8(SI, R8)
	TRANSPOSE8
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, 64(DI)
	VMOVUPS Y10, 128(DI)
	VMOVUPS Y11, 192(DI)
	VMOVUPS Y12, 256(DI)
	VMOVUPS Y13, 320(DI)
	VMOVUPS Y14, 384(DI)
	VMOVUPS Y15, 448(DI)
	LOAD8(R11, R12)
	TRANSPOSE8
	VMOVUPS Y8, 32(DI)
	VMOVUPS Y9, 96(DI)
	VMOVUPS Y10, 160(DI)
	VMOVUPS Y11, 224(DI)
	VMOVUPS Y12, 288(DI)
	VMOVUPS Y13, 352(DI)
	VMOVUPS Y14, 416(DI)
	VMOVUPS Y15, 480(DI)
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R11
	ADDQ $32, R12
	ADDQ $512, DI
	DECQ CX
	JNZ  t16loop
	VZEROUPPER
	RET

// STORE6 stores the low 6 floats of Y (with X its low half) at off(DI), through Y0 (its high
// half's low 2 floats).
#define STORE6(Y, X, off) \
	VMOVUPS      X, off(DI)     \
	VEXTRACTF128 $1, Y, X0      \
	VMOVQ        X0, off+16(DI)

// func transposePanel6(kc8 int, src *float32, lds int, dst *float32)
//
// dst[l·6 + r] = src[r·lds + l] for r < 6 and l < kc8, kc8 a positive multiple of 8: 6 rows of
// A into one 6-row panel. Only the 6 rows are read (Y6 and Y7 are zeroed). SI, R8: rows 0 and
// 4 at column l; BX: lds in bytes; DI: dst row l.
TEXT ·transposePanel6(SB), NOSPLIT, $0-32
	MOVQ kc8+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), BX
	MOVQ dst+24(FP), DI
	SHLQ $2, BX
	LEAQ (BX)(BX*2), R10
	LEAQ (SI)(BX*4), R8
	SHRQ $3, CX

t6loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(BX*1), Y1
	VMOVUPS (SI)(BX*2), Y2
	VMOVUPS (SI)(R10*1), Y3
	VMOVUPS (R8), Y4
	VMOVUPS (R8)(BX*1), Y5
	VXORPS  Y6, Y6, Y6
	VXORPS  Y7, Y7, Y7
	TRANSPOSE8
	STORE6(Y8, X8, 0)
	STORE6(Y9, X9, 24)
	STORE6(Y10, X10, 48)
	STORE6(Y11, X11, 72)
	STORE6(Y12, X12, 96)
	STORE6(Y13, X13, 120)
	STORE6(Y14, X14, 144)
	STORE6(Y15, X15, 168)
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $192, DI
	DECQ CX
	JNZ  t6loop
	VZEROUPPER
	RET
