package blas

import (
	"sync"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Tuning of the pure-Go path (see BenchmarkSgemm and BenchmarkPureGo).
const (
	// parMinFlops is the smallest problem (2·m·n·k) that is split across
	// goroutines; below it goroutine start-up and cache traffic cost more
	// than they gain.
	parMinFlops = 1 << 18
	// packMinM is the smallest m for which a transposed B is first copied
	// into k×n order, so the inner loop is a long AXPY instead of a dot
	// product.
	packMinM = 8
)

var l1 = gonum.Implementation{} // level-1 routines: SIMD assembly inside gonum

// useAVX2 selects the AVX2/FMA assembly path of sgemmGo. It is true on amd64
// CPUs with AVX2 and FMA; tests set it to false to exercise the SSE path.
var useAVX2 = haveAVX2FMA

// sgemmGo is the pure-Go backend. The arguments are valid and m, n, k > 0.
//
// On amd64 with AVX2 and FMA it runs sgemmAVX2 (packed panels and 6×16 AVX2
// or 6×64 AVX-512 assembly micro-kernels, see gemm_amd64.go) on each of up to
// GOMAXPROCS blocks of C: blocks of whole 64-column tiles where the AVX-512
// kernel reads A in place (wideColumnSplit), else blocks of rows computed from
// one shared packed copy of op(B) where B is packed (sharedSgemm), else
// splitSgemm's. Elsewhere it
// runs sgemmSSE. On the 2-core AVX2-only development machine (AMD EPYC) the
// AVX2 kernel alone did 85-105 GFLOP/s at the GPT training shapes (65-70 with
// n = 65), 38-55 at m = 1, 3-6× sgemmSSE; the AVX-512 kernel does 1.7-2.1× the
// AVX2 one on an AVX-512 EPYC (BenchmarkPureGo).
func sgemmGo(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if useAVX2 {
		parts := goParts()
		if step, ok := wideColumnSplit(transB, m, n, k, parts); ok {
			runBlocks(parts, false, step, sgemmAVX2, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			return
		}
		if step, ok := deepColumnSplit(transB, m, n, k, parts); ok {
			runBlocks(parts, false, step, sgemmAVX2, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			return
		}
		if sharedSgemm(parts, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
			return
		}
		splitSgemm(parts, sgemmAVX2, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	sgemmSSE(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemmGoSerial is sgemmGo on the calling goroutine: the AVX2/AVX-512 kernels compute every
// element the same way whatever block of C they are given (see Determinism in split.go), so
// one call over the whole product gives the split product's bits. Without AVX2 it is sgemmGo
// (sgemmSSE keeps its own goroutines).
func sgemmGoSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if useAVX2 {
		sgemmAVX2(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	sgemmSSE(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemmSSE is the portable pure-Go path (the fallback for CPUs without
// AVX2+FMA and for other architectures). The arguments are valid and
// m, n, k > 0.
//
// gonum's Sgemm (already parallel: one goroutine per 64×64 block of C, with
// AXPYs of only 64 elements and A read column-wise when transposed) reaches
// 9-28 GFLOP/s on the 2-core development machine at the GPT shapes, and 2.6-16
// when Aᵀ has a power-of-two stride. This version keeps gonum's SSE assembly
// AXPY/DOT kernels but runs them over whole rows of C (AXPYs of n elements),
// copies a transposed B into k×n order once and a transposed A into
// 16-row tiles, and gives each of GOMAXPROCS goroutines one contiguous block
// of rows (or of columns when m is small): 17-41 GFLOP/s on the same shapes,
// 17-21 at M=1 (BenchmarkSgemm, "go" vs "gonum").
func sgemmSSE(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	scaleC(m, n, beta, c, ldc)

	if transB && m >= packMinM {
		buf := getBuf(k * n)
		defer putBuf(buf)
		bp := (*buf)[:k*n]
		for j := 0; j < n; j++ {
			row := b[j*ldb : j*ldb+k]
			for l, v := range row {
				bp[l*n+j] = v
			}
		}
		b, ldb, transB = bp, n, false
	}

	kern := func(i0, i1, j0, j1 int) {
		sgemmKernel(transA, transB, i0, i1, j0, j1, k, alpha, a, lda, b, ldb, c, ldc)
	}
	p := goParts()
	if p < 2 || 2*float64(m)*float64(n)*float64(k) < parMinFlops {
		kern(0, m, 0, n)
		return
	}
	var wg sync.WaitGroup
	if m >= 2*p {
		for t := 1; t < p; t++ {
			wg.Add(1)
			go func(i0, i1 int) {
				defer wg.Done()
				kern(i0, i1, 0, n)
			}(t*m/p, (t+1)*m/p)
		}
		kern(0, m/p, 0, n)
	} else {
		// Few rows: split columns, in multiples of 16 to keep the AXPYs aligned.
		step := (n/p + 15) &^ 15
		for j0 := step; j0 < n; j0 += step {
			wg.Add(1)
			go func(j0, j1 int) {
				defer wg.Done()
				kern(0, m, j0, j1)
			}(j0, min(j0+step, n))
		}
		kern(0, m, 0, min(step, n))
	}
	wg.Wait()
}

// sgemmKernel adds alpha*op(A)*op(B) to rows [i0,i1) and columns [j0,j1) of C.
func sgemmKernel(transA, transB bool, i0, i1, j0, j1, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if !transA {
		sgemmRows(transB, i0, i1, j0, j1, k, alpha, a[i0*lda:], lda, b, ldb, c, ldc)
		return
	}
	// op(A) rows are columns of A: copy them, aTile rows at a time, into a
	// contiguous tile. Reading A column by column instead thrashes the cache
	// when lda is a large power of two (768×512 Aᵀ: 3x slower).
	const aTile = 16
	buf := getBuf(aTile * k)
	defer putBuf(buf)
	tile := *buf
	for t0 := i0; t0 < i1; t0 += aTile {
		rows := min(aTile, i1-t0)
		for l := 0; l < k; l++ {
			for r, v := range a[l*lda+t0 : l*lda+t0+rows] {
				tile[r*k+l] = v
			}
		}
		sgemmRows(transB, t0, t0+rows, j0, j1, k, alpha, tile, k, b, ldb, c, ldc)
	}
}

// sgemmRows adds alpha*A*op(B) to rows [i0,i1) and columns [j0,j1) of C,
// where row i of C uses row i-i0 of a (not transposed).
func sgemmRows(transB bool, i0, i1, j0, j1, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	w := j1 - j0
	for i := i0; i < i1; i++ {
		arow := a[(i-i0)*lda : (i-i0)*lda+k]
		crow := c[i*ldc+j0 : i*ldc+j1]
		if !transB {
			// C[i,:] += Σ_l alpha*A[i,l] * B[l,:]
			for l, av := range arow {
				l1.Saxpy(w, alpha*av, b[l*ldb+j0:l*ldb+j1], 1, crow, 1)
			}
			continue
		}
		// C[i,j] += alpha * A[i,:]·B[j,:] (B stored n×k)
		for j := range crow {
			crow[j] += alpha * l1.Sdot(k, arow, 1, b[(j0+j)*ldb:(j0+j)*ldb+k], 1)
		}
	}
}

var bufPool sync.Pool // *[]float32

func getBuf(n int) *[]float32 {
	if p, ok := bufPool.Get().(*[]float32); ok && cap(*p) >= n {
		return p
	}
	s := make([]float32, n)
	return &s
}

func putBuf(p *[]float32) { bufPool.Put(p) }

// sgemmGonum is gonum's own Sgemm, kept as a reference for tests and
// benchmarks.
func sgemmGonum(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gonum.Implementation{}.Sgemm(gTrans(transA), gTrans(transB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func gTrans(t bool) gblas.Transpose {
	if t {
		return gblas.Trans
	}
	return gblas.NoTrans
}
