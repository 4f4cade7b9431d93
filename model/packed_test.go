package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"

	"github.com/tinychat-go/tinychat/internal/blas"
	"github.com/tinychat-go/tinychat/internal/kernels"
)

// packedCase is sequences of random tokens, targets and weights, laid out one per row of a
// plain graph (right-padded with weight 0) and packed into fewer rows of a Packed one.
type packedCase struct {
	tokens, targets [][]int32
	weights         [][]float32
	// rows lists each packed row's sequences, in order.
	rows [][]int
}

func newPackedCase(vocab int, seed uint64) packedCase {
	r := rand.New(rand.NewPCG(seed, 3))
	c := packedCase{rows: [][]int{{3}, {1, 0, 5}, {4, 2}}}
	for _, n := range []int{7, 12, 3, 20, 9, 1} { // rows of 20: {20}, {12, 7, 1}, {9, 3}
		tok, tgt, w := make([]int32, n), make([]int32, n), make([]float32, n)
		for i := range n {
			tok[i], tgt[i], w[i] = int32(r.IntN(vocab)), int32(r.IntN(vocab)), float32(r.IntN(3))/2
		}
		c.tokens, c.targets, c.weights = append(c.tokens, tok), append(c.targets, tgt), append(c.weights, w)
	}
	return c
}

// fill lays the case out in g: packed by c.rows, or one sequence per row. A Packed graph's
// Positions count each sequence from 0; a row's padding continues its last sequence. It
// returns each sequence's first token's index in g.
func (c packedCase) fill(g *Graph, packed bool) []int {
	T := g.Config.Block
	clear(g.Tokens)
	clear(g.Targets)
	clear(g.Weights)
	at := make([]int, len(c.tokens))
	rows := c.rows
	if !packed {
		rows = nil
		for i := range c.tokens {
			rows = append(rows, []int{i})
		}
	}
	for r, seqs := range rows {
		col := 0
		for _, s := range seqs {
			at[s] = r*T + col
			copy(g.Tokens[at[s]:], c.tokens[s])
			copy(g.Targets[at[s]:], c.targets[s])
			copy(g.Weights[at[s]:], c.weights[s])
			if g.Positions != nil {
				for j := range c.tokens[s] {
					g.Positions[at[s]+j] = int32(j)
				}
			}
			col += len(c.tokens[s])
		}
		for ; g.Positions != nil && col < T; col++ {
			g.Positions[r*T+col] = g.Positions[r*T+col-1] + 1
		}
	}
	return at
}

// TestPackedGraphMatchesOneSequencePerRow: sequences packed into rows get the log-probabilities
// they get one per row — the same bits on the pure-Go GEMM, within 1e-6 on a native library —
// and a training graph the same loss and gradients up to float32 rounding (the weights'
// gradients sum the tokens in another order); a Packed graph whose Positions say one sequence
// per row gives the plain graph's bits.
func TestPackedGraphMatchesOneSequencePerRow(t *testing.T) {
	cfg := Config{VocabSize: 31, BlockSize: 24, Layers: 2, Heads: 2, Width: 32}
	m, err := New(cfg, 1)
	require.NoError(t, err)
	randomize(m, 5)
	c := newPackedCase(cfg.VocabSize, 1)

	plain, err := m.NewGraph(GraphConfig{Batch: 6, Block: 20, Objective: LogProbs})
	require.NoError(t, err)
	packed, err := m.NewGraph(GraphConfig{Batch: 3, Block: 20, Objective: LogProbs, Packed: true})
	require.NoError(t, err)
	atPlain, atPacked := c.fill(plain, false), c.fill(packed, true)
	require.NoError(t, plain.Run())
	require.NoError(t, packed.Run())
	for s, tok := range c.tokens {
		for j := range tok {
			got, want := packed.Output[atPacked[s]+j], plain.Output[atPlain[s]+j]
			if blas.IsNative() {
				require.InDelta(t, want, got, 1e-6*(1+math.Abs(float64(want))), "sequence %d token %d", s, j)
				continue
			}
			require.Equal(t, math.Float32bits(want), math.Float32bits(got), "sequence %d token %d: %g packed, %g alone", s, j, got, want)
		}
	}

	grads := func(g *Graph, packed bool) (float64, [][]float32) {
		m.ZeroGrad()
		c.fill(g, packed)
		require.NoError(t, g.Run())
		var out [][]float32
		for _, p := range m.Params {
			out = append(out, append([]float32(nil), p.Grad...))
		}
		return g.Loss, out
	}
	plainTrain, err := m.NewGraph(GraphConfig{Batch: 6, Block: 20, Train: true})
	require.NoError(t, err)
	packedTrain, err := m.NewGraph(GraphConfig{Batch: 3, Block: 20, Train: true, Packed: true})
	require.NoError(t, err)
	lossPlain, gradPlain := grads(plainTrain, false)
	lossPacked, gradPacked := grads(packedTrain, true)
	require.InDelta(t, lossPlain, lossPacked, 1e-6*lossPlain)
	for i, p := range m.Params {
		var norm float64
		for _, v := range gradPlain[i] {
			norm = math.Max(norm, math.Abs(float64(v)))
		}
		require.Greater(t, norm, 1e-4, "%s has a gradient", p.Name)
		for j, want := range gradPlain[i] {
			require.InDelta(t, want, gradPacked[i][j], 1e-5*norm, "%s[%d]", p.Name, j)
		}
	}

	// Positions 0 … Block−1 in every row: the plain graph's bits.
	whole, err := m.NewGraph(GraphConfig{Batch: 6, Block: 20, Train: true, Packed: true})
	require.NoError(t, err)
	lossWhole, gradWhole := grads(whole, false)
	for i, p := range whole.Positions {
		require.Equal(t, int32(i%20), p)
	}
	require.Equal(t, lossPlain, lossWhole)
	require.Equal(t, gradPlain, gradWhole)
}

// TestGradPackedAttention checks the packed attention's and embedding's gradients by finite
// differences (sequences of 2 and 3 tokens in a row of 5, and 1 and 4).
func TestGradPackedAttention(t *testing.T) {
	s := kernels.AttentionShape{Batch: 2, Block: 5, Heads: 3, HeadDim: 4}
	pos := []int32{0, 1, 0, 1, 2, 0, 0, 1, 2, 3}
	in := []*fdInput{{name: "qkv", shape: []int{s.Batch * s.Block, 3 * s.Width()}, scale: 1}}
	checkGrad(t, 5, in, func(b *builder, n G.Nodes) (*G.Node, error) { return b.attention(n[0], pos, s) })
	idx := []int32{3, 1, 3, 0, 4, 4, 2, 3, 1, 1}
	in = []*fdInput{{name: "wte", shape: []int{5, 6}, scale: 1}, {name: "wpe", shape: []int{5, 6}, scale: 1}}
	checkGrad(t, 6, in, func(b *builder, n G.Nodes) (*G.Node, error) { return b.embedding(n[0], n[1], idx, pos, 5) })
}

// TestPackedPositionsChecked: Run names the first position that neither starts a sequence
// nor continues the one before it.
func TestPackedPositionsChecked(t *testing.T) {
	m, err := New(tinyConfig(), 1)
	require.NoError(t, err)
	g, err := m.NewGraph(GraphConfig{Batch: 2, Block: 4, Packed: true})
	require.NoError(t, err)
	require.NoError(t, g.Run())
	copy(g.Positions, []int32{0, 1, 0, 1, 0, 1, 2, 3})
	require.NoError(t, g.Run())
	g.Positions[6] = 3
	require.EqualError(t, g.Run(), "model: position 3 at token 6 (row 1, column 2), want 0 or 2")
	g.Positions[6], g.Positions[4] = 2, 1
	require.EqualError(t, g.Run(), "model: position 1 at token 4 (row 1, column 0), want 0 (a row starts a sequence)")
	g.Positions[4] = 0
	g.Positions = []int32{0, 1, 2, 3, 0, 1, 2, 3}
	require.ErrorContains(t, g.Run(), "Positions was replaced")
	plain, err := m.NewGraph(GraphConfig{Batch: 2, Block: 4})
	require.NoError(t, err)
	require.Nil(t, plain.Positions)
}

// TestGraphsShareOneArena: a set's graphs of fewer rows run in the memory of its largest
// (built first, whatever is asked for first) and give the bits a graph of their own gives;
// a graph of more rows than asked is refused.
func TestGraphsShareOneArena(t *testing.T) {
	cfg := Config{VocabSize: 31, BlockSize: 24, Layers: 2, Heads: 2, Width: 32}
	base, err := New(cfg, 1)
	require.NoError(t, err)
	randomize(base, 5)
	gc := GraphConfig{Batch: 6, Block: 20, Train: true, Packed: true}
	largest, err := base.Clone().NewGraph(gc)
	require.NoError(t, err)

	m := base.Clone()
	set, err := m.NewGraphs(gc)
	require.NoError(t, err)
	for _, rows := range []int{3, 6, 1, 3, 5} {
		g, err := set.Rows(rows)
		require.NoError(t, err)
		require.Equal(t, largest.PlannedBytes(), set.gc.Arena.Bytes(), "rows %d", rows)
		fillBatch(g, uint64(rows), cfg.VocabSize)
		m.ZeroGrad()
		require.NoError(t, g.Run())
		logits := append([]float32(nil), g.Logits...)

		alone := base.Clone()
		one := gc
		one.Batch = rows
		ga, err := alone.NewGraph(one)
		require.NoError(t, err)
		fillBatch(ga, uint64(rows), cfg.VocabSize)
		require.NoError(t, ga.Run())
		require.Equal(t, ga.Loss, g.Loss, "rows %d", rows)
		require.Equal(t, ga.Logits, logits, "rows %d", rows)
		for i, p := range m.Params {
			require.Equal(t, alone.Params[i].Grad, p.Grad, "rows %d: %s", rows, p.Name)
		}
	}
	_, err = set.Rows(7)
	require.EqualError(t, err, "model: a graph of 7 rows, want 1 to 6")
}
