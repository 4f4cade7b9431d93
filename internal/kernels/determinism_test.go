package kernels

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// kernelCase is fixed inputs for every kernel, forward and backward, large enough that
// parallelFor splits them, with the output buffers.
type kernelCase struct {
	s                                     AttentionShape
	n, c, vocab                           int
	idx, targets                          []int32
	wte, wpe, emb, dwte, dwpe, demb       []float32
	w, b, ln, mean, rstd, dx, dw, db, dln []float32
	gx, gy, gth, gdx, gdy, gdxr           []float32
	sum, ax, ay                           []float32
	qkv, att, probs, dqkv, scratch, datt  []float32
	logits, weights, ceP, nll, dl         []float32
	lp, lpP, dlp, glp                     []float32
	loss, wsum                            float64
}

func newKernelCase() *kernelCase {
	r := rand.New(rand.NewPCG(3, 4))
	rnd := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = r.Float32()*2 - 1
		}
		return x
	}
	const batch, block, heads, hd, vocab = 3, 40, 4, 16, 70
	k := &kernelCase{s: AttentionShape{Batch: batch, Block: block, Heads: heads, HeadDim: hd}, vocab: vocab}
	n, c := batch*block, k.s.Width()
	k.n, k.c = n, c
	k.idx = make([]int32, n)
	for i := range k.idx {
		k.idx[i] = int32(r.IntN(vocab))
	}
	k.wte, k.wpe, k.emb = rnd(vocab*c), rnd(block*c), make([]float32, n*c)
	k.dwte, k.dwpe, k.demb = make([]float32, vocab*c), make([]float32, block*c), rnd(n*c)
	k.w, k.b, k.ln, k.mean, k.rstd = rnd(c), rnd(c), make([]float32, n*c), make([]float32, n), make([]float32, n)
	k.dx, k.dw, k.db, k.dln = make([]float32, n*c), make([]float32, c), make([]float32, c), rnd(n*c)
	// GELU over more elements than one chunk.
	k.gx = rnd(5 * 4096)
	k.gy, k.gth, k.gdx, k.gdxr = make([]float32, len(k.gx)), make([]float32, len(k.gx)), make([]float32, len(k.gx)), make([]float32, len(k.gx))
	k.gdy = rnd(len(k.gx))
	// Add over more elements than one chunk.
	k.sum = make([]float32, 3*addMinChunk+5)
	k.ax, k.ay = rnd(len(k.sum)), rnd(len(k.sum))
	k.qkv, k.att, k.probs = rnd(n*3*c), make([]float32, n*c), make([]float32, k.s.ProbsLen())
	k.dqkv, k.scratch, k.datt = make([]float32, n*3*c), make([]float32, k.s.ProbsLen()), rnd(n*c)
	k.logits, k.targets, k.weights = rnd(n*vocab), make([]int32, n), rnd(n)
	for i := range k.targets {
		k.targets[i] = int32(r.IntN(vocab))
	}
	k.targets[5] = -1
	k.ceP, k.nll, k.dl = make([]float32, n*vocab), make([]float32, n), make([]float32, n*vocab)
	k.lp, k.lpP, k.dlp, k.glp = make([]float32, n), make([]float32, n*vocab), make([]float32, n*vocab), rnd(n)
	return k
}

// run runs every kernel once. Add runs in place on its second call, so a second run changes
// ax and sum.
func (k *kernelCase) run() {
	n, c, vocab, s := k.n, k.c, k.vocab, k.s
	EmbeddingForward(k.emb, k.wte, k.wpe, k.idx, nil, s.Block, c)
	EmbeddingBackward(k.dwte, k.dwpe, k.demb, k.idx, nil, s.Block, c)
	LayerNormForward(k.ln, k.mean, k.rstd, k.emb, k.w, k.b, n, c)
	LayerNormBackward(k.dx, k.dw, k.db, k.dln, k.emb, k.mean, k.rstd, k.w, n, c)
	GELUForward(k.gy, k.gth, k.gx)
	GELUBackward(k.gdx, k.gdy, k.gx, k.gth)
	GELUBackward(k.gdxr, k.gdy, k.gx, nil)
	Add(k.sum, k.ax, k.ay)
	Add(k.ax, k.ax, k.sum)
	AttentionForward(k.att, k.probs, k.qkv, nil, s)
	AttentionBackward(k.dqkv, k.datt, k.qkv, k.probs, k.scratch, s)
	k.loss, k.wsum = CrossEntropyForward(k.ceP, k.nll, k.logits, k.targets, k.weights, n, vocab)
	CrossEntropyBackward(k.dl, k.ceP, k.targets, k.weights, n, vocab, 0.7, k.wsum)
	LogProbForward(k.lp, k.lpP, k.logits, k.targets, n, vocab)
	LogProbBackward(k.dlp, k.lpP, k.targets, k.glp, n, vocab)
}

// runAllKernels runs every kernel on a new kernelCase and returns the SHA-256 of every
// output's bits.
func runAllKernels() string {
	k := newKernelCase()
	k.run()
	h := sha256.New()
	for _, x := range [][]float32{
		k.emb, k.dwte, k.dwpe, k.ln, k.mean, k.rstd, k.dx, k.dw, k.db, k.gy, k.gth, k.gdx, k.gdxr,
		k.sum, k.ax, k.att, k.probs, k.dqkv, k.ceP, k.nll, k.dl, {float32(k.loss), float32(k.wsum)},
		k.lp, k.lpP, k.dlp,
	} {
		for _, v := range x {
			h.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestKernelsIndependentOfWorkers: every kernel gives the same bits whether its work is split
// across 1, 2, 3, 8 or 64 workers — no reduction's order depends on the split — and from run to
// run.
func TestKernelsIndependentOfWorkers(t *testing.T) {
	t.Cleanup(func() { SetWorkers(0) })
	SetWorkers(1)
	want := runAllKernels()
	for _, w := range []int{2, 3, 8, 64, 2} {
		SetWorkers(w)
		require.Equal(t, want, runAllKernels(), "Workers = %d", w)
	}
}
