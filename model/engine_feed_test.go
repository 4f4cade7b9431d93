package model

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requireLogitsNear fails unless got and want agree within 1e-5 (relative to the logit's size
// when it is above 1).
func requireLogitsNear(t *testing.T, want, got []float32, what string) {
	t.Helper()
	require.Len(t, got, len(want))
	for j := range want {
		tol := 1e-5 * max(1, math.Abs(float64(want[j])))
		if d := math.Abs(float64(want[j] - got[j])); !(d <= tol) {
			t.Fatalf("%s: logit %d: Feed %g, Prefill/Step %g", what, j, got[j], want[j])
		}
	}
}

// TestEngineFeedMatchesPrefillAndStep: one Feed of prompt chunks and single tokens to sequences
// of different lengths gives the logits that Prefill and Step give fed one by one, and leaves
// the same caches (the next steps agree too).
func TestEngineFeedMatchesPrefillAndStep(t *testing.T) {
	cfg := engineTestConfig()
	cfg.BlockSize = 12
	m := newEngineTestModel(t, cfg, 7)
	V := cfg.VocabSize
	const B = 5
	fed, ref := mustEngine(t, m, B), mustEngine(t, m, B)
	rng := rand.New(rand.NewPCG(3, 4))
	// Sequences 0-3 hold 0, 2, 5 and 1 tokens; sequence 4 holds 3 and is left out.
	for s, n := range []int{0, 2, 5, 1, 3} {
		if n == 0 {
			continue
		}
		p := randomTokens(rng, n, V)
		_, err := fed.Prefill(s, p)
		require.NoError(t, err)
		_, err = ref.Prefill(s, p)
		require.NoError(t, err)
	}
	left := append([]float32(nil), fed.logits[4*V:5*V]...)
	feed := [][]int32{randomTokens(rng, 4, V), randomTokens(rng, 1, V), randomTokens(rng, 3, V), randomTokens(rng, 1, V), nil}
	got, err := fed.Feed(feed)
	require.NoError(t, err)
	require.Len(t, got, B*V)
	want := make([]float32, B*V)
	for _, s := range []int{0, 2} {
		lg, err := ref.Prefill(s, feed[s])
		require.NoError(t, err)
		copy(want[s*V:], lg)
	}
	lg, err := ref.Step([]int32{NoToken, feed[1][0], NoToken, feed[3][0], NoToken})
	require.NoError(t, err)
	copy(want[1*V:], lg[1*V:2*V])
	copy(want[3*V:], lg[3*V:4*V])
	for s := range 4 {
		requireLogitsNear(t, want[s*V:(s+1)*V], got[s*V:(s+1)*V], "sequence "+string(rune('0'+s)))
		assert.Equal(t, ref.Len(s), fed.Len(s))
	}
	assert.Equal(t, left, got[4*V:5*V], "the row of a sequence left out keeps its value")
	assert.Equal(t, 3, fed.Len(4))
	// The caches agree: the next step of every sequence gives the same logits.
	step := randomTokens(rng, B, V)
	a, err := fed.Step(step)
	require.NoError(t, err)
	b, err := ref.Step(step)
	require.NoError(t, err)
	for s := range B {
		requireLogitsNear(t, b[s*V:(s+1)*V], a[s*V:(s+1)*V], "step after feed, sequence "+string(rune('0'+s)))
	}
}

// TestEngineFeedOneSequenceIsPrefill: feeding one sequence is Prefill (and one token Step),
// bit for bit: the batcher relies on it for a request served alone.
func TestEngineFeedOneSequenceIsPrefill(t *testing.T) {
	cfg := engineTestConfig()
	m := newEngineTestModel(t, cfg, 8)
	V := cfg.VocabSize
	fed, ref := mustEngine(t, m, 3), mustEngine(t, m, 3)
	rng := rand.New(rand.NewPCG(5, 6))
	p := randomTokens(rng, 5, V)
	got, err := fed.Feed([][]int32{nil, p, nil})
	require.NoError(t, err)
	want, err := ref.Prefill(1, p)
	require.NoError(t, err)
	assert.Equal(t, want, got[V:2*V])
	tok := randomTokens(rng, 1, V)
	got, err = fed.Feed([][]int32{nil, tok, nil})
	require.NoError(t, err)
	want, err = ref.Step([]int32{NoToken, tok[0], NoToken})
	require.NoError(t, err)
	assert.Equal(t, want[V:2*V], got[V:2*V])
}

func TestEngineFeedErrors(t *testing.T) {
	cfg := engineTestConfig() // BlockSize 8
	m := newEngineTestModel(t, cfg, 9)
	e := mustEngine(t, m, 2)
	assert.Equal(t, 8, e.MaxRows())
	_, err := e.Prefill(1, []int32{1, 2, 3, 4, 5, 6})
	require.NoError(t, err)

	_, err = e.Feed([][]int32{{1}})
	assert.ErrorContains(t, err, "feed got 1 token lists, want one per sequence (2)")
	_, err = e.Feed([][]int32{{1, 2}, {3, 13}})
	assert.ErrorContains(t, err, "sequence 1: token 13 at position 1 is outside the vocabulary [0, 13)")
	_, err = e.Feed([][]int32{{-1}, nil})
	assert.ErrorContains(t, err, "sequence 0: token -1 at position 0 is outside the vocabulary")
	_, err = e.Feed([][]int32{{1}, {2, 3, 4}})
	assert.True(t, errors.Is(err, ErrSequenceFull), "%v", err)
	assert.ErrorContains(t, err, "feed of 3 tokens to sequence 1 after 6 cached would exceed the block size 8")
	_, err = e.Feed([][]int32{{1, 2, 3, 4, 5, 6, 7}, {1, 2}})
	assert.ErrorContains(t, err, "feed of 9 tokens in all exceeds the engine's 8 rows")
	assert.Equal(t, 0, e.Len(0), "nothing is fed on error")
	assert.Equal(t, 6, e.Len(1))

	// Nothing to feed is no error, and feeds nothing.
	_, err = e.Feed([][]int32{nil, {}})
	require.NoError(t, err)
	assert.Equal(t, 6, e.Len(1))
}

func TestEngineFeedDoesNotAllocate(t *testing.T) {
	cfg := Config{VocabSize: 64, BlockSize: 32, Layers: 2, Heads: 2, Width: 32}
	m, err := New(cfg, 1)
	require.NoError(t, err)
	e := mustEngine(t, m, 4)
	rng := rand.New(rand.NewPCG(1, 2))
	feed := [][]int32{randomTokens(rng, 7, 64), randomTokens(rng, 1, 64), nil, randomTokens(rng, 2, 64)}
	allocs := testing.AllocsPerRun(5, func() {
		e.Reset()
		if _, err := e.Feed(feed); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs, "allocations per Feed")
}

func mustEngine(t *testing.T, m *Model, batch int) *Engine {
	t.Helper()
	e, err := NewEngine(m, batch)
	require.NoError(t, err)
	return e
}

// TestEngineBitsDoNotDependOnProcs: the same feeds (a pass of 36 prompt rows, whose products
// are split across goroutines, then steps of 6 rows and of one) under GOMAXPROCS 1, 2 and 5
// give the same logits and hidden states, bit for bit.
func TestEngineBitsDoNotDependOnProcs(t *testing.T) {
	cfg := Config{VocabSize: 97, BlockSize: 40, Layers: 2, Heads: 8, Width: 128}
	m := newEngineTestModel(t, cfg, 11)
	run := func(procs int) (logits, hidden []float32) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		e := mustEngine(t, m, 6)
		rng := rand.New(rand.NewPCG(5, 6))
		// Prompts of different lengths fed together, then decode steps of all six.
		feed := make([][]int32, 6)
		for s := range feed {
			feed[s] = randomTokens(rng, 1+2*s, cfg.VocabSize) // 36 rows in all
		}
		_, err := e.Feed(feed)
		require.NoError(t, err)
		for range 5 {
			_, err = e.Step(randomTokens(rng, 6, cfg.VocabSize))
			require.NoError(t, err)
		}
		_, err = e.Step([]int32{NoToken, 5, NoToken, NoToken, NoToken, NoToken})
		require.NoError(t, err)
		return append([]float32(nil), e.logits...), append([]float32(nil), e.hidden...)
	}
	l1, h1 := run(1)
	for _, p := range []int{2, 5} {
		lp, hp := run(p)
		require.Equal(t, bitsOf(l1), bitsOf(lp), "logits with GOMAXPROCS %d", p)
		require.Equal(t, bitsOf(h1), bitsOf(hp), "hidden states with GOMAXPROCS %d", p)
	}
}

func bitsOf(x []float32) []uint32 {
	b := make([]uint32, len(x))
	for i, v := range x {
		b[i] = math.Float32bits(v)
	}
	return b
}

// TestEngineCopySequence: a copied sequence has the source's logits and goes on as the source
// would: the same tokens fed to both give the same logits, and the source is untouched.
func TestEngineCopySequence(t *testing.T) {
	cfg := engineTestConfig()
	cfg.BlockSize = 12
	m := newEngineTestModel(t, cfg, 5)
	V := cfg.VocabSize
	e := mustEngine(t, m, 3)
	rng := rand.New(rand.NewPCG(8, 9))
	p := randomTokens(rng, 6, V)
	first, err := e.Prefill(0, p)
	require.NoError(t, err)
	first = append([]float32(nil), first...)
	_, err = e.Prefill(2, randomTokens(rng, 3, V)) // something to overwrite
	require.NoError(t, err)
	require.NoError(t, e.CopySequence(2, 0))
	assert.Equal(t, 6, e.Len(2))
	assert.Equal(t, first, e.logits[2*V:3*V])
	assert.Equal(t, 6, e.Len(0), "the source is untouched")
	assert.Equal(t, first, e.logits[0:V])
	more := randomTokens(rng, 2, V)
	got, err := e.Feed([][]int32{more, nil, more})
	require.NoError(t, err)
	assert.Equal(t, got[0:V], got[2*V:3*V], "the copy goes on as the source")
	assert.EqualError(t, e.CopySequence(3, 0), "model: engine: copying sequence 0 to 3: the destination is out of range [0, 3)")
	assert.EqualError(t, e.CopySequence(0, -1), "model: engine: copying sequence -1 to 0: the source is out of range [0, 3)")
	require.NoError(t, e.ResetSequence(1))
	assert.EqualError(t, e.CopySequence(2, 1), "model: engine: copying sequence 1 to 2: the source holds no tokens")
	assert.Equal(t, 8, e.Len(2), "a failed copy leaves the destination as it was")
}
