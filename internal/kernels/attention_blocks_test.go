package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/internal/blas"
)

// attentionForwardFull is AttentionForward with whole T×T products, as it was before the
// causal blocks: the reference TestAttentionCausalBlocksMatchFull compares bits with.
func attentionForwardFull(y, probs, qkv []float32, s AttentionShape) {
	T, d, C := s.Block, s.HeadDim, s.Width()
	scale := float32(1 / math.Sqrt(float64(d)))
	parallelForFunc(s.Batch*s.Heads, 1, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/s.Heads, bh%s.Heads
			base := b * T * 3 * C
			q, k, v := qkv[base+h*d:], qkv[base+C+h*d:], qkv[base+2*C+h*d:]
			p := probs[bh*T*T : (bh+1)*T*T]
			blas.Sgemm(false, true, T, T, d, scale, q, 3*C, k, 3*C, 0, p, T)
			for t := 0; t < T; t++ {
				causalSoftmaxRow(p[t*T:(t+1)*T], t+1)
			}
			blas.Sgemm(false, false, T, d, T, 1, p, T, v, 3*C, 0, y[b*T*C+h*d:], C)
		}
	})
}

// attentionBackwardFull is AttentionBackward with whole T×T products.
func attentionBackwardFull(dqkv, dy, qkv, probs, scratch []float32, s AttentionShape) {
	T, d, C := s.Block, s.HeadDim, s.Width()
	scale := float32(1 / math.Sqrt(float64(d)))
	parallelForFunc(s.Batch*s.Heads, 1, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/s.Heads, bh%s.Heads
			base := b * T * 3 * C
			q, k, v := qkv[base+h*d:], qkv[base+C+h*d:], qkv[base+2*C+h*d:]
			dq, dk, dv := dqkv[base+h*d:], dqkv[base+C+h*d:], dqkv[base+2*C+h*d:]
			dyh := dy[b*T*C+h*d:]
			p := probs[bh*T*T : (bh+1)*T*T]
			dp := scratch[bh*T*T : (bh+1)*T*T]
			blas.Sgemm(false, true, T, T, d, 1, dyh, C, v, 3*C, 0, dp, T)
			blas.Sgemm(true, false, T, d, T, 1, p, T, dyh, C, 0, dv, 3*C)
			softmaxBackwardCausal(dp, p, T) // unchanged by the blocks
			blas.Sgemm(false, false, T, d, T, scale, dp, T, k, 3*C, 0, dq, 3*C)
			blas.Sgemm(true, false, T, d, T, scale, dp, T, q, 3*C, 0, dk, 3*C)
		}
	})
}

// attentionCase is random inputs of one attention shape, the buffers of both versions and a
// poisoned scratch (what the blocks never write must not leak into the results).
type attentionCase struct {
	s                  AttentionShape
	qkv, dy            []float32
	y, probs, dqkv, dp []float32
}

func newAttentionCase(s AttentionShape, seed uint64) *attentionCase {
	r := rand.New(rand.NewPCG(seed, 7))
	n, C := s.Batch*s.Block, s.Width()
	rnd := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		return x
	}
	c := &attentionCase{s: s, qkv: rnd(n * 3 * C), dy: rnd(n * C)}
	c.y, c.dqkv = make([]float32, n*C), make([]float32, n*3*C)
	c.probs, c.dp = make([]float32, s.ProbsLen()), make([]float32, s.ProbsLen())
	for i := range c.probs {
		c.probs[i], c.dp[i] = float32(math.NaN()), float32(math.NaN())
	}
	return c
}

// TestAttentionCausalBlocksMatchFull: the blocked products give the whole products' bits on
// the pure-Go GEMM (within 1e-5 on a native library, whose kernels may depend on a call's size) —
// forward outputs, the saved probabilities and every input gradient — at blocks that divide
// T, leave a remainder, merge a short last block, and at T that stays one block; with scratch and
// probabilities that start as NaN, so that an element the blocks skip but read would show.
func TestAttentionCausalBlocksMatchFull(t *testing.T) {
	for i, s := range []AttentionShape{
		{Batch: 2, Block: 192, Heads: 4, HeadDim: 32}, // tinychat's pretraining shape
		{Batch: 2, Block: 64, Heads: 4, HeadDim: 32},  // nanoGPT's: one block
		{Batch: 1, Block: 100, Heads: 3, HeadDim: 16}, // a remainder of 4 merged into the block before
		{Batch: 1, Block: 109, Heads: 2, HeadDim: 24}, // a last block of 13 rows
		{Batch: 2, Block: 7, Heads: 3, HeadDim: 5},    // below one block
		{Batch: 1, Block: 256, Heads: 1, HeadDim: 64}, // k up to the GEMM's k block
	} {
		t.Run(fmt.Sprintf("T%d_d%d", s.Block, s.HeadDim), func(t *testing.T) {
			got, want := newAttentionCase(s, uint64(i)), newAttentionCase(s, uint64(i))
			AttentionForward(got.y, got.probs, got.qkv, nil, s)
			attentionForwardFull(want.y, want.probs, want.qkv, s)
			AttentionBackward(got.dqkv, got.dy, got.qkv, got.probs, got.dp, s)
			attentionBackwardFull(want.dqkv, want.dy, want.qkv, want.probs, want.dp, s)
			for _, c := range []struct {
				name      string
				got, want []float32
			}{{"y", got.y, want.y}, {"probs", got.probs, want.probs}, {"dqkv", got.dqkv, want.dqkv}} {
				for j := range c.want {
					if blas.IsNative() {
						// A native library's kernels may sum differently at another call size.
						if d := math.Abs(float64(c.got[j] - c.want[j])); d > 1e-5*(1+math.Abs(float64(c.want[j]))) || math.IsNaN(float64(c.got[j])) {
							t.Fatalf("%s[%d] = %g, the whole products give %g", c.name, j, c.got[j], c.want[j])
						}
						continue
					}
					if math.Float32bits(c.got[j]) != math.Float32bits(c.want[j]) {
						t.Fatalf("%s[%d] = %g, the whole products give %g", c.name, j, c.got[j], c.want[j])
					}
				}
			}
		})
	}
}

// BenchmarkAttention is the fused attention forward and backward at tinychat's pretraining
// shape and nanoGPT's, blocked against whole products.
//
//	go test -run '^$' -bench Attention$ ./internal/kernels/
func BenchmarkAttention(b *testing.B) {
	for _, s := range []AttentionShape{{Batch: 8, Block: 192, Heads: 4, HeadDim: 32}, {Batch: 12, Block: 64, Heads: 4, HeadDim: 32}} {
		c := newAttentionCase(s, 1)
		for _, v := range []struct {
			name string
			fwd  func(y, probs, qkv []float32, s AttentionShape)
			bwd  func(dqkv, dy, qkv, probs, scratch []float32, s AttentionShape)
		}{{"blocked", func(y, probs, qkv []float32, s AttentionShape) { AttentionForward(y, probs, qkv, nil, s) }, AttentionBackward},
			{"full", attentionForwardFull, attentionBackwardFull}} {
			b.Run(fmt.Sprintf("T%d/%s", s.Block, v.name), func(b *testing.B) {
				for range b.N {
					v.fwd(c.y, c.probs, c.qkv, s)
					v.bwd(c.dqkv, c.dy, c.qkv, c.probs, c.dp, s)
				}
			})
		}
	}
}

// causalBlocks covers [0, T) in order without gaps, with blocks of causalRows but a last one
// of 8 to causalRows+7 rows, and keeps T below 2·causalRows whole.
func TestCausalBlocks(t *testing.T) {
	collect := func(T int) (got [][2]int) {
		for r0, r1 := range causalBlocks(T) {
			got = append(got, [2]int{r0, r1})
		}
		return got
	}
	require.Equal(t, [][2]int{{0, 64}}, collect(64))
	require.Equal(t, [][2]int{{0, 95}}, collect(95))
	require.Equal(t, [][2]int{{0, 48}, {48, 96}, {96, 144}, {144, 192}}, collect(192))
	require.Equal(t, [][2]int{{0, 48}, {48, 100}}, collect(100))
	require.Equal(t, [][2]int{{0, 48}, {48, 96}, {96, 109}}, collect(109))
	for T := 1; T < 400; T++ {
		next := 0
		for _, b := range collect(T) {
			require.Equal(t, next, b[0], "T=%d", T)
			require.Greater(t, b[1], b[0])
			next = b[1]
		}
		require.Equal(t, T, next, "T=%d", T)
	}
}

// TestAttentionPackedMatchesAlone: sequences packed into rows (pos restarting at 0 where each
// begins) get the outputs and input gradients each would get alone in a row of its own
// length — the same bits on the pure-Go GEMM (the masked keys add exact zeros to the same
// multiply-add chains) but for sequences of 2 to 5 tokens, whose products alone take the
// GEMM's few-row path (other chains), within 1e-5 there and on a native library — at one
// block (T 96) and several (T 192), with sequences of one token, sequences crossing the
// blocks' edges and a whole row.
func TestAttentionPackedMatchesAlone(t *testing.T) {
	for i, c := range []struct {
		block int
		rows  [][]int // each batch row's sequence lengths, summing to block
	}{
		{96, [][]int{{30, 1, 50, 15}, {96}}},
		{192, [][]int{{40, 100, 52}, {1, 1, 189, 1}}},
		{7, [][]int{{3, 4}, {1, 1, 1, 1, 1, 1, 1}}},
	} {
		s := AttentionShape{Batch: len(c.rows), Block: c.block, Heads: 3, HeadDim: 16}
		t.Run(fmt.Sprintf("T%d", c.block), func(t *testing.T) {
			T, C := s.Block, s.Width()
			packed := newAttentionCase(s, uint64(i))
			pos := make([]int32, s.Batch*T)
			type seq struct{ b, start, n int }
			var seqs []seq
			for b, lens := range c.rows {
				start := 0
				for _, n := range lens {
					for j := range n {
						pos[b*T+start+j] = int32(j)
					}
					seqs = append(seqs, seq{b, start, n})
					start += n
				}
				require.Equal(t, T, start)
			}
			AttentionForward(packed.y, packed.probs, packed.qkv, pos, s)
			AttentionBackward(packed.dqkv, packed.dy, packed.qkv, packed.probs, packed.dp, s)
			for _, q := range seqs {
				one := AttentionShape{Batch: 1, Block: q.n, Heads: s.Heads, HeadDim: s.HeadDim}
				alone := newAttentionCase(one, 99)
				row := q.b*T + q.start
				copy(alone.qkv, packed.qkv[row*3*C:(row+q.n)*3*C])
				copy(alone.dy, packed.dy[row*C:(row+q.n)*C])
				AttentionForward(alone.y, alone.probs, alone.qkv, nil, one)
				AttentionBackward(alone.dqkv, alone.dy, alone.qkv, alone.probs, alone.dp, one)
				for _, v := range []struct {
					name      string
					got, want []float32
				}{{"y", packed.y[row*C : (row+q.n)*C], alone.y}, {"dqkv", packed.dqkv[row*3*C : (row+q.n)*3*C], alone.dqkv}} {
					for j := range v.want {
						g, w := v.got[j], v.want[j]
						if blas.IsNative() || (q.n >= 2 && q.n <= 5) {
							if d := math.Abs(float64(g - w)); d > 1e-5*(1+math.Abs(float64(w))) || math.IsNaN(float64(g)) {
								t.Fatalf("sequence at row %d+%d: %s[%d] = %g packed, %g alone", q.b, q.start, v.name, j, g, w)
							}
							continue
						}
						if math.Float32bits(g) != math.Float32bits(w) {
							t.Fatalf("sequence at row %d+%d: %s[%d] = %g packed, %g alone", q.b, q.start, v.name, j, g, w)
						}
					}
				}
			}
		})
	}
}
