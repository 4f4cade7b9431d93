package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/internal/kernels"
)

// engineTestConfig is a small model whose every part (two layers, two heads, both heads'
// halves of the width) matters to the logits.
func engineTestConfig() Config {
	return Config{VocabSize: 13, BlockSize: 8, Layers: 2, Heads: 2, Width: 16}
}

// newEngineTestModel is model.New's initialisation perturbed by much larger random values, so
// that every parameter moves the logits well above float32 round-off and a mistake in any
// layer shows.
func newEngineTestModel(t testing.TB, cfg Config, seed uint64) *Model {
	t.Helper()
	m, err := New(cfg, seed)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(seed, 99))
	for _, p := range m.Params {
		for i := range p.Data {
			p.Data[i] += float32(rng.NormFloat64() * 0.3)
		}
	}
	return m
}

func randomTokens(rng *rand.Rand, n, vocab int) []int32 {
	ts := make([]int32, n)
	for i := range ts {
		ts[i] = int32(rng.IntN(vocab))
	}
	return ts
}

// requireRowsClose fails unless got and want agree within 1e-4 everywhere.
func requireRowsClose(t *testing.T, want, got []float32, format string, args ...any) {
	t.Helper()
	require.Len(t, got, len(want))
	for j := range want {
		if d := math.Abs(float64(want[j] - got[j])); !(d <= 1e-4) {
			t.Fatalf("%s: logit %d: engine %g, graph %g", fmt.Sprintf(format, args...), j, got[j], want[j])
		}
	}
}

// graphLogits runs a Logits graph over rows (each BlockSize long) and returns [rows·T, vocab].
func graphLogits(t *testing.T, m *Model, rows [][]int32) []float32 {
	t.Helper()
	T := m.Config.BlockSize
	g, err := m.NewGraph(GraphConfig{Batch: len(rows), Block: T, Objective: Logits})
	require.NoError(t, err)
	for b, r := range rows {
		copy(g.Tokens[b*T:(b+1)*T], r)
	}
	require.NoError(t, g.Run())
	return append([]float32(nil), g.Logits...)
}

func TestEngineMatchesGraph(t *testing.T) {
	for _, untied := range []bool{false, true} {
		name := "tied"
		if untied {
			name = "untied"
		}
		t.Run(name, func(t *testing.T) {
			cfg := engineTestConfig()
			cfg.UntiedHead = untied
			m := newEngineTestModel(t, cfg, 5)
			T, V := cfg.BlockSize, cfg.VocabSize
			rng := rand.New(rand.NewPCG(1, 2))
			rows := [][]int32{randomTokens(rng, T, V), randomTokens(rng, T, V)}
			want := graphLogits(t, m, rows)
			wantRow := func(b, pos int) []float32 { return want[(b*T+pos)*V : (b*T+pos+1)*V] }

			// Prefill of the first i tokens, for every i.
			e, err := NewEngine(m, 1)
			require.NoError(t, err)
			for b, r := range rows {
				for i := 1; i <= T; i++ {
					e.Reset()
					got, err := e.Prefill(0, r[:i])
					require.NoError(t, err)
					requireRowsClose(t, wantRow(b, i-1), got, "prefill of row %d up to %d", b, i)
				}
			}

			// A prefill continued by another prefill.
			e.Reset()
			_, err = e.Prefill(0, rows[0][:3])
			require.NoError(t, err)
			got, err := e.Prefill(0, rows[0][3:])
			require.NoError(t, err)
			requireRowsClose(t, wantRow(0, T-1), got, "split prefill")

			// Two different sequences stepped together, token by token.
			e2, err := NewEngine(m, 2)
			require.NoError(t, err)
			for pos := 0; pos < T; pos++ {
				lg, err := e2.Step([]int32{rows[0][pos], rows[1][pos]})
				require.NoError(t, err)
				require.Len(t, lg, 2*V)
				for b := range 2 {
					requireRowsClose(t, wantRow(b, pos), lg[b*V:(b+1)*V], "step of row %d at %d", b, pos)
				}
			}

			// Three sequences at different lengths, some skipping steps: sequence 0 prefilled
			// with 3 tokens, sequence 2 with 5, sequence 1 starting empty.
			e3, err := NewEngine(m, 3)
			require.NoError(t, err)
			_, err = e3.Prefill(0, rows[0][:3])
			require.NoError(t, err)
			_, err = e3.Prefill(2, rows[1][:5])
			require.NoError(t, err)
			n := []int{3, 0, 5}
			src := [][]int32{rows[0], rows[1], rows[1]}
			for step := 0; step < 6; step++ {
				toks := make([]int32, 3)
				for s := range 3 {
					toks[s] = NoToken
					if (s+step)%3 != 0 && n[s] < T { // each sequence sits out every third step
						toks[s] = src[s][n[s]]
					}
				}
				prev := append([]float32(nil), e3.logits...)
				lg, err := e3.Step(toks)
				require.NoError(t, err)
				for s := range 3 {
					if toks[s] == NoToken {
						require.Equal(t, prev[s*V:(s+1)*V], lg[s*V:(s+1)*V], "skipped row %d changed", s)
						continue
					}
					b := map[int]int{0: 0, 1: 1, 2: 1}[s]
					requireRowsClose(t, wantRow(b, n[s]), lg[s*V:(s+1)*V], "mixed step of sequence %d at %d", s, n[s])
					n[s]++
					require.Equal(t, n[s], e3.Len(s))
				}
			}
		})
	}
}

func TestEngineScoreMatchesValues(t *testing.T) {
	cfg := engineTestConfig()
	cfg.ScalarHead = true
	m := newEngineTestModel(t, cfg, 8)
	T := cfg.BlockSize
	rng := rand.New(rand.NewPCG(3, 4))
	g, err := m.NewGraph(GraphConfig{Batch: 2, Block: T, Objective: Values})
	require.NoError(t, err)
	rows := [][]int32{randomTokens(rng, T, cfg.VocabSize), randomTokens(rng, T, cfg.VocabSize)}
	copy(g.Tokens, rows[0])
	copy(g.Tokens[T:], rows[1])
	require.NoError(t, g.Run())

	e, err := NewEngine(m, 2)
	require.NoError(t, err)
	_, err = e.Prefill(0, rows[0])
	require.NoError(t, err)
	for pos := range T { // sequence 1 token by token
		_, err = e.Step([]int32{NoToken, rows[1][pos]})
		require.NoError(t, err)
	}
	for s := range 2 {
		for pos := range T {
			v, err := e.Score(s, pos)
			require.NoError(t, err)
			assert.InDelta(t, g.Output[s*T+pos], v, 1e-4, "sequence %d position %d", s, pos)
			h, err := e.HiddenAt(s, pos)
			require.NoError(t, err)
			require.Len(t, h, cfg.Width)
		}
	}
	_, err = e.Score(0, T)
	require.Error(t, err)
	_, err = e.Score(2, 0)
	require.Error(t, err)
	_, err = e.HiddenAt(0, -1)
	require.Error(t, err)

	plain, err := NewEngine(newEngineTestModel(t, engineTestConfig(), 1), 1)
	require.NoError(t, err)
	_, err = plain.Prefill(0, []int32{1})
	require.NoError(t, err)
	_, err = plain.Score(0, 0)
	require.ErrorContains(t, err, "scalar head")
}

// The engine calls the serial kernels.LayerNormRows and kernels.GELURange (no closure, no
// allocation); they must equal the parallel forms the training graph uses, bit for bit.
func TestEngineKernelMirrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const rows, cols = 7, 48
	x, w, b := make([]float32, rows*cols), make([]float32, cols), make([]float32, cols)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 3)
	}
	x[5] = 40 // one large activation
	for i := range w {
		w[i], b[i] = float32(1+rng.NormFloat64()), float32(rng.NormFloat64())
	}
	want, got := make([]float32, rows*cols), make([]float32, rows*cols)
	kernels.LayerNormForward(want, nil, nil, x, w, b, rows, cols)
	kernels.LayerNormRows(got, nil, nil, x, w, b, cols, 0, rows)
	require.Equal(t, want, got, "LayerNorm")

	kernels.GELUForward(want, nil, x)
	kernels.GELURange(got, nil, x, 0, len(x))
	require.Equal(t, want, got, "GELU")

	// The log-probabilities of the sampler against the graph's LogProbs kernel.
	logits := x[:cols]
	out, probs := make([]float32, 1), make([]float32, cols)
	for tok := range int32(cols) {
		kernels.LogProbForward(out, probs, logits, []int32{tok}, 1, cols)
		require.Equal(t, out[0], tokenLogProb(logits, tok), "log-prob of %d", tok)
	}
}

func TestEngineErrors(t *testing.T) {
	m := newEngineTestModel(t, engineTestConfig(), 2)
	T := m.Config.BlockSize
	_, err := NewEngine(nil, 1)
	require.Error(t, err)
	_, err = NewEngine(m, 0)
	require.Error(t, err)

	e, err := NewEngine(m, 2)
	require.NoError(t, err)
	_, err = e.Prefill(2, []int32{1})
	require.ErrorContains(t, err, "sequence 2")
	_, err = e.Prefill(0, nil)
	require.Error(t, err)
	_, err = e.Prefill(0, []int32{1, 2, 13})
	require.ErrorContains(t, err, "position 2")
	_, err = e.Prefill(0, []int32{-3})
	require.ErrorContains(t, err, "position 0")
	require.Equal(t, 0, e.Len(0), "a rejected prefill must not touch the cache")

	_, err = e.Prefill(0, make([]int32, T+1))
	require.ErrorIs(t, err, ErrSequenceFull)
	_, err = e.Prefill(0, make([]int32, T))
	require.NoError(t, err)
	_, err = e.Prefill(0, []int32{1})
	require.ErrorIs(t, err, ErrSequenceFull)
	_, err = e.Step([]int32{1, 1})
	require.ErrorIs(t, err, ErrSequenceFull)
	_, err = e.Step([]int32{NoToken, 1})
	require.NoError(t, err)
	_, err = e.Step([]int32{1})
	require.ErrorContains(t, err, "want one per sequence")
	_, err = e.Step([]int32{NoToken, 13})
	require.ErrorContains(t, err, "sequence 1")

	require.NoError(t, e.ResetSequence(0))
	require.Equal(t, 0, e.Len(0))
	require.Equal(t, 1, e.Len(1))
	require.Error(t, e.ResetSequence(-1))
	e.Reset()
	require.Equal(t, 0, e.Len(1))

	// A model whose parameters do not match its config.
	bad := m.Clone()
	bad.Param("wpe").Data = bad.Param("wpe").Data[:3]
	_, err = NewEngine(bad, 1)
	require.ErrorContains(t, err, "wpe")
}

// The engine reads the model's weights in place: an update is seen without a new engine.
func TestEngineSeesWeightUpdates(t *testing.T) {
	m := newEngineTestModel(t, engineTestConfig(), 4)
	e, err := NewEngine(m, 1)
	require.NoError(t, err)
	prompt := []int32{1, 2, 3}
	before, err := e.Prefill(0, prompt)
	require.NoError(t, err)
	before = append([]float32(nil), before...)
	for i := range m.Param("ln_f.bias").Data {
		m.Param("ln_f.bias").Data[i] += 0.5
	}
	e.Reset()
	after, err := e.Prefill(0, prompt)
	require.NoError(t, err)
	require.NotEqual(t, before, after)
	row := graphLogits(t, m, [][]int32{append(prompt, make([]int32, m.Config.BlockSize-3)...)})
	V := m.Config.VocabSize
	requireRowsClose(t, row[2*V:3*V], after, "after update")
}

// A decode step of one sequence allocates nothing.
func TestEngineStepDoesNotAllocate(t *testing.T) {
	m, err := New(sampleBenchConfig, 1)
	require.NoError(t, err)
	e, err := NewEngine(m, 1)
	require.NoError(t, err)
	tok := []int32{7}
	allocs := testing.AllocsPerRun(200, func() {
		if e.Len(0) == m.Config.BlockSize {
			e.Reset()
		}
		if _, err := e.Step(tok); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs, "allocations per Step")
}

// BenchmarkEngineStep times the decode loop of chat.Batcher at the tinychat serving size (4
// layers × 128, 4 heads, block 96, vocab 384): batch sequences are prefilled with 16 tokens
// each, then stepped together 32 tokens; it reports the aggregate decode rate. Compare the
// batches, and the BLAS backends (TINYCHAT_BLAS=go or openblas), with
//
//	go test -run '^$' -bench EngineStep -count 3 ./model/
func BenchmarkEngineStep(b *testing.B) {
	cfg := Config{VocabSize: 384, BlockSize: 96, Layers: 4, Heads: 4, Width: 128}
	m, err := New(cfg, 1)
	require.NoError(b, err)
	for _, batch := range []int{1, 2, 4, 8, 16} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			e, err := NewEngine(m, batch)
			require.NoError(b, err)
			rng := rand.New(rand.NewPCG(1, 2))
			prompt := randomTokens(rng, 16, cfg.VocabSize)
			step := make([]int32, batch)
			const steps = 32
			for b.Loop() {
				e.Reset()
				for s := range batch {
					_, err := e.Prefill(s, prompt)
					require.NoError(b, err)
				}
				for i := range steps {
					for s := range step {
						step[s] = int32((i*7 + s*13) % cfg.VocabSize)
					}
					_, err := e.Step(step)
					require.NoError(b, err)
				}
			}
			b.ReportMetric(float64(batch*steps*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
