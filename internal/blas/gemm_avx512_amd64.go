//go:build amd64

package blas

import "golang.org/x/sys/cpu"

// haveAVX512 reports whether the CPU (and OS) support AVX-512F, which the
// 6×64 kernels in gemm_avx512_amd64.s need.
var haveAVX512 = haveAVX2FMA && cpu.X86.HasAVX512F

// useAVX512 says whether the AVX2 path runs its full 6×64 tiles on the
// AVX-512 kernels: chosen at run time from the CPU, a variable so that tests
// can compare the two. The kernels have the arithmetic of the 6×16 ones, so
// the choice changes speed, never a result.
var useAVX512 = haveAVX512

// gemmWideNR is the width of an AVX-512 tile: four 16-column panels.
const gemmWideNR = 4 * gemmNR

// sgemmKernel6x64 computes a 6×64 tile C = alpha*A·B + beta*C from a packed A
// micro-panel and four consecutive packed B micro-panels, bstride floats
// apart; with beta == 0 C is not read. Same bits as sgemmKernel6x16 on each
// of the four panels.
//
//go:noescape
func sgemmKernel6x64(k int, a, b *float32, bstride int, c *float32, ldc int, alpha, beta float32)

// sgemmKernel6x64U is sgemmKernel6x64 with B read in place: b points to 64
// consecutive columns of row 0 of a row-major B with row stride ldb. Same
// bits as sgemmKernel6x16U on each 16 columns.
//
//go:noescape
func sgemmKernel6x64U(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// sgemmKernel6x64A is sgemmKernel6x64 with A read in place: row r of the tile
// at step l is a[r*rs + l*ss] (rs = lda, ss = 1 for A; rs = 1, ss = lda for
// Aᵀ). Same bits as the packed kernels; it saves packing A.
//
//go:noescape
func sgemmKernel6x64A(k int, a *float32, rs, ss int, b *float32, bstride int, c *float32, ldc int, alpha, beta float32)

// sgemmKernel6x32AB computes a 6×32 tile C = alpha*op(A)·B + beta*C with both
// operands read in place: row r of op(A) at step l is a[r*rs + l*ss], and step
// l reads b[l*ldb : l*ldb+32]; with beta == 0 C is not read. Same bits as
// sgemmKernel6x16A on each 16 columns. The triangular products of attention
// with heads of 32 (SgemmTriangularSerial) run on it.
//
//go:noescape
func sgemmKernel6x32AB(k int, a *float32, rs, ss int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// sgemmKernel6x64AB is sgemmKernel6x32AB 64 columns wide (heads of 64).
//
//go:noescape
func sgemmKernel6x64AB(k int, a *float32, rs, ss int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)
