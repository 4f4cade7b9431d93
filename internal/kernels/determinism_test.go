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

// runAllKernels runs every kernel, forward and backward, on fixed inputs large enough that
// parallelFor splits them, and returns the SHA-256 of every output's bits.
func runAllKernels() string {
	r := rand.New(rand.NewPCG(3, 4))
	rnd := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = r.Float32()*2 - 1
		}
		return x
	}
	h := sha256.New()
	put := func(xs ...[]float32) {
		for _, x := range xs {
			for _, v := range x {
				h.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)))
			}
		}
	}
	const batch, block, heads, hd, vocab = 3, 40, 4, 16, 70
	s := AttentionShape{Batch: batch, Block: block, Heads: heads, HeadDim: hd}
	n, c := batch*block, s.Width()

	// Embeddings.
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(r.IntN(vocab))
	}
	wte, wpe := rnd(vocab*c), rnd(block*c)
	emb := make([]float32, n*c)
	EmbeddingForward(emb, wte, wpe, idx, nil, block, c)
	dwte, dwpe := make([]float32, vocab*c), make([]float32, block*c)
	EmbeddingBackward(dwte, dwpe, rnd(n*c), idx, nil, block, c)
	put(emb, dwte, dwpe)

	// LayerNorm.
	w, b := rnd(c), rnd(c)
	ln, mean, rstd := make([]float32, n*c), make([]float32, n), make([]float32, n)
	LayerNormForward(ln, mean, rstd, emb, w, b, n, c)
	dx, dw, db := make([]float32, n*c), make([]float32, c), make([]float32, c)
	LayerNormBackward(dx, dw, db, rnd(n*c), emb, mean, rstd, w, n, c)
	put(ln, mean, rstd, dx, dw, db)

	// GELU over more elements than one chunk.
	x := rnd(5 * 4096)
	y, th, gx := make([]float32, len(x)), make([]float32, len(x)), make([]float32, len(x))
	GELUForward(y, th, x)
	gdy := rnd(len(x))
	GELUBackward(gx, gdy, x, th)
	gr := make([]float32, len(x))
	GELUBackward(gr, gdy, x, nil)
	put(y, th, gx, gr)

	// Add over more elements than one chunk, and in place.
	sum := make([]float32, 3*addMinChunk+5)
	ax, ay := rnd(len(sum)), rnd(len(sum))
	Add(sum, ax, ay)
	Add(ax, ax, sum)
	put(sum, ax)

	// Attention.
	qkv := rnd(n * 3 * c)
	att, probs := make([]float32, n*c), make([]float32, s.ProbsLen())
	AttentionForward(att, probs, qkv, nil, s)
	dqkv, scratch := make([]float32, n*3*c), make([]float32, s.ProbsLen())
	AttentionBackward(dqkv, rnd(n*c), qkv, probs, scratch, s)
	put(att, probs, dqkv)

	// Losses.
	logits := rnd(n * vocab)
	targets := make([]int32, n)
	weights := rnd(n)
	for i := range targets {
		targets[i] = int32(r.IntN(vocab))
	}
	targets[5] = -1
	ceP, nll := make([]float32, n*vocab), make([]float32, n)
	loss, wsum := CrossEntropyForward(ceP, nll, logits, targets, weights, n, vocab)
	dl := make([]float32, n*vocab)
	CrossEntropyBackward(dl, ceP, targets, weights, n, vocab, 0.7, wsum)
	put(ceP, nll, dl, []float32{float32(loss), float32(wsum)})
	lp, lpP := make([]float32, n), make([]float32, n*vocab)
	LogProbForward(lp, lpP, logits, targets, n, vocab)
	dlp := make([]float32, n*vocab)
	LogProbBackward(dlp, lpP, targets, rnd(n), n, vocab)
	put(lp, lpP, dlp)
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
