//go:build amd64

package blas

import (
	"sync"

	"github.com/tinychat-go/tinychat/internal/workpool"
)

// A product split by rows of C with each block calling sgemmAVX2 packs the whole of op(B) once
// per block: on two cores, B twice. sharedSgemm packs op(B) once, the parts each packing a
// range of its 16-column panels, and then computes the blocks of rows from the one packed
// copy. Each element of C gets the same arithmetic as in sgemmAVX2 (the same blocks of k, the
// same kernels; see Determinism in split.go), so the bits do not change. In a profile of GPT-2
// small's training step on a 2-core AMD EPYC without AVX-512 packing B took about a tenth of
// the CPU time, half of it repeated; sharing it, the product in GPT-2's MLP ran at 131 → 139
// GFLOP/s (1024×3072×768; its weight gradient, 768×3072×1024 with A transposed, 144 → 149;
// medians of 5 rounds alternated in one process, the pool held).

// sharedMinK is the fewest steps of k for which sharedSgemm is used: below it packing B costs
// little beside the second wait for the workers.
const sharedMinK = 64

// sharedGemm is one product computed by sharedSgemm.
type sharedGemm struct {
	transA, transB bool
	n, k           int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int

	kcMax, nPanels int
	bp             []float32 // op(B) packed: block of k at p0 from p0·nPanels·16, panel q of it q·kc·16 further
	tasks          [maxParts + 1]sharedTask
}

// sharedTask is one part: pack panels [lo, hi) of op(B), or compute rows [lo, hi) of C.
type sharedTask struct {
	g      *sharedGemm
	pack   bool
	lo, hi int
	job    workpool.Job
}

// Run does the part.
func (t *sharedTask) Run() {
	if t.pack {
		t.g.packPanels(t.lo, t.hi)
	} else {
		t.g.computeRows(t.lo, t.hi)
	}
}

var sharedPool = sync.Pool{New: func() any { return new(sharedGemm) }}

// sharedSgemm computes the product on up to parts goroutines (the caller included), blocks of
// rows of C sharing one packed op(B). It returns false, having done nothing, where the
// product is not split by rows with B packed (splitSgemm's rule, sgemmAVX2's in-place-B path
// for few rows) or has fewer than sharedMinK steps of k.
func sharedSgemm(parts int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) bool {
	parts = min(parts, maxParts)
	if parts < 2 || k < sharedMinK || 2*float64(m)*float64(n)*float64(k) < splitMinFlops ||
		!(m >= 8*parts || m >= n) || (!transB && m <= unpackMaxM) {
		return false
	}
	var ends [maxParts + 1]int // splitSgemm's blocks of rows
	nb := blockEnds(m, max((m/parts+7)&^7, 8), &ends)
	if nb < 2 {
		return false
	}
	g := sharedPool.Get().(*sharedGemm)
	g.transA, g.transB, g.n, g.k, g.alpha, g.beta = transA, transB, n, k, alpha, beta
	g.a, g.b, g.c, g.lda, g.ldb, g.ldc = a, b, c, lda, ldb, ldc
	nkb := (k + gemmKC - 1) / gemmKC
	g.kcMax = (k + nkb - 1) / nkb
	g.nPanels = (n + gemmNR - 1) / gemmNR
	g.bp = alignedFloats(g.bp, g.nPanels*gemmNR*k)

	// Pack op(B): the panels in nb nearly equal ranges.
	g.run(nb, true, func(i int) (int, int) { return g.nPanels * i / nb, g.nPanels * (i + 1) / nb })
	// Compute C: splitSgemm's blocks of rows.
	g.run(nb, false, func(i int) (int, int) {
		if i == 0 {
			return 0, ends[0]
		}
		return ends[i-1], ends[i]
	})
	g.a, g.b, g.c = nil, nil, nil // do not keep the caller's matrices alive
	sharedPool.Put(g)
	return true
}

// run does nb parts, part i covering bounds(i): the caller the first, workers the others,
// the caller then finishing the unclaimed ones from the back (as runBlocks does).
func (g *sharedGemm) run(nb int, pack bool, bounds func(int) (int, int)) {
	for i := 1; i < nb; i++ {
		t := &g.tasks[i]
		t.g, t.pack = g, pack
		t.lo, t.hi = bounds(i)
		t.job.Start(t, nb-1)
	}
	lo, hi := bounds(0)
	if pack {
		g.packPanels(lo, hi)
	} else {
		g.computeRows(lo, hi)
	}
	for i := nb - 1; i >= 1; i-- {
		g.tasks[i].job.Finish()
		g.tasks[i].g = nil
	}
}

// packPanels packs the 16-column panels [q0, q1) of op(B) for every block of k.
func (g *sharedGemm) packPanels(q0, q1 int) {
	if q0 >= q1 {
		return
	}
	j0, j1 := q0*gemmNR, min(q1*gemmNR, g.n)
	b := g.b[j0:] // op(B)'s column j0: B's column, or row when transposed
	if g.transB {
		b = g.b[j0*g.ldb:]
	}
	for p0 := 0; p0 < g.k; p0 += g.kcMax {
		kc := min(g.kcMax, g.k-p0)
		packB(g.transB, b, g.ldb, p0, kc, j1-j0, g.bp[p0*g.nPanels*gemmNR+q0*kc*gemmNR:])
	}
}

// computeRows computes rows [lo, hi) of C from the packed op(B): sgemmAVX2's loops, with its
// blocks of rows starting at lo.
func (g *sharedGemm) computeRows(lo, hi int) {
	bufs := gemmBufPool.Get().(*gemmBufs)
	mcMax := min(gemmMC, (hi-lo+gemmMR-1)/gemmMR*gemmMR)
	bufs.a = alignedFloats(bufs.a, mcMax*g.kcMax)
	ap := bufs.a
	for p0 := 0; p0 < g.k; p0 += g.kcMax {
		kc := min(g.kcMax, g.k-p0)
		bp := g.bp[p0*g.nPanels*gemmNR:][:g.nPanels*gemmNR*kc]
		bet := g.beta
		if p0 > 0 {
			bet = 1
		}
		for i0 := lo; i0 < hi; i0 += mcMax {
			mc := min(mcMax, hi-i0)
			computeBlockAVX2(g.transA, i0, mc, g.n, kc, p0, g.alpha, g.a, g.lda, ap, bp, bet, g.c, g.ldc)
		}
	}
	gemmBufPool.Put(bufs)
}
