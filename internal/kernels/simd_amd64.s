// AVX2/FMA element-wise kernels: GELU forward and backward, and the exp,
// max and scale passes of a softmax row (see simd_amd64.go for the Go
// declarations and norm.go, attention.go and loss.go for the callers and the
// scalar code these follow).
//
// Every kernel processes 8 float32 lanes per step and finishes the last
// n mod 8 elements with one more step under a lane mask (VMASKMOVPS loads and
// stores, which never touch the masked-off lanes' memory) — except the AVX-512
// GELU kernels at the end of the file, which do the same 16 lanes at a time
// with a mask register (their comment says which registers they use). Each element is
// thus computed by the same instructions wherever it lies in the slice, so a
// kernel split into chunks at arbitrary points (parallelFor) gives the same
// bits as one call over the whole slice.
//
// Register use common to all kernels:
//
//	SI       pointer into the input x (or src; scaleAVX2 works in place here)
//	DI       pointer into the output y (or dst, dx)
//	DX, R8   further operands where a kernel has them (th; dy)
//	CX       element count n; after the main loop, n mod 8
//	BX       main-loop counter: remaining full 8-float vectors
//	AX, R10  scratch for the tail mask address
//	Y7       tail lane mask (lanes < n mod 8 all ones), from masktab
//
// The constants below are 8 equal float32 lanes each (32 bytes), so that they
// can be the memory operand of a 256-bit instruction.

#include "textflag.h"

// CONST8 defines the read-only 32-byte symbol name<> holding the float32 with
// the given bits in all 8 lanes.
#define CONST8(name, bits) \
	DATA name<>+0(SB)/4, $bits; \
	DATA name<>+4(SB)/4, $bits; \
	DATA name<>+8(SB)/4, $bits; \
	DATA name<>+12(SB)/4, $bits; \
	DATA name<>+16(SB)/4, $bits; \
	DATA name<>+20(SB)/4, $bits; \
	DATA name<>+24(SB)/4, $bits; \
	DATA name<>+28(SB)/4, $bits; \
	GLOBL name<>(SB), RODATA|NOPTR, $32

// GELU: c = √(2/π), c·0.044715, the tanh clamp 7.90531110763549805, the
// float32 sign-clearing mask, ½ and 1.
CONST8(geluC, 0x3f4c422a)
CONST8(geluCA, 0x3d122279)
CONST8(tanhMax, 0x40fcf84f)
CONST8(absMask, 0x7fffffff)
CONST8(half, 0x3f000000)
CONST8(one, 0x3f800000)

// Tanh's rational approximation (norm.go): numerator tp6..tp0 (in u², then
// times u), denominator tq3..tq0 (in u²).
CONST8(tp6, 0xa59f25c0) // -2.76076847742355e-16
CONST8(tp5, 0x2a61337e) // 2.00018790482477e-13
CONST8(tp4, 0xaebd37ff) // -8.60467152213735e-11
CONST8(tp3, 0x335c0041) // 5.12229709037114e-08
CONST8(tp2, 0x3779434a) // 1.48572235717979e-05
CONST8(tp1, 0x3a270ded) // 6.37261928875436e-04
CONST8(tp0, 0x3ba059dc) // 4.89352455891786e-03
CONST8(tq3, 0x35a0d3d8) // 1.19825839466702e-06
CONST8(tq2, 0x38f895d6) // 1.18534705686654e-04
CONST8(tq1, 0x3b14aa05) // 2.26843463243900e-03
CONST8(tq0, 0x3ba059dd) // 4.89352518554385e-03

// GELU backward: c/2 and c/2·3·0.044715.
CONST8(geluG0, 0x3ecc422a)
CONST8(geluG1, 0x3d5b33b6)

// Exp (attention.go): log2(e), ln2 split in a high part exact in a product
// with k and a low part, the polynomial ec5..ec0, the underflow and overflow
// cuts −87.33654 and 88.37626, and +Inf.
CONST8(log2e, 0x3fb8aa3b)
CONST8(ln2hi, 0x3f318000)
CONST8(ln2lo, 0xb95e8083)
CONST8(ec5, 0x39506967) // 1.9875691500e-4
CONST8(ec4, 0x3ab743ce) // 1.3981999507e-3
CONST8(ec3, 0x3c088908) // 8.3334519073e-3
CONST8(ec2, 0x3d2aa9c1) // 4.1665795894e-2
CONST8(ec1, 0x3e2aaaaa) // 1.6666665459e-1
CONST8(ec0, 0x3f000000) // 5.0000001201e-1
CONST8(expMin, 0xc2aeac4f)
CONST8(expMax, 0x42b0c0a5)
CONST8(posInf, 0x7f800000)

// masktab is 8 all-ones int32 lanes followed by 8 zero lanes: the 32 bytes at
// masktab+4·(8−r) enable lanes 0..r−1.
DATA masktab<>+0(SB)/8, $0xffffffffffffffff
DATA masktab<>+8(SB)/8, $0xffffffffffffffff
DATA masktab<>+16(SB)/8, $0xffffffffffffffff
DATA masktab<>+24(SB)/8, $0xffffffffffffffff
DATA masktab<>+32(SB)/8, $0
DATA masktab<>+40(SB)/8, $0
DATA masktab<>+48(SB)/8, $0
DATA masktab<>+56(SB)/8, $0
GLOBL masktab<>(SB), RODATA|NOPTR, $64

// TAIL_MASK loads into Y7 the mask enabling the first CX (1..7) lanes,
// using AX and R10 as scratch.
#define TAIL_MASK \
	MOVQ    CX, AX; \
	NEGQ    AX; \
	LEAQ    masktab<>(SB), R10; \
	VMOVDQU 32(R10)(AX*4), Y7

// GELU_TANH computes the tanh term of GELU for the 8 values x in Y0, into Y3.
// The rational approximation is evaluated on a = |u| and the sign put back at
// the end (it is odd, so this equals evaluating it on u):
//
//	Y1 = x²·(c·a) + c, then u = x·Y1 = c·(x + a·x³)
//	Y5 = min(|u|, tanhMax)  (u's sign bit is left in Y1; VMINPS with |u| as
//	     the second source, so a NaN stays NaN)
//	Y2 = Y5²
//	Y3 = Y5·P(Y2)    (Horner, 6 FMAs, then a multiply)
//	Y4 = Q(Y2)       (Horner, 3 FMAs)
//	Y3 = Y3 / Y4     (tanh(|u|))
//	Y3 = 1 where |u| ≥ tanhMax (Y4 = mask): the scalar code's evaluation gives
//	     exactly 1 there but the fused multiply-adds give 1 − 2⁻²²; without
//	     this, GELU(−30) would be −3.6e-6 rather than 0 and 1 − t² not 0
//	Y3 = Y3 with u's sign
//
// It uses Y8 = c, Y9 = c·a, Y10 = tanhMax, Y11 = 1 and leaves Y0 as is.
#define GELU_TANH \
	VMULPS      Y0, Y0, Y1; \
	VFMADD132PS Y9, Y8, Y1; \
	VMULPS      Y0, Y1, Y1; \
	VANDPS      absMask<>(SB), Y1, Y5; \
	VXORPS      Y5, Y1, Y1; \
	VMINPS      Y5, Y10, Y5; \
	VMULPS      Y5, Y5, Y2; \
	VMOVUPS     tp6<>(SB), Y3; \
	VFMADD213PS tp5<>(SB), Y2, Y3; \
	VFMADD213PS tp4<>(SB), Y2, Y3; \
	VFMADD213PS tp3<>(SB), Y2, Y3; \
	VFMADD213PS tp2<>(SB), Y2, Y3; \
	VFMADD213PS tp1<>(SB), Y2, Y3; \
	VFMADD213PS tp0<>(SB), Y2, Y3; \
	VMULPS      Y5, Y3, Y3; \
	VMOVUPS     tq3<>(SB), Y4; \
	VFMADD213PS tq2<>(SB), Y2, Y4; \
	VFMADD213PS tq1<>(SB), Y2, Y4; \
	VFMADD213PS tq0<>(SB), Y2, Y4; \
	VDIVPS      Y4, Y3, Y3; \
	VCMPPS      $0, Y10, Y5, Y4; \
	VBLENDVPS   Y4, Y11, Y3, Y3; \
	VXORPS      Y1, Y3, Y3

// GELU_OUT turns x in Y0 into y = x/2 + x/2·t (t in Y3), using Y12 = ½.
#define GELU_OUT \
	VMULPS      Y12, Y0, Y0; \
	VFMADD231PS Y3, Y0, Y0

// func geluAVX2(y, th, x *float32, n int)
//
// y[i] = x[i]/2·(1 + t[i]) for i < n, where t[i] is the clamped rational tanh
// of √(2/π)(x[i] + 0.044715x[i]³), stored in th[i] when th is not nil.
//
// Registers: DX is th (nil or a pointer into it); Y0..Y5 per-step values (see
// GELU_TANH); Y8..Y12 constants as GELU_TANH and GELU_OUT describe; Y7 the
// tail mask.
TEXT ·geluAVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ th+8(FP), DX
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX

	VMOVUPS geluC<>(SB), Y8
	VMOVUPS geluCA<>(SB), Y9
	VMOVUPS tanhMax<>(SB), Y10
	VMOVUPS one<>(SB), Y11
	VMOVUPS half<>(SB), Y12

	MOVQ CX, BX
	SHRQ $3, BX
	JZ   gelutail
	TESTQ DX, DX
	JZ   geluloop

geluloopth:
	VMOVUPS (SI), Y0
	GELU_TANH
	VMOVUPS Y3, (DX)
	GELU_OUT
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, DX
	DECQ    BX
	JNZ     geluloopth
	JMP     gelutail

geluloop:
	VMOVUPS (SI), Y0
	GELU_TANH
	GELU_OUT
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    BX
	JNZ     geluloop

gelutail:
	ANDQ $7, CX
	JZ   geludone
	TAIL_MASK
	VMASKMOVPS (SI), Y7, Y0
	GELU_TANH
	TESTQ DX, DX
	JZ    gelutailout
	VMASKMOVPS Y3, Y7, (DX)

gelutailout:
	GELU_OUT
	VMASKMOVPS Y0, Y7, (DI)

geludone:
	VZEROUPPER
	RET

// GELU_BWD computes dx = dy·GELU'(x) for x in Y0, the tanh term t in Y1 and
// dy in Y5, into Y1:
//
//	Y2 = x²·(3ac/2) + c/2          (= c/2·(1 + 3a·x²))
//	Y4 = 1 − t²
//	Y1 = t·½ + ½                   (= (1 + t)/2)
//	Y4 = x·(1 − t²)
//	Y1 = Y1 + Y4·Y2                (GELU'(x))
//	Y1 = Y1·dy
//
// It uses g0 = c/2, g1 = 3ac/2 (Y8 and Y9 in geluBackwardAVX2), Y12 = ½, Y13 = 1.
#define GELU_BWD(g0, g1) \
	VMULPS       Y0, Y0, Y2; \
	VFMADD132PS  g1, g0, Y2; \
	VMOVAPS      Y13, Y4; \
	VFNMADD231PS Y1, Y1, Y4; \
	VFMADD132PS  Y12, Y12, Y1; \
	VMULPS       Y0, Y4, Y4; \
	VFMADD231PS  Y2, Y4, Y1; \
	VMULPS       Y5, Y1, Y1

// func geluBackwardAVX2(dx, dy, x, th *float32, n int)
//
// dx[i] = dy[i]·(½(1 + t) + ½x(1 − t²)·c(1 + 3a·x²)) with x = x[i], t = th[i],
// for i < n.
//
// Registers: R8 is dy and DX th (pointers into them); Y0, Y1, Y5 hold x, t
// and dy, Y2 and Y4 intermediates (see GELU_BWD); Y8, Y9, Y12, Y13
// constants; Y7 the tail mask.
TEXT ·geluBackwardAVX2(SB), NOSPLIT, $0-40
	MOVQ dx+0(FP), DI
	MOVQ dy+8(FP), R8
	MOVQ x+16(FP), SI
	MOVQ th+24(FP), DX
	MOVQ n+32(FP), CX

	VMOVUPS geluG0<>(SB), Y8
	VMOVUPS geluG1<>(SB), Y9
	VMOVUPS half<>(SB), Y12
	VMOVUPS one<>(SB), Y13

	MOVQ CX, BX
	SHRQ $3, BX
	JZ   gelubtail

gelubloop:
	VMOVUPS (SI), Y0
	VMOVUPS (DX), Y1
	VMOVUPS (R8), Y5
	GELU_BWD(Y8, Y9)
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, R8
	ADDQ    $32, DI
	DECQ    BX
	JNZ     gelubloop

gelubtail:
	ANDQ $7, CX
	JZ   gelubdone
	TAIL_MASK
	VMASKMOVPS (SI), Y7, Y0
	VMASKMOVPS (DX), Y7, Y1
	VMASKMOVPS (R8), Y7, Y5
	GELU_BWD(Y8, Y9)
	VMASKMOVPS Y1, Y7, (DI)

gelubdone:
	VZEROUPPER
	RET

// func geluBackwardTanhAVX2(dx, dy, x *float32, n int)
//
// geluBackwardAVX2 with the tanh terms recomputed: t = GELU_TANH(x), geluAVX2's instructions,
// then GELU_BWD on it, so the same bits as from a saved th.
//
// Registers: R8 is dy; Y0..Y5 per-step values (GELU_TANH leaves t in Y3, copied to Y1 for
// GELU_BWD, and dy is loaded into Y5 after it); Y8..Y11 GELU_TANH's constants, Y12, Y13 and
// Y14, Y15 (c/2, 3ac/2) GELU_BWD's; Y7 the tail mask.
TEXT ·geluBackwardTanhAVX2(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DI
	MOVQ dy+8(FP), R8
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX

	VMOVUPS geluC<>(SB), Y8
	VMOVUPS geluCA<>(SB), Y9
	VMOVUPS tanhMax<>(SB), Y10
	VMOVUPS one<>(SB), Y11
	VMOVUPS half<>(SB), Y12
	VMOVUPS one<>(SB), Y13
	VMOVUPS geluG0<>(SB), Y14
	VMOVUPS geluG1<>(SB), Y15

	MOVQ CX, BX
	SHRQ $3, BX
	JZ   gelurtail

gelurloop:
	VMOVUPS (SI), Y0
	GELU_TANH
	VMOVAPS Y3, Y1
	VMOVUPS (R8), Y5
	GELU_BWD(Y14, Y15)
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, R8
	ADDQ    $32, DI
	DECQ    BX
	JNZ     gelurloop

gelurtail:
	ANDQ $7, CX
	JZ   gelurdone
	TAIL_MASK
	VMASKMOVPS (SI), Y7, Y0
	GELU_TANH
	VMOVAPS    Y3, Y1
	VMASKMOVPS (R8), Y7, Y5
	GELU_BWD(Y14, Y15)
	VMASKMOVPS Y1, Y7, (DI)

gelurdone:
	VZEROUPPER
	RET

// EXP_BODY computes e = exp(s − mx) for the 8 values s in Y0, into Y3, as
// the scalar Exp does:
//
//	Y0 = x = s − mx
//	Y1 = k = floor(x·log2e + ½)     (VROUNDPS mode 1: toward −∞)
//	Y2 = r = x − k·ln2hi − k·ln2lo   (|r| ≤ ln2/2; k·ln2hi is exact)
//	Y3 = P(r)                        (Horner, 5 FMAs)
//	Y3 = P·r² + r + 1                (Y4 = r²)
//	Y3 = bits(Y3) + (int(k) << 23)   (times 2^k by adding to the exponent)
//	Y3 = 0 where x < expMin          (Y4 = !(x < expMin), a NaN x stays NaN)
//	Y3 = +Inf where x > expMax
//
// Lanes cut to 0 or +Inf may hold garbage before the cut (k out of int32
// range, NaN for infinite x); the AND and blend replace it. It uses Y15 = mx,
// Y14 = log2e, Y13 = ½, Y12 = ln2hi, Y11 = ln2lo, Y10 = 1.
#define EXP_BODY \
	VSUBPS       Y15, Y0, Y0; \
	VMULPS       Y14, Y0, Y1; \
	VADDPS       Y13, Y1, Y1; \
	VROUNDPS     $1, Y1, Y1; \
	VMOVAPS      Y0, Y2; \
	VFNMADD231PS Y12, Y1, Y2; \
	VFNMADD231PS Y11, Y1, Y2; \
	VMOVUPS      ec5<>(SB), Y3; \
	VFMADD213PS  ec4<>(SB), Y2, Y3; \
	VFMADD213PS  ec3<>(SB), Y2, Y3; \
	VFMADD213PS  ec2<>(SB), Y2, Y3; \
	VFMADD213PS  ec1<>(SB), Y2, Y3; \
	VFMADD213PS  ec0<>(SB), Y2, Y3; \
	VMULPS       Y2, Y2, Y4; \
	VFMADD213PS  Y2, Y4, Y3; \
	VADDPS       Y10, Y3, Y3; \
	VCVTTPS2DQ   Y1, Y1; \
	VPSLLD       $23, Y1, Y1; \
	VPADDD       Y1, Y3, Y3; \
	VCMPPS       $5, expMin<>(SB), Y0, Y4; \
	VANDPS       Y4, Y3, Y3; \
	VCMPPS       $0x1e, expMax<>(SB), Y0, Y4; \
	VBLENDVPS    Y4, posInf<>(SB), Y3, Y3

// EXP_SUM adds the 8 floats of Y3, widened to float64, to the sums Y5 (lanes
// 0-3) and Y6 (lanes 4-7), using Y4 as scratch.
#define EXP_SUM \
	VCVTPS2PD    X3, Y4; \
	VADDPD       Y4, Y5, Y5; \
	VEXTRACTF128 $1, Y3, X4; \
	VCVTPS2PD    X4, Y4; \
	VADDPD       Y4, Y6, Y6

// func expSubSumAVX2(dst, src *float32, n int, mx float32) float64
//
// dst[i] = Exp(src[i] − mx) for i < n (dst may be src), returning the sum of
// the n results accumulated in float64.
//
// Registers: Y0..Y4 per-step values (see EXP_BODY); Y5, Y6 the float64 sums;
// Y10..Y15 constants as EXP_BODY describes; Y7 the tail mask.
TEXT ·expSubSumAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

	VBROADCASTSS mx+24(FP), Y15
	VMOVUPS      log2e<>(SB), Y14
	VMOVUPS      half<>(SB), Y13
	VMOVUPS      ln2hi<>(SB), Y12
	VMOVUPS      ln2lo<>(SB), Y11
	VMOVUPS      one<>(SB), Y10
	VXORPD       Y5, Y5, Y5
	VXORPD       Y6, Y6, Y6

	MOVQ CX, BX
	SHRQ $3, BX
	JZ   exptail

exploop:
	VMOVUPS (SI), Y0
	EXP_BODY
	VMOVUPS Y3, (DI)
	EXP_SUM
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    BX
	JNZ     exploop

exptail:
	ANDQ $7, CX
	JZ   expsum
	TAIL_MASK
	VMASKMOVPS (SI), Y7, Y0
	EXP_BODY
	VANDPS     Y7, Y3, Y3 // masked-off lanes add 0 to the sum
	VMASKMOVPS Y3, Y7, (DI)
	EXP_SUM

expsum:
	VADDPD       Y6, Y5, Y5
	VEXTRACTF128 $1, Y5, X6
	VADDPD       X6, X5, X5
	VUNPCKHPD    X5, X5, X6
	VADDSD       X6, X5, X5
	VMOVSD       X5, ret+32(FP)
	VZEROUPPER
	RET

// func maxAVX2(x *float32, n int) float32
//
// The largest of x[0..n−1] (n ≥ 1), as the scalar loop `if v > mx { mx = v }`
// from mx = x[0] finds it: a NaN is returned only when x[0] is one.
//
// Registers: Y0 the running maximum of each lane, starting at x[0]; Y1 the
// next 8 values (VMAXPS with the running maximum as second source keeps it
// unless the new value is greater); Y7 the tail mask.
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX

	VBROADCASTSS (SI), Y0
	MOVQ         CX, BX
	SHRQ         $3, BX
	JZ           maxtail

maxloop:
	VMOVUPS (SI), Y1
	VMAXPS  Y0, Y1, Y0
	ADDQ    $32, SI
	DECQ    BX
	JNZ     maxloop

maxtail:
	ANDQ $7, CX
	JZ   maxreduce
	TAIL_MASK
	VMASKMOVPS (SI), Y7, Y1
	VBLENDVPS  Y7, Y1, Y0, Y1 // masked-off lanes: the running maximum
	VMAXPS     Y0, Y1, Y0

maxreduce:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X0, X1, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X0, X1, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X0, X1, X0
	VMOVSS       X0, ret+16(FP)
	VZEROUPPER
	RET

// func scaleAVX2(x *float32, n int, s float32)
//
// x[i] *= s for i < n.
//
// Registers: Y1 is s in every lane, Y0 the product, Y7 the tail mask.
TEXT ·scaleAVX2(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS s+16(FP), Y1

	MOVQ CX, BX
	SHRQ $3, BX
	JZ   scaletail

scaleloop:
	VMULPS  (SI), Y1, Y0
	VMOVUPS Y0, (SI)
	ADDQ    $32, SI
	DECQ    BX
	JNZ     scaleloop

scaletail:
	ANDQ $7, CX
	JZ   scaledone
	TAIL_MASK
	VMASKMOVPS (SI), Y7, Y0
	VMULPS     Y1, Y0, Y0
	VMASKMOVPS Y0, Y7, (SI)

scaledone:
	VZEROUPPER
	RET

// func dotRowsAVX2(q, k *float32, ldk, n, d int, scale float32, out *float32)
//
// out[p] = scale · Σ_j q[j]·k[p·ldk + j] for p < n, j < d, d a positive multiple of 8: one
// query row against n key rows (attention scores). Per row: one 8-lane fused multiply-add chain
// over the d/8 column blocks in order (Y0), then the 8 lanes summed pairwise (lanes i and i+4,
// then i and i+2, then i and i+1) and multiplied by scale. Rows do not depend on each other,
// so the out-of-order core overlaps their chains. SI: ldk in bytes; BX: the current key row.
TEXT ·dotRowsAVX2(SB), NOSPLIT, $0-56
	MOVQ         q+0(FP), AX
	MOVQ         k+8(FP), BX
	MOVQ         ldk+16(FP), SI
	SHLQ         $2, SI
	MOVQ         n+24(FP), CX
	MOVQ         d+32(FP), R8
	VBROADCASTSS scale+40(FP), X3
	MOVQ         out+48(FP), DX
	TESTQ        CX, CX
	JZ           dotrowsdone

dotrowsrow:
	VXORPS Y0, Y0, Y0
	XORQ   R9, R9

dotrowscol:
	VMOVUPS     (AX)(R9*4), Y1
	VFMADD231PS (BX)(R9*4), Y1, Y0
	ADDQ        $8, R9
	CMPQ        R9, R8
	JLT         dotrowscol

	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVHLPS     X0, X0, X1
	VADDPS       X1, X0, X0
	VMOVSHDUP    X0, X1
	VADDSS       X1, X0, X0
	VMULSS       X3, X0, X0
	VMOVSS       X0, (DX)
	ADDQ         $4, DX
	ADDQ         SI, BX
	DECQ         CX
	JNZ          dotrowsrow

dotrowsdone:
	VZEROUPPER
	RET

// func axpyRows32AVX2(p *float32, n int, v *float32, ldv int, out *float32)
//
// out[0:32] = Σ_i p[i]·v[i·ldv : i·ldv+32] for i < n (n ≥ 1): attention probabilities times
// 32 columns of n value rows. Each column is one fused multiply-add chain over i in order,
// starting from 0 (Y0..Y3); Y4: broadcast p[i]. SI: ldv in bytes.
TEXT ·axpyRows32AVX2(SB), NOSPLIT, $0-40
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
	MOVQ v+16(FP), BX
	MOVQ ldv+24(FP), SI
	SHLQ $2, SI
	MOVQ out+32(FP), DX

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

axpy32loop:
	VBROADCASTSS (AX), Y4
	VFMADD231PS  (BX), Y4, Y0
	VFMADD231PS  32(BX), Y4, Y1
	VFMADD231PS  64(BX), Y4, Y2
	VFMADD231PS  96(BX), Y4, Y3
	ADDQ         $4, AX
	ADDQ         SI, BX
	DECQ         CX
	JNZ          axpy32loop

	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	VZEROUPPER
	RET

// func axpyRows8AVX2(p *float32, n int, v *float32, ldv int, out *float32)
//
// axpyRows32AVX2 for 8 columns, with the same arithmetic per column (Y0).
TEXT ·axpyRows8AVX2(SB), NOSPLIT, $0-40
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
	MOVQ v+16(FP), BX
	MOVQ ldv+24(FP), SI
	SHLQ $2, SI
	MOVQ out+32(FP), DX

	VXORPS Y0, Y0, Y0

axpy8loop:
	VBROADCASTSS (AX), Y4
	VFMADD231PS  (BX), Y4, Y0
	ADDQ         $4, AX
	ADDQ         SI, BX
	DECQ         CX
	JNZ          axpy8loop

	VMOVUPS Y0, (DX)
	VZEROUPPER
	RET

// func subMulAVX2(d, p *float32, n int, s float32)
//
// d[i] = p[i]·(d[i] − s) for i < n: a subtraction then a multiplication (not fused), as the
// scalar loop rounds them (softmaxBackwardCausal).
//
// Registers: Y1 is s in every lane, Y0 the result, Y7 the tail mask; DX points into p.
TEXT ·subMulAVX2(SB), NOSPLIT, $0-28
	MOVQ         d+0(FP), SI
	MOVQ         p+8(FP), DX
	MOVQ         n+16(FP), CX
	VBROADCASTSS s+24(FP), Y1

	MOVQ CX, BX
	SHRQ $3, BX
	JZ   submultail

submulloop:
	VMOVUPS (SI), Y0
	VSUBPS  Y1, Y0, Y0
	VMULPS  (DX), Y0, Y0
	VMOVUPS Y0, (SI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	DECQ    BX
	JNZ     submulloop

submultail:
	ANDQ $7, CX
	JZ   submuldone
	TAIL_MASK
	VMASKMOVPS (SI), Y7, Y0
	VMASKMOVPS (DX), Y7, Y2
	VSUBPS     Y1, Y0, Y0
	VMULPS     Y2, Y0, Y0
	VMASKMOVPS Y0, Y7, (SI)

submuldone:
	VZEROUPPER
	RET

// func addAVX2(out, x, y *float32, n int)
//
// out[i] = x[i] + y[i] for i < n, n ≥ 1 (out may be x or y).
//
// Registers: DX points into y, Y0 the sum, Y7 the tail mask.
TEXT ·addAVX2(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX

	MOVQ CX, BX
	SHRQ $3, BX
	JZ   addtail

addloop:
	VMOVUPS (SI), Y0
	VADDPS  (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    BX
	JNZ     addloop

addtail:
	ANDQ $7, CX
	JZ   adddone
	TAIL_MASK
	VMASKMOVPS (SI), Y7, Y0
	VMASKMOVPS (DX), Y7, Y1
	VADDPS     Y1, Y0, Y0
	VMASKMOVPS Y0, Y7, (DI)

adddone:
	VZEROUPPER
	RET

// The AVX-512 GELU kernels below are the AVX2 ones 16 lanes wide: the same instructions on
// each element in the same order (VPANDD/VPXORD for the bitwise VANDPS/VXORPS, a compare into
// a mask register and a masked move for VBLENDVPS, zeroing masked loads for VMASKMOVPS), so
// each element gets the AVX2 kernels' bits. The constants live in registers:
//
//	Z8 c, Z9 c·a, Z10 tanhMax, Z11 1, Z12 ½, Z13 the sign-clearing mask,
//	Z14..Z20 tp6..tp0, Z21..Z24 tq3..tq0, Z25 c/2, Z26 3ac/2
//
// and K1 is the tail mask, K2 the saturation mask.

// GELU_CONSTS_Z loads the constants above; AX is scratch.
#define GELU_CONSTS_Z \
	VBROADCASTSS geluC<>(SB), Z8; \
	VBROADCASTSS geluCA<>(SB), Z9; \
	VBROADCASTSS tanhMax<>(SB), Z10; \
	VBROADCASTSS one<>(SB), Z11; \
	VBROADCASTSS half<>(SB), Z12; \
	VBROADCASTSS absMask<>(SB), Z13; \
	VBROADCASTSS tp6<>(SB), Z14; \
	VBROADCASTSS tp5<>(SB), Z15; \
	VBROADCASTSS tp4<>(SB), Z16; \
	VBROADCASTSS tp3<>(SB), Z17; \
	VBROADCASTSS tp2<>(SB), Z18; \
	VBROADCASTSS tp1<>(SB), Z19; \
	VBROADCASTSS tp0<>(SB), Z20; \
	VBROADCASTSS tq3<>(SB), Z21; \
	VBROADCASTSS tq2<>(SB), Z22; \
	VBROADCASTSS tq1<>(SB), Z23; \
	VBROADCASTSS tq0<>(SB), Z24; \
	VBROADCASTSS geluG0<>(SB), Z25; \
	VBROADCASTSS geluG1<>(SB), Z26

// GELU_TANH_Z is GELU_TANH for the 16 values x in Z0, into Z3 (Z1, Z2, Z4, Z5 as there).
#define GELU_TANH_Z \
	VMULPS      Z0, Z0, Z1; \
	VFMADD132PS Z9, Z8, Z1; \
	VMULPS      Z0, Z1, Z1; \
	VPANDD      Z13, Z1, Z5; \
	VPXORD      Z5, Z1, Z1; \
	VMINPS      Z5, Z10, Z5; \
	VMULPS      Z5, Z5, Z2; \
	VMOVAPS     Z14, Z3; \
	VFMADD213PS Z15, Z2, Z3; \
	VFMADD213PS Z16, Z2, Z3; \
	VFMADD213PS Z17, Z2, Z3; \
	VFMADD213PS Z18, Z2, Z3; \
	VFMADD213PS Z19, Z2, Z3; \
	VFMADD213PS Z20, Z2, Z3; \
	VMULPS      Z5, Z3, Z3; \
	VMOVAPS     Z21, Z4; \
	VFMADD213PS Z22, Z2, Z4; \
	VFMADD213PS Z23, Z2, Z4; \
	VFMADD213PS Z24, Z2, Z4; \
	VDIVPS      Z4, Z3, Z3; \
	VCMPPS      $0, Z10, Z5, K2; \
	VMOVAPS     Z11, K2, Z3; \
	VPXORD      Z1, Z3, Z3

// GELU_OUT_Z is GELU_OUT on Z0 and Z3.
#define GELU_OUT_Z \
	VMULPS      Z12, Z0, Z0; \
	VFMADD231PS Z3, Z0, Z0

// GELU_BWD_Z is GELU_BWD(c/2, 3ac/2) for x in Z0, t in Z1 and dy in Z5, into Z1.
#define GELU_BWD_Z \
	VMULPS       Z0, Z0, Z2; \
	VFMADD132PS  Z26, Z25, Z2; \
	VMOVAPS      Z11, Z4; \
	VFNMADD231PS Z1, Z1, Z4; \
	VFMADD132PS  Z12, Z12, Z1; \
	VMULPS       Z0, Z4, Z4; \
	VFMADD231PS  Z2, Z4, Z1; \
	VMULPS       Z5, Z1, Z1

// TAIL_MASK_Z sets K1 to the CX (1..15) low lanes; AX is scratch.
#define TAIL_MASK_Z \
	MOVL  $1, AX; \
	SHLL  CX, AX; \
	DECL  AX; \
	KMOVW AX, K1

// func geluAVX512(y, th, x *float32, n int)
//
// geluAVX2 16 lanes at a time: the same bits.
TEXT ·geluAVX512(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ th+8(FP), DX
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	GELU_CONSTS_Z

	MOVQ CX, BX
	SHRQ $4, BX
	JZ   gelu5tail
	TESTQ DX, DX
	JZ   gelu5loop

gelu5loopth:
	VMOVUPS (SI), Z0
	GELU_TANH_Z
	VMOVUPS Z3, (DX)
	GELU_OUT_Z
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	ADDQ    $64, DX
	DECQ    BX
	JNZ     gelu5loopth
	JMP     gelu5tail

gelu5loop:
	VMOVUPS (SI), Z0
	GELU_TANH_Z
	GELU_OUT_Z
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	DECQ    BX
	JNZ     gelu5loop

gelu5tail:
	ANDQ $15, CX
	JZ   gelu5done
	TAIL_MASK_Z
	VMOVUPS.Z (SI), K1, Z0
	GELU_TANH_Z
	TESTQ DX, DX
	JZ    gelu5tailout
	VMOVUPS Z3, K1, (DX)

gelu5tailout:
	GELU_OUT_Z
	VMOVUPS Z0, K1, (DI)

gelu5done:
	VZEROUPPER
	RET

// func geluBackwardAVX512(dx, dy, x, th *float32, n int)
//
// geluBackwardAVX2 16 lanes at a time: the same bits.
TEXT ·geluBackwardAVX512(SB), NOSPLIT, $0-40
	MOVQ dx+0(FP), DI
	MOVQ dy+8(FP), R8
	MOVQ x+16(FP), SI
	MOVQ th+24(FP), DX
	MOVQ n+32(FP), CX
	GELU_CONSTS_Z

	MOVQ CX, BX
	SHRQ $4, BX
	JZ   gelub5tail

gelub5loop:
	VMOVUPS (SI), Z0
	VMOVUPS (DX), Z1
	VMOVUPS (R8), Z5
	GELU_BWD_Z
	VMOVUPS Z1, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, R8
	ADDQ    $64, DI
	DECQ    BX
	JNZ     gelub5loop

gelub5tail:
	ANDQ $15, CX
	JZ   gelub5done
	TAIL_MASK_Z
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z1
	VMOVUPS.Z (R8), K1, Z5
	GELU_BWD_Z
	VMOVUPS Z1, K1, (DI)

gelub5done:
	VZEROUPPER
	RET

// func geluBackwardTanhAVX512(dx, dy, x *float32, n int)
//
// geluBackwardTanhAVX2 16 lanes at a time: the same bits.
TEXT ·geluBackwardTanhAVX512(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DI
	MOVQ dy+8(FP), R8
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	GELU_CONSTS_Z

	MOVQ CX, BX
	SHRQ $4, BX
	JZ   gelur5tail

gelur5loop:
	VMOVUPS (SI), Z0
	GELU_TANH_Z
	VMOVAPS Z3, Z1
	VMOVUPS (R8), Z5
	GELU_BWD_Z
	VMOVUPS Z1, (DI)
	ADDQ    $64, SI
	ADDQ    $64, R8
	ADDQ    $64, DI
	DECQ    BX
	JNZ     gelur5loop

gelur5tail:
	ANDQ $15, CX
	JZ   gelur5done
	TAIL_MASK_Z
	VMOVUPS.Z (SI), K1, Z0
	GELU_TANH_Z
	VMOVAPS   Z3, Z1
	VMOVUPS.Z (R8), K1, Z5
	GELU_BWD_Z
	VMOVUPS Z1, K1, (DI)

gelur5done:
	VZEROUPPER
	RET

// EXP_EXACT_BODY computes e = Exp(s − mx) for the 8 values s in Y0, into Y3, with the scalar
// Exp's operations one by one — no fused multiply-add, each product and sum rounded to float32
// as Go rounds it — so that every element gets the bits of the Go function (EXP_BODY fuses and
// is within a few ulp of it):
//
//	Y0 = x = s − mx
//	Y1 = k = floor(x·log2e + ½)
//	Y2 = r = (x − k·ln2hi) − k·ln2lo
//	Y3 = p = ((((ec5·r + ec4)·r + ec3)·r + ec2)·r + ec1)·r + ec0
//	Y3 = ((p·r)·r + r) + 1
//	Y3 = bits(Y3) + (int(k) << 23)
//	Y3 = 0 where x < expMin, +Inf where x > expMax
//
// It uses Y15 = mx, Y14 = log2e, Y13 = ½, Y12 = ln2hi, Y11 = ln2lo, Y10 = 1 and Y4 as scratch.
#define EXP_EXACT_BODY \
	VSUBPS     Y15, Y0, Y0; \
	VMULPS     Y14, Y0, Y1; \
	VADDPS     Y13, Y1, Y1; \
	VROUNDPS   $1, Y1, Y1; \
	VMULPS     Y12, Y1, Y2; \
	VSUBPS     Y2, Y0, Y2; \
	VMULPS     Y11, Y1, Y4; \
	VSUBPS     Y4, Y2, Y2; \
	VMOVUPS    ec5<>(SB), Y3; \
	VMULPS     Y2, Y3, Y3; \
	VADDPS     ec4<>(SB), Y3, Y3; \
	VMULPS     Y2, Y3, Y3; \
	VADDPS     ec3<>(SB), Y3, Y3; \
	VMULPS     Y2, Y3, Y3; \
	VADDPS     ec2<>(SB), Y3, Y3; \
	VMULPS     Y2, Y3, Y3; \
	VADDPS     ec1<>(SB), Y3, Y3; \
	VMULPS     Y2, Y3, Y3; \
	VADDPS     ec0<>(SB), Y3, Y3; \
	VMULPS     Y2, Y3, Y3; \
	VMULPS     Y2, Y3, Y3; \
	VADDPS     Y2, Y3, Y3; \
	VADDPS     Y10, Y3, Y3; \
	VCVTTPS2DQ Y1, Y1; \
	VPSLLD     $23, Y1, Y1; \
	VPADDD     Y1, Y3, Y3; \
	VCMPPS     $5, expMin<>(SB), Y0, Y4; \
	VANDPS     Y4, Y3, Y3; \
	VCMPPS     $0x1e, expMax<>(SB), Y0, Y4; \
	VBLENDVPS  Y4, posInf<>(SB), Y3, Y3

// func expSubExactAVX2(dst, src *float32, n int, mx float32)
//
// dst[i] = Exp(src[i] − mx) for i < n (dst may be src), with the bits of the Go function.
//
// Registers: Y0..Y4 per-step values (see EXP_EXACT_BODY); Y10..Y15 constants; Y7 the tail mask.
TEXT ·expSubExactAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

	VBROADCASTSS mx+24(FP), Y15
	VMOVUPS      log2e<>(SB), Y14
	VMOVUPS      half<>(SB), Y13
	VMOVUPS      ln2hi<>(SB), Y12
	VMOVUPS      ln2lo<>(SB), Y11
	VMOVUPS      one<>(SB), Y10

	MOVQ CX, BX
	SHRQ $3, BX
	JZ   expxtail

expxloop:
	VMOVUPS (SI), Y0
	EXP_EXACT_BODY
	VMOVUPS Y3, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    BX
	JNZ     expxloop

expxtail:
	ANDQ $7, CX
	JZ   expxdone
	TAIL_MASK
	VMASKMOVPS (SI), Y7, Y0
	EXP_EXACT_BODY
	VMASKMOVPS Y3, Y7, (DI)

expxdone:
	VZEROUPPER
	RET
