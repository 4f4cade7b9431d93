//go:build amd64

package blas

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// haveAVX2FMA reports whether the CPU (and OS) support AVX2 and FMA, which
// the assembly kernels in gemm_amd64.s need.
var haveAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// Blocking of the AVX2 path, in the GotoBLAS/BLIS structure:
//
//	for each block of gemmKC steps of k:        pack op(B)[kc×n] as 16-column panels
//	  for each block of gemmMC rows of C:       pack op(A)[mc×kc] as 6-row panels
//	    for each 16-column panel of B:          (kc×16 floats, stays in L1)
//	      for each 6-row panel of A:            (kc×6 floats, from L2)
//	        sgemmKernel6x16: C[6×16] = alpha*A·B + beta*C
//
// With AVX-512 (useAVX512) the same loops run 6×64 tiles over four panels at
// a time (sgemmKernel6x64, gemm_avx512_amd64.s), and where a block's columns
// are whole 64-wide tiles the kernel reads op(A) in place (sgemmKernel6x64A),
// so A is not packed; every element gets the same arithmetic either way.
//
// gemmKC and gemmMC are variables so that tests can make them small and
// exercise the blocking with small matrices.
const (
	gemmMR = 6  // rows of a micro-tile (sgemmKernel6x16)
	gemmNR = 16 // columns of a micro-tile
)

var (
	gemmKC = 256 // k steps per block: a kc×16 B panel is 16 KiB, half of L1
	gemmMC = 192 // rows of C per block (a multiple of gemmMR): 192 KiB of packed A
)

// rowPathMaxM is the largest m for which a product with op(B) = B (not
// transposed) skips packing and runs one row of C at a time with sgemvRow64:
// with so few rows each element of B is used too few times for packing to pay.
const rowPathMaxM = gemmMR - 1

// unpackMaxM is the largest m for which a product with op(B) = B (not
// transposed) and m > rowPathMaxM reads B in place (sgemmKernel6x16U) instead
// of packing it: with few rows of C each element of B is used by few
// micro-tiles, and copying B costs more than the strided reads. Only the last
// n mod 16 columns are packed, into one zero-padded panel. The choice does
// not change results (the two kernels have the same arithmetic), only speed;
// it is a variable so that tests can compare the two paths.
var unpackMaxM = 48

// sgemmKernel6x16 computes a 6×16 tile C = alpha*A·B + beta*C from packed
// micro-panels (see gemm_amd64.s for the layout); with beta == 0 C is not read.
//
//go:noescape
func sgemmKernel6x16(k int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemmKernel6x16U is sgemmKernel6x16 with B read in place: b points to 16
// consecutive columns of row 0 of a row-major B with row stride ldb, and step
// l reads b[l*ldb : l*ldb+16]. Same arithmetic, so the same bits.
//
//go:noescape
func sgemmKernel6x16U(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// sgemvRow64 computes c[0:64] = alpha*Σ_l a[l*inca]*b[l*ldb:l*ldb+64] + beta*c[0:64]
// over l < k, reading a and b in place; with beta == 0 c is not read.
//
//go:noescape
func sgemvRow64(k int, a *float32, inca int, b *float32, ldb int, c *float32, alpha, beta float32)

// sgemvRow16 is sgemvRow64 for 16 columns.
//
//go:noescape
func sgemvRow16(k int, a *float32, inca int, b *float32, ldb int, c *float32, alpha, beta float32)

// copyPanels16 sets dst[q*dstride : q*dstride+16] = src[16q : 16q+16] for
// q < np (packB's copy of one row of B into the panels).
//
//go:noescape
func copyPanels16(np int, src, dst *float32, dstride int)

// copyPanels6 sets dst[q*dstride : q*dstride+6] = src[6q : 6q+6] for q < np
// (packA's copy of one row of a transposed A into the panels).
//
//go:noescape
func copyPanels6(np int, src, dst *float32, dstride int)

// gemmBufs holds the packing buffers of one sgemmAVX2 call.
type gemmBufs struct {
	a, b []float32
}

// gemmBufPool recycles packing buffers, so a warmed-up call allocates nothing.
var gemmBufPool = sync.Pool{New: func() any { return new(gemmBufs) }}

// alignedFloats returns a slice of length n whose first element is 64-byte
// aligned (one cache line), reusing buf's storage when it is large enough.
func alignedFloats(buf []float32, n int) []float32 {
	const align = 16 // floats per cache line
	if cap(buf) > 0 {
		buf = buf[:cap(buf)]
		off := (align - int(uintptr(unsafe.Pointer(&buf[0]))/4)&(align-1)) & (align - 1)
		if len(buf)-off >= n {
			return buf[off : off+n]
		}
	}
	buf = make([]float32, n+align)
	off := (align - int(uintptr(unsafe.Pointer(&buf[0]))/4)&(align-1)) & (align - 1)
	return buf[off : off+n]
}

// sgemmAVX2 is the serial AVX2/FMA SGEMM: C = alpha*op(A)*op(B) + beta*C with
// the arguments valid and m, n, k > 0 (an sgemmFunc). sgemmGo splits products
// across goroutines with splitSgemm and runs this on each part. It must only
// be called when haveAVX2FMA is true.
//
// Products of up to rowPathMaxM rows take the row path; up to unpackMaxM rows
// with B not transposed (a decode step's activations times a weight), B is
// read in place rather than packed, with the same bits as the packed path.
func sgemmAVX2(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m <= rowPathMaxM {
		if !transB {
			sgemmRowsAVX2(transA, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			return
		}
		// Each column of op(B) is a row of B used m times: the SSE dot
		// products read it in place, where packing would cost as much
		// as the product.
		scaleC(m, n, beta, c, ldc)
		sgemmKernel(transA, transB, 0, m, 0, n, k, alpha, a, lda, b, ldb, c, ldc)
		return
	}

	// Split k evenly into blocks of at most gemmKC steps.
	nkb := (k + gemmKC - 1) / gemmKC
	kcMax := (k + nkb - 1) / nkb
	mcMax := min(gemmMC, (m+gemmMR-1)/gemmMR*gemmMR)
	nPanels := (n + gemmNR - 1) / gemmNR

	// With few rows, B is read in place but for its last n mod 16 columns,
	// which are packed into one panel (see unpackMaxM).
	inPlace := !transB && m <= unpackMaxM && n >= gemmNR
	// In place, the rows past the last multiple of 6 run one at a time on the
	// row kernels (block of k by block of k, as the tiles do, so that every
	// element gets the same arithmetic: see macroKernelInPlace) instead of a
	// 6-row tile padded with zeros: 8 rows cost 6 + 2 rows, not 12.
	rest := 0
	if inPlace {
		rest = m % gemmMR
		m -= rest
	}
	nFull := n &^ (gemmNR - 1)
	bufs := gemmBufPool.Get().(*gemmBufs)
	bufs.a = alignedFloats(bufs.a, mcMax*kcMax)
	if inPlace {
		bufs.b = alignedFloats(bufs.b, gemmNR*kcMax)
	} else {
		bufs.b = alignedFloats(bufs.b, nPanels*gemmNR*kcMax)
	}
	ap, bp := bufs.a, bufs.b

	for p0 := 0; p0 < k; p0 += kcMax {
		kc := min(kcMax, k-p0)
		if inPlace {
			if nFull < n {
				packB(false, b[nFull:], ldb, p0, kc, n-nFull, bp)
			}
		} else {
			packB(transB, b, ldb, p0, kc, n, bp)
		}
		bet := beta
		if p0 > 0 {
			bet = 1 // later blocks of k add to what the first one wrote
		}
		for i0 := 0; i0 < m; i0 += mcMax {
			mc := min(mcMax, m-i0)
			if inPlace && readAInPlace && n <= aInPlaceMaxN {
				// mc is a multiple of 6 here: the rows past one are the rest, below.
				base, rs, ss := i0*lda+p0, lda, 1
				if transA {
					base, rs, ss = p0*lda+i0, 1, lda
				}
				macroKernelA16(mc, 0, n, kc, alpha, a[base:], rs, ss, nil, b[p0*ldb:], gemmNR, ldb, bp, bet, c[i0*ldc:], ldc)
			} else if inPlace {
				packA(transA, a, lda, i0, mc, p0, kc, ap)
				macroKernelInPlace(mc, n, kc, alpha, ap, b[p0*ldb:], ldb, bp, bet, c[i0*ldc:], ldc)
			} else {
				computeBlockAVX2(transA, i0, mc, n, kc, p0, alpha, a, lda, ap, bp, bet, c, ldc)
			}
		}
		if rest > 0 {
			// Rows [m, m+rest) of op(A), columns [p0, p0+kc).
			ai := m*lda + p0
			if transA {
				ai = p0*lda + m
			}
			sgemmRowsAVX2(transA, rest, n, kc, alpha, a[ai:], lda, b[p0*ldb:], ldb, bet, c[m*ldc:], ldc)
		}
	}
	gemmBufPool.Put(bufs)
}

// aInPlaceMaxN is the most columns of C for which the 6×16 kernels read op(A) in place rather
// than packing it: each 6-row block of A is then read by at most two 16-column panels, too few
// for a copy to pay (attention's per-head products, n = head size). With more columns the
// packed panels are faster (on a 2-core AMD EPYC without AVX-512, one goroutine: 1024×3072×768
// at 71 GFLOP/s packed, 58–63 in place; 768×384×128 73–85 against 69–82).
const aInPlaceMaxN = 2 * gemmNR

// macroKernelA16 runs the 6×16 kernel reading op(A) in place (sgemmKernel6x16A; element
// (r, l) of the block at a[r*rs + l*ss]) over the full rows, a multiple of 6, and the rest
// rows (fewer than 6; only with B packed) from the packed panel aTail. B's 16-column panel j
// starts at b[(j/16)*bStep] with rows bStride apart — packed panels (bStep = kc*16, bStride =
// 16) or B read in place (bStep = 16, bStride = its row stride) — and a last panel cut short
// by n is the zero-padded packed panel bTail, through a tile as in macroKernel.
func macroKernelA16(full, rest, n, kc int, alpha float32, a []float32, rs, ss int, aTail, b []float32, bStep, bStride int, bTail []float32, beta float32, c []float32, ldc int) {
	for j := 0; j < n; j += gemmNR {
		nr := min(gemmNR, n-j)
		bpan, ldb := bTail, gemmNR
		if nr == gemmNR {
			bpan, ldb = b[(j/gemmNR)*bStep:], bStride
			_ = bpan[(kc-1)*ldb+gemmNR-1]
		}
		for i := 0; i < full; i += gemmMR {
			_ = a[(i+gemmMR-1)*rs+(kc-1)*ss]
			if nr == gemmNR {
				_ = c[(i+gemmMR-1)*ldc+j+gemmNR-1]
				sgemmKernel6x16A(kc, &a[i*rs], rs, ss, &bpan[0], ldb, &c[i*ldc+j], ldc, alpha, beta)
				continue
			}
			var tile [gemmMR * gemmWideNR]float32
			tileIn(&tile, gemmNR, gemmMR, nr, beta, c[i*ldc+j:], ldc)
			sgemmKernel6x16A(kc, &a[i*rs], rs, ss, &bpan[0], ldb, &tile[0], gemmNR, alpha, beta)
			tileOut(&tile, gemmNR, gemmMR, nr, c[i*ldc+j:], ldc)
		}
		if rest > 0 { // B packed here: bpan is its panel, ldb 16
			var tile [gemmMR * gemmWideNR]float32
			tileIn(&tile, gemmNR, rest, nr, beta, c[full*ldc+j:], ldc)
			sgemmKernel6x16(kc, &aTail[0], &bpan[0], &tile[0], gemmNR, alpha, beta)
			tileOut(&tile, gemmNR, rest, nr, c[full*ldc+j:], ldc)
		}
	}
}

// sgemmKernel6x16A is sgemmKernel6x16 with op(A) read in place: element (r, l) of the 6×k
// block at a[r*rs + l*ss]; step l reads b[l*ldb : l*ldb+16] (ldb = 16 for a packed panel, B's
// row stride for B in place, as sgemmKernel6x16U reads it; gemm_amd64.s). Same arithmetic, so
// the same bits.
//
//go:noescape
func sgemmKernel6x16A(k int, a *float32, rs, ss int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// triangularFits says whether sgemmTriangularAVX2 can compute a triangular product of m rows
// and n columns: AVX2 in use with A read in place, n a multiple of 16 up to aInPlaceMaxN (or 64
// with AVX-512), and m within one block of k, so that each element is one multiply-add chain as
// in the full product.
func triangularFits(m, n int) bool {
	return useAVX2 && readAInPlace && m > 0 && m <= gemmKC &&
		((n > 0 && n%gemmNR == 0 && n <= aInPlaceMaxN) || (useAVX512 && n == gemmWideNR))
}

// sgemmTriangularAVX2 is SgemmTriangularSerial (triangularFits true, arguments valid): each
// full 6-row tile of C runs sgemmKernel6x16A per 16 columns (with AVX-512, sgemmKernel6x32AB or
// sgemmKernel6x64AB for 32 or 64 columns at once), reading op(A) and B in place, over the steps of k
// where its rows of op(A) are not zero — up to its last row (lower) or from its first (upper);
// the rows past the last multiple of 6 run on the row kernels over their own range.
func sgemmTriangularAVX2(upper, transA bool, m, n int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	rs, ss := lda, 1 // element (i, l) of op(A) at a[i*rs + l*ss]
	if transA {
		rs, ss = 1, lda
	}
	full := m / gemmMR * gemmMR
	for i0 := 0; i0 < full; i0 += gemmMR {
		l0, l1 := 0, i0+gemmMR
		if upper {
			l0, l1 = i0, m
		}
		// Bounds: the kernel reads rows i0..i0+5 of op(A) and rows l0..l1−1 of B.
		_ = a[(i0+gemmMR-1)*rs+(l1-1)*ss]
		_ = a[i0*rs+l0*ss]
		_ = b[(l1-1)*ldb+n-1]
		_ = c[(i0+gemmMR-1)*ldc+n-1]
		switch {
		case useAVX512 && n == 2*gemmNR:
			sgemmKernel6x32AB(l1-l0, &a[i0*rs+l0*ss], rs, ss, &b[l0*ldb], ldb, &c[i0*ldc], ldc, alpha, 0)
		case useAVX512 && n == gemmWideNR:
			sgemmKernel6x64AB(l1-l0, &a[i0*rs+l0*ss], rs, ss, &b[l0*ldb], ldb, &c[i0*ldc], ldc, alpha, 0)
		default:
			for j := 0; j < n; j += gemmNR {
				sgemmKernel6x16A(l1-l0, &a[i0*rs+l0*ss], rs, ss, &b[l0*ldb+j], ldb, &c[i0*ldc+j], ldc, alpha, 0)
			}
		}
	}
	if full < m {
		l0 := 0
		if upper {
			l0 = full
		}
		sgemmRowsAVX2(transA, m-full, n, m-l0, alpha, a[full*rs+l0*ss:], lda, b[l0*ldb:], ldb, 0, c[full*ldc:], ldc)
	}
}

// computeBlockAVX2 computes rows [i0, i0+mc) of C (mc ≤ gemmMC) for the block of k of kc
// steps at p0, from op(B) packed in bp: it packs those rows of op(A) into ap and runs the
// macro-kernel — or the kernel reads A where it is (readAInPlace), and only the rows past the
// last multiple of 6 are packed (into one zero-padded panel): the 6×64 AVX-512 kernel where the
// columns are whole 64-wide tiles, else the 6×16 one where there are at most aInPlaceMaxN.
func computeBlockAVX2(transA bool, i0, mc, n, kc, p0 int, alpha float32, a []float32, lda int, ap, bp []float32, beta float32, c []float32, ldc int) {
	wide := useAVX512 && n%gemmWideNR == 0
	if readAInPlace && (wide || n <= aInPlaceMaxN) {
		full := mc / gemmMR * gemmMR
		if full < mc {
			packA(transA, a, lda, i0+full, mc-full, p0, kc, ap)
		}
		base, rs, ss := i0*lda+p0, lda, 1
		if transA {
			base, rs, ss = p0*lda+i0, 1, lda
		}
		if wide {
			macroKernelA(full, mc-full, n, kc, alpha, a[base:], rs, ss, ap, bp, beta, c[i0*ldc:], ldc)
		} else {
			macroKernelA16(full, mc-full, n, kc, alpha, a[base:], rs, ss, ap, bp, kc*gemmNR, gemmNR, bp[n/gemmNR*kc*gemmNR:], beta, c[i0*ldc:], ldc)
		}
		return
	}
	packA(transA, a, lda, i0, mc, p0, kc, ap)
	macroKernel(mc, n, kc, alpha, ap, bp, beta, c[i0*ldc:], ldc)
}

// macroKernelInPlace is macroKernel with B read in place: the first n &^ 15
// columns of rows [0, kc) of b (row stride ldb) go to sgemmKernel6x16U (or
// sgemmKernel6x64U, 64 columns at a time, with useAVX512), and the last
// n mod 16, packed by packB into the panel tail, to sgemmKernel6x16. Tiles
// cut by the edge of C go through a buffer, as in macroKernel; every element
// of C gets the bits macroKernel would give it.
func macroKernelInPlace(mc, n, kc int, alpha float32, ap, b []float32, ldb int, tail []float32, beta float32, c []float32, ldc int) {
	j := 0
	if useAVX512 {
		for ; j+gemmWideNR <= n; j += gemmWideNR {
			// Bounds: the kernel reads b[l*ldb+j : l*ldb+j+64] for l < kc.
			_ = b[(kc-1)*ldb+j+gemmWideNR-1]
			for i := 0; i < mc; i += gemmMR {
				mr := min(gemmMR, mc-i)
				apan := ap[(i/gemmMR)*kc*gemmMR:][:kc*gemmMR]
				if mr == gemmMR {
					_ = c[(i+gemmMR-1)*ldc+j+gemmWideNR-1]
					sgemmKernel6x64U(kc, &apan[0], &b[j], ldb, &c[i*ldc+j], ldc, alpha, beta)
					continue
				}
				var tile [gemmMR * gemmWideNR]float32
				tileIn(&tile, gemmWideNR, mr, gemmWideNR, beta, c[i*ldc+j:], ldc)
				sgemmKernel6x64U(kc, &apan[0], &b[j], ldb, &tile[0], gemmWideNR, alpha, beta)
				tileOut(&tile, gemmWideNR, mr, gemmWideNR, c[i*ldc+j:], ldc)
			}
		}
	}
	for ; j < n; j += gemmNR {
		nr := min(gemmNR, n-j)
		if nr == gemmNR {
			// Bounds: the kernel reads b[l*ldb+j : l*ldb+j+16] for l < kc.
			_ = b[(kc-1)*ldb+j+gemmNR-1]
		}
		for i := 0; i < mc; i += gemmMR {
			mr := min(gemmMR, mc-i)
			apan := ap[(i/gemmMR)*kc*gemmMR:][:kc*gemmMR]
			if mr == gemmMR && nr == gemmNR {
				_ = c[(i+gemmMR-1)*ldc+j+gemmNR-1]
				sgemmKernel6x16U(kc, &apan[0], &b[j], ldb, &c[i*ldc+j], ldc, alpha, beta)
				continue
			}
			var tile [gemmMR * gemmWideNR]float32
			tileIn(&tile, gemmNR, mr, nr, beta, c[i*ldc+j:], ldc)
			if nr == gemmNR {
				sgemmKernel6x16U(kc, &apan[0], &b[j], ldb, &tile[0], gemmNR, alpha, beta)
			} else {
				sgemmKernel6x16(kc, &apan[0], &tail[0], &tile[0], gemmNR, alpha, beta)
			}
			tileOut(&tile, gemmNR, mr, nr, c[i*ldc+j:], ldc)
		}
	}
}

// macroKernel computes C[0:mc, 0:n] = alpha*A·B + beta*C for one packed block
// of A (mc×kc, as packA writes it) and of B (kc×n, as packB writes it). Full
// 6×16 tiles are written by the assembly kernel in place (6×64 tiles, four
// panels at a time, by the AVX-512 kernel with useAVX512); tiles cut by the
// edge of C go through a buffer on the stack, with the same arithmetic.
func macroKernel(mc, n, kc int, alpha float32, ap, bp []float32, beta float32, c []float32, ldc int) {
	j := 0
	if useAVX512 {
		for ; j+gemmWideNR <= n; j += gemmWideNR {
			bpan := bp[(j/gemmNR)*kc*gemmNR:][:4*kc*gemmNR]
			for i := 0; i < mc; i += gemmMR {
				mr := min(gemmMR, mc-i)
				apan := ap[(i/gemmMR)*kc*gemmMR:][:kc*gemmMR]
				if mr == gemmMR {
					_ = c[(i+gemmMR-1)*ldc+j+gemmWideNR-1]
					sgemmKernel6x64(kc, &apan[0], &bpan[0], kc*gemmNR, &c[i*ldc+j], ldc, alpha, beta)
					continue
				}
				var tile [gemmMR * gemmWideNR]float32
				tileIn(&tile, gemmWideNR, mr, gemmWideNR, beta, c[i*ldc+j:], ldc)
				sgemmKernel6x64(kc, &apan[0], &bpan[0], kc*gemmNR, &tile[0], gemmWideNR, alpha, beta)
				tileOut(&tile, gemmWideNR, mr, gemmWideNR, c[i*ldc+j:], ldc)
			}
		}
	}
	for ; j < n; j += gemmNR {
		nr := min(gemmNR, n-j)
		bpan := bp[(j/gemmNR)*kc*gemmNR:][:kc*gemmNR]
		for i := 0; i < mc; i += gemmMR {
			mr := min(gemmMR, mc-i)
			apan := ap[(i/gemmMR)*kc*gemmMR:][:kc*gemmMR]
			if mr == gemmMR && nr == gemmNR {
				// Bounds: the tile's last element lies inside c.
				_ = c[(i+gemmMR-1)*ldc+j+gemmNR-1]
				sgemmKernel6x16(kc, &apan[0], &bpan[0], &c[i*ldc+j], ldc, alpha, beta)
				continue
			}
			// The same kernel on a copy of the tile's part of C, so that
			// an edge element gets the bits it would get inside a full
			// tile (splitSgemm relies on it).
			var tile [gemmMR * gemmWideNR]float32
			tileIn(&tile, gemmNR, mr, nr, beta, c[i*ldc+j:], ldc)
			sgemmKernel6x16(kc, &apan[0], &bpan[0], &tile[0], gemmNR, alpha, beta)
			tileOut(&tile, gemmNR, mr, nr, c[i*ldc+j:], ldc)
		}
	}
}

// wideColumnSplit says whether sgemmGo should split a product between parts goroutines by
// blocks of whole 64-column tiles, and how wide: where the AVX-512 kernel reads A in place
// (n a multiple of 64, B packed), a split by columns packs each part of B once, while a split
// by rows makes every part pack all of B (with k = 768 and m = 128, a weight gradient, that
// copy costs about as much as the part's product). The blocks give every element the same
// arithmetic as any other split (see Determinism in split.go).
func wideColumnSplit(transB bool, m, n, k, parts int) (step int, ok bool) {
	if !useAVX512 || !readAInPlace || parts < 2 || n%gemmWideNR != 0 || n < parts*gemmWideNR ||
		(!transB && m <= unpackMaxM) || 2*float64(m)*float64(n)*float64(k) < splitMinFlops {
		return 0, false
	}
	tiles := n / gemmWideNR
	return (tiles + parts - 1) / parts * gemmWideNR, true
}

// deepColumnSplit says whether sgemmGo should split a product between parts goroutines by
// blocks of whole 16-column panels rather than by rows, and how wide: where each part's rows
// would fill at most half of one of sgemmAVX2's blocks of rows (gemmMC), k spans several of its
// blocks of k and each part gets at least 8 panels — a weight gradient Xᵀ·dY with few rows (a
// layer's width) and many steps of k (the batch's tokens). Split by rows, sharedSgemm packs all
// of op(B), k×n, before any part computes, and every block of k of that copy is read once,
// after it has left the cache; split by columns, each part packs a block of k of its columns
// and of all of op(A) (few rows) just before using it. BenchmarkWeightGradientSplit, which
// alternates the two call by call: at 128 or 192 rows and 384 to 576 columns the split by
// columns ran 1.04–1.13× as fast (two cores of a Zen 3 EPYC; the ratios move from run to run),
// at 128 and 192 columns 0.92–0.96×, and at 512 rows 0.87×; those stay split by rows. The blocks give every element the same arithmetic as any other split (see Determinism
// in split.go).
func deepColumnSplit(transB bool, m, n, k, parts int) (step int, ok bool) {
	parts = min(parts, maxParts)
	if parts < 2 || k <= gemmKC || (m+parts-1)/parts > gemmMC/2 || n < 8*gemmNR*parts ||
		(!transB && m <= unpackMaxM) || 2*float64(m)*float64(n)*float64(k) < splitMinFlops {
		return 0, false
	}
	panels := (n + gemmNR - 1) / gemmNR
	return (panels + parts - 1) / parts * gemmNR, true
}

// readAInPlace lets sgemmAVX2 skip packing A where every tile of a block is a whole 6×64 one
// (sgemmKernel6x64A); a variable so that tests and benchmarks can compare the two.
var readAInPlace = true

// macroKernelA is macroKernel for blocks whose columns are whole 6×64 tiles (n a multiple of
// 64), with A read in place: row i of the block at step l is a[i*rs + l*ss] for the first full
// rows (a multiple of 6); the rest rows (fewer than 6) come from one packed, zero-padded panel
// tail and go through a tile buffer, with the same kernel arithmetic.
func macroKernelA(full, rest, n, kc int, alpha float32, a []float32, rs, ss int, tail, bp []float32, beta float32, c []float32, ldc int) {
	for j := 0; j < n; j += gemmWideNR {
		bpan := bp[(j/gemmNR)*kc*gemmNR:][:4*kc*gemmNR]
		for i := 0; i < full; i += gemmMR {
			// Bounds: the kernel reads a[i*rs + r*rs + l*ss] for r < 6, l < kc, and writes
			// the 6×64 tile of c at (i, j).
			_ = a[(i+gemmMR-1)*rs+(kc-1)*ss]
			_ = c[(i+gemmMR-1)*ldc+j+gemmWideNR-1]
			sgemmKernel6x64A(kc, &a[i*rs], rs, ss, &bpan[0], kc*gemmNR, &c[i*ldc+j], ldc, alpha, beta)
		}
		if rest > 0 {
			var tile [gemmMR * gemmWideNR]float32
			tileIn(&tile, gemmWideNR, rest, gemmWideNR, beta, c[full*ldc+j:], ldc)
			sgemmKernel6x64(kc, &tail[0], &bpan[0], kc*gemmNR, &tile[0], gemmWideNR, alpha, beta)
			tileOut(&tile, gemmWideNR, rest, gemmWideNR, c[full*ldc+j:], ldc)
		}
	}
}

// tileIn copies the mr×nr corner of C at c (row stride ldc) into a tile
// buffer of row stride w when beta != 0 (with beta == 0 the kernels do not
// read C).
func tileIn(tile *[gemmMR * gemmWideNR]float32, w, mr, nr int, beta float32, c []float32, ldc int) {
	if beta == 0 {
		return
	}
	for r := 0; r < mr; r++ {
		copy(tile[r*w:][:nr], c[r*ldc:][:nr])
	}
}

// tileOut copies the mr×nr corner of a tile buffer of row stride w back to C.
func tileOut(tile *[gemmMR * gemmWideNR]float32, w, mr, nr int, c []float32, ldc int) {
	for r := 0; r < mr; r++ {
		copy(c[r*ldc:][:nr], tile[r*w:][:nr])
	}
}

// packA copies rows [i0, i0+mc) and columns [p0, p0+kc) of op(A) into ap as
// ⌈mc/6⌉ micro-panels of kc×6 floats: micro-panel q, at ap[q*kc*6:], holds
// rows i0+6q … i0+6q+5 interleaved by column, op(A)[i0+6q+r, p0+l] at
// index l*6+r, so the kernel reads 6 consecutive floats per step. Rows past
// the end of the block are zero.
func packA(transA bool, a []float32, lda, i0, mc, p0, kc int, ap []float32) {
	full := mc / gemmMR // panels without padding
	if transA {
		// Column l of op(A) is row p0+l of A: read it once, front to
		// back, handing 6 consecutive floats to each panel in turn.
		if full > 0 {
			for l := 0; l < kc; l++ {
				src := a[(p0+l)*lda+i0:][:full*gemmMR]
				dst := ap[l*gemmMR:][:(full-1)*kc*gemmMR+gemmMR]
				copyPanels6(full, &src[0], &dst[0], kc*gemmMR)
			}
		}
	} else {
		for q := 0; q < full; q++ {
			// Six rows of A, read in parallel, one column at a time.
			r0 := i0 + q*gemmMR
			dst := ap[q*kc*gemmMR:][:kc*gemmMR]
			s0 := a[r0*lda+p0:][:kc]
			s1 := a[(r0+1)*lda+p0:][:kc]
			s2 := a[(r0+2)*lda+p0:][:kc]
			s3 := a[(r0+3)*lda+p0:][:kc]
			s4 := a[(r0+4)*lda+p0:][:kc]
			s5 := a[(r0+5)*lda+p0:][:kc]
			kc8 := kc &^ 7 // in registers, 8 columns at a time; the rest below
			if kc8 > 0 {
				transposePanel6(kc8, &s0[0], lda, &dst[0])
			}
			for l := kc8; l < kc; l++ {
				d := (*[gemmMR]float32)(dst[l*gemmMR:])
				d[0], d[1], d[2], d[3], d[4], d[5] = s0[l], s1[l], s2[l], s3[l], s4[l], s5[l]
			}
		}
	}
	mr := mc - full*gemmMR
	if mr == 0 {
		return
	}
	// The last, partial panel: rows past the block are zero.
	r0 := i0 + full*gemmMR
	dst := ap[full*kc*gemmMR:][:kc*gemmMR]
	clear(dst)
	for r := 0; r < mr; r++ {
		for l := 0; l < kc; l++ {
			if transA {
				dst[l*gemmMR+r] = a[(p0+l)*lda+r0+r]
			} else {
				dst[l*gemmMR+r] = a[(r0+r)*lda+p0+l]
			}
		}
	}
}

// packB copies rows [p0, p0+kc) of op(B) (all n columns) into bp as ⌈n/16⌉
// micro-panels of kc×16 floats: micro-panel q, at bp[q*kc*16:], holds
// columns 16q … 16q+15 row by row, op(B)[p0+l, 16q+j] at index l*16+j, so the
// kernel reads 16 consecutive floats (two ymm registers) per step. Columns
// past n are zero.
func packB(transB bool, b []float32, ldb, p0, kc, n int, bp []float32) {
	full := n / gemmNR // panels without padding
	if !transB && full > 0 {
		// Read each row of B once, front to back, handing 16
		// consecutive floats to each panel in turn.
		for l := 0; l < kc; l++ {
			src := b[(p0+l)*ldb:][:full*gemmNR]
			dst := bp[l*gemmNR:][:(full-1)*kc*gemmNR+gemmNR]
			copyPanels16(full, &src[0], &dst[0], kc*gemmNR)
		}
	}
	for q := 0; q*gemmNR < n; q++ {
		dst := bp[q*kc*gemmNR:][:kc*gemmNR]
		j0 := q * gemmNR
		nr := min(gemmNR, n-j0)
		switch {
		case !transB && nr == gemmNR:
			// Done above.
		case !transB:
			for l := 0; l < kc; l++ {
				d := dst[l*gemmNR:][:gemmNR]
				copy(d, b[(p0+l)*ldb+j0:][:nr])
				clear(d[nr:])
			}
		default:
			// op(B) column j is row j of B: read each in place, write
			// it down the panel with stride 16.
			if nr < gemmNR {
				clear(dst)
			}
			kc8 := 0
			if nr == gemmNR && kc >= 8 {
				// 16 rows of B, 8 columns at a time transposed in registers.
				_ = b[(j0+gemmNR-1)*ldb+p0+kc-1]
				kc8 = kc &^ 7
				transposePanel16(kc8, &b[j0*ldb+p0], ldb, &dst[0])
			}
			for jj := 0; jj < nr; jj++ {
				src := b[(j0+jj)*ldb+p0+kc8 : (j0+jj)*ldb+p0+kc]
				for l, v := range src {
					dst[(kc8+l)*gemmNR+jj] = v
				}
			}
		}
	}
}

// sgemmRowsAVX2 computes C = alpha*op(A)*B + beta*C (B not transposed) one
// row of C at a time, reading A and B in place: 64 columns per sgemvRow64
// call, then 16 per sgemvRow16, then the last n mod 16 with sgemvRow16 on a
// zero-padded copy. Every column gets the same arithmetic (one fused
// multiply-add chain over k), so a column's bits do not depend on where it
// lies. Used when m is small (rowPathMaxM).
func sgemmRowsAVX2(transA bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	// Bounds: sgemvRow* read b[l*ldb+j : l*ldb+j+w] for l < k and j+w ≤ n,
	// all inside b as checkSgemm guarantees.
	_ = b[(k-1)*ldb+n-1]
	// The columns past the last multiple of 16, copied once into k rows of
	// 16 with zeros after them.
	var tail []float32
	var tailBuf *gemmBufs
	if j0 := n &^ 15; j0 < n {
		tailBuf = gemmBufPool.Get().(*gemmBufs)
		tailBuf.b = alignedFloats(tailBuf.b, k*16)
		tail = tailBuf.b
		for l := 0; l < k; l++ {
			row := tail[l*16:][:16]
			clear(row[copy(row, b[l*ldb+j0:][:n-j0]):])
		}
	}
	for i := 0; i < m; i++ {
		// Row i of op(A): a[i*lda:] step 1, or column i of A: a[i:] step lda.
		ai, inca := i*lda, 1
		if transA {
			ai, inca = i, lda
		}
		_ = a[ai+(k-1)*inca]
		crow := c[i*ldc:][:n]
		j := 0
		for ; j+64 <= n; j += 64 {
			sgemvRow64(k, &a[ai], inca, &b[j], ldb, &crow[j], alpha, beta)
		}
		for ; j+16 <= n; j += 16 {
			sgemvRow16(k, &a[ai], inca, &b[j], ldb, &crow[j], alpha, beta)
		}
		if j < n {
			// The last n mod 16 columns: sgemvRow16 on a zero-padded copy
			// of them, so they get the same arithmetic as the others.
			var tile [16]float32
			if beta != 0 {
				copy(tile[:], crow[j:])
			}
			sgemvRow16(k, &a[ai], inca, &tail[0], 16, &tile[0], alpha, beta)
			copy(crow[j:], tile[:n-j])
		}
	}
	if tailBuf != nil {
		gemmBufPool.Put(tailBuf)
	}
}

// autoPrefersPureGo says whether TINYCHAT_BLAS=auto (the default) picks the pure-Go backend
// even when a native library loads: on every CPU with AVX2 and FMA. Measured with the speed
// command (go run ./examples/speed), one training step, medians of 3 alternating runs, at the
// shapes 4×128, 6×384 and 12×768: on the 2-core AMD EPYC with AVX2 only, 76 ms / 1.93 s / 7.45 s
// pure Go against 108-116 ms / 3.29 s / 11.57 s OpenBLAS 0.3.21; on the 2-core AMD EPYC with
// AVX-512 (6×64 kernels), 39.0 ms / 660 ms / 2.41 s against 67.7 ms / 1.84 s / 7.26 s. (Before the
// AVX-512 kernels, an AVX-512 Xeon ran the two equally: 42.8 against 44.0 ms.)
var autoPrefersPureGo = func() bool { return haveAVX2FMA }

// transposePanel16 sets dst[l*16+r] = src[r*lds+l] for r < 16 and l < kc8, kc8 a positive
// multiple of 8 (packB's copy of 16 rows of a transposed B into a panel; pack_amd64.s).
//
//go:noescape
func transposePanel16(kc8 int, src *float32, lds int, dst *float32)

// transposePanel6 sets dst[l*6+r] = src[r*lds+l] for r < 6 and l < kc8, kc8 a positive
// multiple of 8 (packA's copy of 6 rows of A into a panel; pack_amd64.s).
//
//go:noescape
func transposePanel6(kc8 int, src *float32, lds int, dst *float32)
