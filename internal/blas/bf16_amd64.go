//go:build amd64

package blas

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// haveBF16 reports whether the CPU (and OS) support AVX512-BF16 (with the
// AVX512BW word moves the packing uses), which bf16_amd64.s needs.
var haveBF16 = haveAVX512 && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512BF16

// useBF16 selects the bf16 kernels for SgemmBF16; a variable so that tests
// can compare them with the rounded-copies path.
var useBF16 = haveBF16

// sbgemmKernel6x64 computes a 6×64 tile C = alpha*A·B + beta*C from a packed
// A micro-panel of kp pair steps and four packed B panels bstride words
// apart; with beta == 0 C is not read.
//
//go:noescape
func sbgemmKernel6x64(kp int, a, b *uint32, bstride int, c *float32, ldc int, alpha, beta float32)

// cvtPairsBF16 sets dst[i] = bf16(src[2i]) | bf16(src[2i+1])<<16 for i < n,
// n a multiple of 8.
//
//go:noescape
func cvtPairsBF16(n int, src *float32, dst *uint32)

// interleaveBF16 sets dst[i] = bf16(lo[i]) | bf16(hi[i])<<16 for i < n, n a
// multiple of 16.
//
//go:noescape
func interleaveBF16(n int, lo, hi *float32, dst *uint32)

// sbBufs holds the packing buffers of one sbgemmAVX512 call: the packed
// panels of A and B and a row of pairs in flight.
type sbBufs struct {
	a, b, row []uint32
}

var sbBufPool = sync.Pool{New: func() any { return new(sbBufs) }}

// alignedWords is alignedFloats for 32-bit words; like it, the result keeps the capacity of
// the storage, so a buffer asked for less once still serves a larger size later.
func alignedWords(buf []uint32, n int) []uint32 {
	f := unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(buf))), cap(buf))
	f = alignedFloats(f, n)
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(f))), cap(f))[:n]
}

// sbgemmAVX512 is the serial bf16 product (an sgemmFunc for splitSgemm): the
// sgemmAVX2 blocking (blocks of at most gemmKC steps of k, rounded up to an
// even count, and gemmMC rows), with both operands packed as bf16 pairs and
// every tile — 6 rows by 64 columns, edge tiles through a buffer — computed by
// sbgemmKernel6x64, so every element of C gets the same arithmetic whatever
// block of C it is asked for. It must only be called when haveBF16 is true.
func sbgemmAVX512(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	nkb := (k + gemmKC - 1) / gemmKC
	kcMax := (k + nkb - 1) / nkb
	kcMax += kcMax & 1
	kpMax := kcMax / 2
	mcMax := min(gemmMC, (m+gemmMR-1)/gemmMR*gemmMR)
	nWide := (n + gemmWideNR - 1) / gemmWideNR * gemmWideNR // B panels padded to whole tiles

	bufs := sbBufPool.Get().(*sbBufs)
	bufs.a = alignedWords(bufs.a, mcMax*kpMax)
	bufs.b = alignedWords(bufs.b, nWide*kpMax)
	bufs.row = alignedWords(bufs.row, max(kpMax, mcMax, nWide))
	ap, bp := bufs.a, bufs.b

	for p0 := 0; p0 < k; p0 += kcMax {
		kc := min(kcMax, k-p0)
		kp := (kc + 1) / 2
		packBBF16(transB, b, ldb, p0, kc, n, nWide, bp, bufs.row)
		bet := beta
		if p0 > 0 {
			bet = 1 // later blocks of k add to what the first one wrote
		}
		for i0 := 0; i0 < m; i0 += mcMax {
			mc := min(mcMax, m-i0)
			packABF16(transA, a, lda, i0, mc, p0, kc, ap, bufs.row)
			for j := 0; j < n; j += gemmWideNR {
				nr := min(gemmWideNR, n-j)
				bpan := bp[j*kp:][:gemmWideNR*kp]
				for i := 0; i < mc; i += gemmMR {
					mr := min(gemmMR, mc-i)
					apan := ap[(i/gemmMR)*kp*gemmMR:][:kp*gemmMR]
					if mr == gemmMR && nr == gemmWideNR {
						_ = c[(i0+i+gemmMR-1)*ldc+j+gemmWideNR-1]
						sbgemmKernel6x64(kp, &apan[0], &bpan[0], kp*gemmNR, &c[(i0+i)*ldc+j], ldc, alpha, bet)
						continue
					}
					var tile [gemmMR * gemmWideNR]float32
					tileIn(&tile, gemmWideNR, mr, nr, bet, c[(i0+i)*ldc+j:], ldc)
					sbgemmKernel6x64(kp, &apan[0], &bpan[0], kp*gemmNR, &tile[0], gemmWideNR, alpha, bet)
					tileOut(&tile, gemmWideNR, mr, nr, c[(i0+i)*ldc+j:], ldc)
				}
			}
		}
	}
	sbBufPool.Put(bufs)
}

// pairAt returns the bf16 pair of op(X)'s elements (l, col) and (l+1, col)
// (the second zero when l+1 == end), for a scalar edge of the packing; at
// returns op(X)[l, col].
func pairAt(at func(l int) float32, l, end int) uint32 {
	w := bf16Bits(at(l))
	if l+1 < end {
		w |= bf16Bits(at(l+1)) << 16
	}
	return w
}

// packBBF16 packs rows [p0, p0+kc) of op(B) as bf16 pairs into nWide/16
// panels of ⌈kc/2⌉×16 words: panel q, at bp[q*kp*16:], holds pair step p of
// columns 16q … 16q+15 at p*16 … p*16+15. Columns past n and the missing
// second half of an odd last step are zero. row is scratch.
func packBBF16(transB bool, b []float32, ldb, p0, kc, n, nWide int, bp, row []uint32) {
	kp := (kc + 1) / 2
	end := p0 + kc
	if !transB {
		n16 := n &^ 15
		for p := 0; p < kp; p++ {
			l := p0 + 2*p
			lo := b[l*ldb:][:n]
			if n16 > 0 && l+1 < end {
				hi := b[(l+1)*ldb:][:n]
				interleaveBF16(n16, &lo[0], &hi[0], &row[0])
			} else {
				for j := 0; j < n16; j++ {
					row[j] = pairAt(func(l int) float32 { return b[l*ldb+j] }, l, end)
				}
			}
			for j := n16; j < n; j++ {
				row[j] = pairAt(func(l int) float32 { return b[l*ldb+j] }, l, end)
			}
			clear(row[n:nWide])
			for q := 0; q < nWide/gemmNR; q++ {
				copy(bp[q*kp*gemmNR+p*gemmNR:][:gemmNR], row[q*gemmNR:][:gemmNR])
			}
		}
		return
	}
	// op(B) column j is row j of B: its pairs are adjacent floats.
	for j := 0; j < nWide; j++ {
		q, jj := j/gemmNR, j%gemmNR
		dst := bp[q*kp*gemmNR+jj:]
		if j >= n {
			for p := 0; p < kp; p++ {
				dst[p*gemmNR] = 0
			}
			continue
		}
		pairsOfRow(b[j*ldb+p0:][:kc], row)
		for p := 0; p < kp; p++ {
			dst[p*gemmNR] = row[p]
		}
	}
}

// pairsOfRow sets row[p] = bf16(x[2p]) | bf16(x[2p+1])<<16 for p < ⌈len(x)/2⌉
// (the second half zero past the end of x).
func pairsOfRow(x []float32, row []uint32) {
	kp := (len(x) + 1) / 2
	p8 := (len(x) / 2) &^ 7
	if p8 > 0 {
		cvtPairsBF16(p8, &x[0], &row[0])
	}
	for p := p8; p < kp; p++ {
		row[p] = pairAt(func(l int) float32 { return x[l] }, 2*p, len(x))
	}
}

// packABF16 packs rows [i0, i0+mc) and steps [p0, p0+kc) of op(A) as bf16
// pairs into ⌈mc/6⌉ panels of ⌈kc/2⌉×6 words: panel q, at ap[q*kp*6:], holds
// pair step p of rows i0+6q … i0+6q+5 at p*6 … p*6+5. Rows past the block
// and the missing half of an odd last step are zero. row is scratch.
func packABF16(transA bool, a []float32, lda, i0, mc, p0, kc int, ap, row []uint32) {
	kp := (kc + 1) / 2
	end := p0 + kc
	nPanels := (mc + gemmMR - 1) / gemmMR
	if transA {
		// Column i of op(A) is a column of A: rows l and l+1 of A
		// interleaved give the pairs of mc consecutive rows of op(A).
		m16 := mc &^ 15
		for p := 0; p < kp; p++ {
			l := p0 + 2*p
			if m16 > 0 && l+1 < end {
				interleaveBF16(m16, &a[l*lda+i0], &a[(l+1)*lda+i0], &row[0])
			} else {
				for i := 0; i < m16; i++ {
					row[i] = pairAt(func(l int) float32 { return a[l*lda+i0+i] }, l, end)
				}
			}
			for i := m16; i < mc; i++ {
				row[i] = pairAt(func(l int) float32 { return a[l*lda+i0+i] }, l, end)
			}
			clear(row[mc : nPanels*gemmMR])
			for q := 0; q < nPanels; q++ {
				copy(ap[q*kp*gemmMR+p*gemmMR:][:gemmMR], row[q*gemmMR:][:gemmMR])
			}
		}
		return
	}
	// Row i of op(A) is a row of A: its pairs are adjacent floats.
	for i := 0; i < nPanels*gemmMR; i++ {
		q, r := i/gemmMR, i%gemmMR
		dst := ap[q*kp*gemmMR+r:]
		if i >= mc {
			for p := 0; p < kp; p++ {
				dst[p*gemmMR] = 0
			}
			continue
		}
		pairsOfRow(a[(i0+i)*lda+p0:][:kc], row)
		for p := 0; p < kp; p++ {
			dst[p*gemmMR] = row[p]
		}
	}
}
