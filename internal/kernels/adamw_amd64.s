// The AdamW update (adamw.go): 8 float32 lanes per step, the operations of adamWGo in its
// order, without fused multiply-adds.

#include "textflag.h"

// ADAMW_MOMENTS loads g (Y1), stores m = B1·m + (1−B1)·g and v = B2·v + ((1−B2)·g)·g, and
// leaves the Adam step (StepSize·m) / (√v·InvBC2Sqrt + Eps) in Y2 and p in Y0.
#define ADAMW_MOMENTS \
	VMOVUPS (DX), Y1      \
	VMULPS  (R8), Y8, Y2  \
	VMULPS  Y1, Y9, Y3    \
	VADDPS  Y3, Y2, Y2    \
	VMOVUPS Y2, (R8)      \
	VMULPS  (R9), Y10, Y4 \
	VMULPS  Y1, Y11, Y5   \
	VMULPS  Y1, Y5, Y5    \
	VADDPS  Y5, Y4, Y4    \
	VMOVUPS Y4, (R9)      \
	VSQRTPS Y4, Y4        \
	VMULPS  Y14, Y4, Y4   \
	VADDPS  Y12, Y4, Y4   \
	VMULPS  Y2, Y13, Y2   \
	VDIVPS  Y4, Y2, Y2    \
	VMOVUPS (SI), Y0

// func adamWAVX2(p, grad, m, v *float32, n int, c *AdamWStep)
//
// n is a positive multiple of 8. Y8..Y15: B1, 1−B1, B2, 1−B2, Eps, StepSize, InvBC2Sqrt, LRWD
// in every lane. SI, DX, R8, R9: p, g, m, v; BX counts the 8-float steps left.
TEXT ·adamWAVX2(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), SI
	MOVQ grad+8(FP), DX
	MOVQ m+16(FP), R8
	MOVQ v+24(FP), R9
	MOVQ n+32(FP), BX
	MOVQ c+40(FP), AX
	SHRQ $3, BX
	VBROADCASTSS 0(AX), Y8
	VBROADCASTSS 4(AX), Y9
	VBROADCASTSS 8(AX), Y10
	VBROADCASTSS 12(AX), Y11
	VBROADCASTSS 16(AX), Y12
	VBROADCASTSS 20(AX), Y13
	VBROADCASTSS 24(AX), Y14
	VBROADCASTSS 28(AX), Y15
	MOVL 28(AX), CX
	TESTL $0x7fffffff, CX // LRWD = ±0: no decay term
	JZ   nodecay

decay:
	ADAMW_MOMENTS
	VMULPS  Y0, Y15, Y6 // LRWD·p
	VADDPS  Y2, Y6, Y2  // + the step
	VSUBPS  Y2, Y0, Y0  // p − (…)
	VMOVUPS Y0, (SI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, R8
	ADDQ    $32, R9
	DECQ    BX
	JNZ     decay
	VZEROUPPER
	RET

nodecay:
	ADAMW_MOMENTS
	VSUBPS  Y2, Y0, Y0 // p − the step
	VMOVUPS Y0, (SI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, R8
	ADDQ    $32, R9
	DECQ    BX
	JNZ     nodecay
	VZEROUPPER
	RET
