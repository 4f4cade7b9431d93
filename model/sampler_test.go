package model

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampleBenchConfig is nanoGPT's shakespeare-char shape.
var sampleBenchConfig = Config{VocabSize: 65, BlockSize: 64, Layers: 4, Heads: 4, Width: 128}

func newSampleTestEngine(t testing.TB, batch int) *Engine {
	t.Helper()
	e, err := NewEngine(newEngineTestModel(t, engineTestConfig(), 21), batch)
	require.NoError(t, err)
	return e
}

func generate1(t *testing.T, e *Engine, prompt []int32, cfg SampleConfig) Sample {
	t.Helper()
	out, err := e.Generate(context.Background(), prompt, cfg)
	require.NoError(t, err)
	require.Len(t, out, 1)
	return out[0]
}

func TestGenerateGreedyIsArgmax(t *testing.T) {
	e := newSampleTestEngine(t, 1)
	prompt := []int32{3, 1, 4}
	n := e.cfg.BlockSize - len(prompt)
	a := generate1(t, e, prompt, SampleConfig{MaxNewTokens: n})
	b := generate1(t, e, prompt, SampleConfig{MaxNewTokens: n, Seed: 99})
	require.Len(t, a.Tokens, n)
	require.Equal(t, a, b, "greedy decoding depends on nothing but the prompt")
	require.False(t, a.Stopped)
	require.Nil(t, a.LogProbs)

	// Replay with a fresh engine: every token is the argmaxLogits of the logits before it.
	r, err := NewEngine(e.m, 1)
	require.NoError(t, err)
	lg, err := r.Prefill(0, prompt)
	require.NoError(t, err)
	for i, tok := range a.Tokens {
		require.Equal(t, argmaxLogits(lg), tok, "token %d", i)
		lg = mustStep(t, r, tok)
	}
}

func mustStep(t *testing.T, e *Engine, tok int32) []float32 {
	t.Helper()
	lg, err := e.Step([]int32{tok})
	require.NoError(t, err)
	return lg
}

func TestGenerateSeededSampling(t *testing.T) {
	e := newSampleTestEngine(t, 1)
	prompt := []int32{2, 7}
	cfg := SampleConfig{Temperature: 1.5, Seed: 42, NumSamples: 5, MaxNewTokens: 20}
	a, err := e.Generate(context.Background(), prompt, cfg)
	require.NoError(t, err)
	b, err := e.Generate(context.Background(), prompt, cfg)
	require.NoError(t, err)
	require.Equal(t, a, b, "same seed, same samples")
	require.Len(t, a, 5)
	require.NotEqual(t, a[0].Tokens, a[1].Tokens, "each sample has its own stream")

	cfg.Seed = 43
	c, err := e.Generate(context.Background(), prompt, cfg)
	require.NoError(t, err)
	require.NotEqual(t, a, c, "another seed, other samples")

	// The samples do not depend on how many sequences the engine decodes together.
	cfg.Seed = 42
	for _, batch := range []int{2, 3, 8} {
		wide := newSampleTestEngine(t, batch)
		w, err := wide.Generate(context.Background(), prompt, cfg)
		require.NoError(t, err)
		require.Equal(t, a, w, "engine batch %d", batch)
	}
}

func TestGenerateTopKAndTopPDegenerateToGreedy(t *testing.T) {
	e := newSampleTestEngine(t, 2)
	prompt := []int32{5}
	greedy := generate1(t, e, prompt, SampleConfig{MaxNewTokens: 7})
	for seed := range uint64(5) {
		k1 := generate1(t, e, prompt, SampleConfig{MaxNewTokens: 7, Temperature: 1, TopK: 1, Seed: seed})
		require.Equal(t, greedy.Tokens, k1.Tokens, "top-k 1, seed %d", seed)
		p0 := generate1(t, e, prompt, SampleConfig{MaxNewTokens: 7, Temperature: 1, TopP: 1e-9, Seed: seed})
		require.Equal(t, greedy.Tokens, p0.Tokens, "tiny top-p, seed %d", seed)
	}
}

// softmaxRef is softmax(logits/temp) in float64.
func softmaxRef(logits []float32, temp float64) []float64 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	p := make([]float64, len(logits))
	var s float64
	for i, v := range logits {
		p[i] = math.Exp((float64(v) - mx) / temp)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

// checkFrequencies draws n tokens and compares their frequencies with want, allowing six
// standard deviations (the test then fails by chance about once in 10⁸ runs per token).
func checkFrequencies(t *testing.T, logits []float32, temp float64, topK int, topP float64, want []float64) {
	t.Helper()
	const n = 200_000
	ts := newTokenSampler(len(logits))
	var rng rand.PCG
	rng.Seed(7, 8)
	counts := make([]int, len(logits))
	for range n {
		counts[ts.sample(logits, temp, topK, topP, &rng)]++
	}
	for i, p := range want {
		got := float64(counts[i]) / n
		tol := 6*math.Sqrt(p*(1-p)/n) + 1e-9
		assert.InDelta(t, p, got, tol, "token %d (temp %g, top-k %d, top-p %g)", i, temp, topK, topP)
	}
}

func TestSampleFrequencies(t *testing.T) {
	logits := []float32{1, 2.5, 0.5, -1, 2, 0.25}
	for _, temp := range []float64{1, 0.6, 2} {
		checkFrequencies(t, logits, temp, 0, 0, softmaxRef(logits, temp))
	}
	keep := func(p []float64, ids ...int) []float64 { // p restricted to ids, renormalised
		out := make([]float64, len(p))
		var s float64
		for _, i := range ids {
			s += p[i]
		}
		for _, i := range ids {
			out[i] = p[i] / s
		}
		return out
	}
	// At T=1 the probabilities are, by rank: token 1 0.476, 4 0.289, 0 0.106, 2 0.064, ...
	p := softmaxRef(logits, 1)
	checkFrequencies(t, logits, 1, 3, 0, keep(p, 1, 4, 0))
	checkFrequencies(t, logits, 0.5, 2, 0, keep(softmaxRef(logits, 0.5), 1, 4))
	// Cumulative 0.476, 0.765, 0.871: top-p 0.4 keeps one token, 0.7 two, 0.8 three.
	checkFrequencies(t, logits, 1, 0, 0.4, keep(p, 1))
	checkFrequencies(t, logits, 1, 0, 0.7, keep(p, 1, 4))
	checkFrequencies(t, logits, 1, 0, 0.8, keep(p, 1, 4, 0))
	// Right at the boundary: the smallest set with mass ≥ top-p.
	checkFrequencies(t, logits, 1, 0, p[1]+p[4]-1e-4, keep(p, 1, 4))
	checkFrequencies(t, logits, 1, 0, p[1]+p[4]+1e-4, keep(p, 1, 4, 0))
	// Top-p applies to the renormalised top-k distribution: after top-k 3 the first two hold
	// 0.878, enough for top-p 0.85, which alone would keep three tokens.
	checkFrequencies(t, logits, 1, 3, 0.85, keep(p, 1, 4))

	// Large logits: the softmax is taken from the row maximum.
	big := []float32{1000, 999, 998}
	checkFrequencies(t, big, 1, 0, 0, softmaxRef(big, 1))
	ts := newTokenSampler(3)
	var rng rand.PCG
	require.Equal(t, int32(0), ts.sample(big, 1e-300, 0, 0, &rng), "a vanishing temperature is argmaxLogits")
}

func TestSampleDoesNotAllocate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	logits := make([]float32, 65)
	for i := range logits {
		logits[i] = float32(rng.NormFloat64())
	}
	ts := newTokenSampler(len(logits))
	var pcg rand.PCG
	for _, c := range []struct {
		temp float64
		k    int
		p    float64
	}{{0, 0, 0}, {1, 0, 0}, {0.8, 10, 0}, {1, 0, 0.9}, {1, 20, 0.9}} {
		allocs := testing.AllocsPerRun(100, func() { ts.sample(logits, c.temp, c.k, c.p, &pcg) })
		require.Zero(t, allocs, "%+v", c)
	}
	require.Zero(t, testing.AllocsPerRun(100, func() { tokenLogProb(logits, 3) }))
}

// Generation allocates per call (the returned samples), never per token.
func TestGenerateDoesNotAllocatePerToken(t *testing.T) {
	m, err := New(sampleBenchConfig, 1)
	require.NoError(t, err)
	e, err := NewEngine(m, 1)
	require.NoError(t, err)
	ctx := context.Background()
	allocs := func(n int) float64 {
		cfg := SampleConfig{MaxNewTokens: n, Temperature: 1, TopK: 40, TopP: 0.95, ReturnLogProbs: true,
			OnToken: func(int, int32) bool { return true }}
		return testing.AllocsPerRun(5, func() {
			if _, err := e.Generate(ctx, []int32{1}, cfg); err != nil {
				t.Fatal(err)
			}
		})
	}
	require.Equal(t, allocs(5), allocs(60))
}

func TestGenerateLogProbsMatchGraph(t *testing.T) {
	e := newSampleTestEngine(t, 1)
	m, T := e.m, e.cfg.BlockSize
	prompt := []int32{4, 9}
	s := generate1(t, e, prompt, SampleConfig{MaxNewTokens: T - len(prompt), Temperature: 0.7, TopK: 5, Seed: 3, ReturnLogProbs: true})
	require.Len(t, s.LogProbs, len(s.Tokens))

	g, err := m.NewGraph(GraphConfig{Batch: 1, Block: T, Objective: LogProbs})
	require.NoError(t, err)
	seq := append(append([]int32(nil), prompt...), s.Tokens...)
	copy(g.Tokens, seq[:T])
	for i := range g.Targets {
		g.Targets[i] = -1
		if i+1 < len(seq) {
			g.Targets[i] = seq[i+1]
		}
	}
	require.NoError(t, g.Run())
	for i, lp := range s.LogProbs {
		assert.InDelta(t, g.Output[len(prompt)-1+i], lp, 1e-4, "token %d", i)
		assert.LessOrEqual(t, lp, float32(0))
	}
}

func TestGenerateStopsAndLimits(t *testing.T) {
	e := newSampleTestEngine(t, 1)
	prompt := []int32{1, 2}
	full := generate1(t, e, prompt, SampleConfig{})
	require.Len(t, full.Tokens, e.cfg.BlockSize, "MaxNewTokens 0 is the block size")

	five := generate1(t, e, prompt, SampleConfig{MaxNewTokens: 5})
	require.Equal(t, full.Tokens[:5], five.Tokens)

	stop := full.Tokens[3]
	first := 0
	for full.Tokens[first] != stop {
		first++
	}
	st := generate1(t, e, prompt, SampleConfig{StopTokens: []int32{12, stop}})
	require.Equal(t, full.Tokens[:first+1], st.Tokens, "stops after the first stop token, included")
	require.True(t, st.Stopped)

	// Streaming, and stopping early from the callback.
	var streamed []int32
	cb := generate1(t, e, prompt, SampleConfig{OnToken: func(seq int, tok int32) bool {
		require.Equal(t, 0, seq)
		streamed = append(streamed, tok)
		return len(streamed) < 4
	}})
	require.Equal(t, full.Tokens[:4], cb.Tokens)
	require.Equal(t, cb.Tokens, streamed)
	require.False(t, cb.Stopped)
}

// slidingReference generates greedily by recomputing every window from scratch with the rule
// Generate documents: a full window restarts with its last BlockSize−1 tokens.
func slidingReference(t *testing.T, m *Model, prompt []int32, n int) []int32 {
	T := m.Config.BlockSize
	ref, err := NewEngine(m, 1)
	require.NoError(t, err)
	win := append([]int32(nil), prompt...)
	if len(win) > T {
		win = win[len(win)-T:]
	}
	var out []int32
	for len(out) < n {
		ref.Reset()
		lg, err := ref.Prefill(0, win)
		require.NoError(t, err)
		tok := argmaxLogits(lg)
		out = append(out, tok)
		if len(win) == T {
			keep := max(T-1, 1) - 1 // then tok makes max(T-1, 1)
			win = append([]int32(nil), win[len(win)-keep:]...)
		}
		win = append(win, tok)
	}
	return out
}

func TestGenerateSlidesPastTheBlock(t *testing.T) {
	e := newSampleTestEngine(t, 1)
	T := e.cfg.BlockSize
	prompt := []int32{6, 2, 11}
	s := generate1(t, e, prompt, SampleConfig{MaxNewTokens: 4 * T})
	require.Len(t, s.Tokens, 4*T)
	require.Equal(t, slidingReference(t, e.m, prompt, 4*T), s.Tokens)

	// A prompt longer than the block is cropped to its last BlockSize tokens.
	long := make([]int32, 2*T+3)
	for i := range long {
		long[i] = int32(i % e.cfg.VocabSize)
	}
	a := generate1(t, e, long, SampleConfig{MaxNewTokens: 2 * T})
	b := generate1(t, e, long[len(long)-T:], SampleConfig{MaxNewTokens: 2 * T})
	require.Equal(t, a, b)
	require.Equal(t, slidingReference(t, e.m, long, 2*T), a.Tokens)

	// Degenerate blocks of one and two tokens.
	for _, block := range []int{1, 2} {
		cfg := engineTestConfig()
		cfg.BlockSize = block
		m := newEngineTestModel(t, cfg, 31)
		small, err := NewEngine(m, 2)
		require.NoError(t, err)
		out, err := small.Generate(context.Background(), prompt, SampleConfig{MaxNewTokens: 9, NumSamples: 2})
		require.NoError(t, err)
		want := slidingReference(t, m, prompt, 9)
		require.Equal(t, want, out[0].Tokens, "block %d", block)
		require.Equal(t, want, out[1].Tokens, "block %d", block)
	}
}

func TestGenerateBatch(t *testing.T) {
	solo := newSampleTestEngine(t, 1)
	prompts := [][]int32{{1}, {2, 3, 4}, {5, 5}, {12, 0, 7, 7, 1}, {9}}
	stops := []int32{4}
	// Greedy: every sample equals generating its prompt alone.
	for _, batch := range []int{1, 3, 4, 16} {
		e := newSampleTestEngine(t, batch)
		out, err := e.GenerateBatch(context.Background(), prompts, SampleConfig{NumSamples: 2, MaxNewTokens: 12, StopTokens: stops})
		require.NoError(t, err)
		require.Len(t, out, 2*len(prompts))
		for i, p := range prompts {
			want := generate1(t, solo, p, SampleConfig{MaxNewTokens: 12, StopTokens: stops})
			require.Equal(t, want, out[2*i], "batch %d prompt %d", batch, i)
			require.Equal(t, want, out[2*i+1], "batch %d prompt %d", batch, i)
		}
	}
	// Sampling with stop tokens, so sequences end at different times and freed sequences take
	// the next samples: the result is the same whatever the engine's batch.
	cfg := SampleConfig{NumSamples: 3, Temperature: 1, Seed: 5, StopTokens: []int32{0, 4}, ReturnLogProbs: true}
	var first []Sample
	for _, batch := range []int{1, 2, 5, 15} {
		e := newSampleTestEngine(t, batch)
		seen := make([]int, 3*len(prompts))
		cfg.OnToken = func(seq int, tok int32) bool { seen[seq]++; return true }
		out, err := e.GenerateBatch(context.Background(), prompts, cfg)
		require.NoError(t, err)
		for i, s := range out {
			require.Equal(t, len(s.Tokens), seen[i])
		}
		if first == nil {
			first = out
			continue
		}
		// Equal up to float32 round-off: stacked rows take another matrix-product path.
		for i, s := range out {
			require.Equal(t, first[i].Tokens, s.Tokens, "batch %d sample %d", batch, i)
			require.Equal(t, first[i].Stopped, s.Stopped, "batch %d sample %d", batch, i)
			require.InDeltaSlice(t, first[i].LogProbs, s.LogProbs, 1e-5, "batch %d sample %d", batch, i)
		}
	}
	stopped := 0
	for _, s := range first {
		if s.Stopped {
			stopped++
		}
	}
	require.Positive(t, stopped, "the test needs sequences that stop early")

	// The prompts split over two calls, the second starting its seed streams at FirstIndex,
	// sample what the one call did.
	cfg.OnToken = nil
	e := newSampleTestEngine(t, 2)
	head, err := e.GenerateBatch(context.Background(), prompts[:2], cfg)
	require.NoError(t, err)
	cfg.FirstIndex = 2 * 3
	tail, err := e.GenerateBatch(context.Background(), prompts[2:], cfg)
	require.NoError(t, err)
	for i, s := range append(head, tail...) {
		require.Equal(t, first[i].Tokens, s.Tokens, "split: sample %d", i)
		require.InDeltaSlice(t, first[i].LogProbs, s.LogProbs, 1e-5, "split: sample %d", i)
	}
	cfg.FirstIndex = -1
	_, err = e.GenerateBatch(context.Background(), prompts, cfg)
	require.ErrorContains(t, err, "FirstIndex must be >= 0, got -1")

	out, err := solo.GenerateBatch(context.Background(), nil, SampleConfig{})
	require.NoError(t, err)
	require.Empty(t, out)
}

func TestGenerateCancellation(t *testing.T) {
	e := newSampleTestEngine(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.Generate(ctx, []int32{1}, SampleConfig{})
	require.ErrorIs(t, err, context.Canceled)

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	n := 0
	out, err := e.Generate(ctx, []int32{1}, SampleConfig{MaxNewTokens: 100, NumSamples: 2, OnToken: func(int, int32) bool {
		if n++; n == 5 {
			cancel()
		}
		return true
	}})
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, out, 2)
	require.Less(t, len(out[0].Tokens), 100)
	require.Positive(t, len(out[0].Tokens))
}

func TestGenerateRejectsBadInput(t *testing.T) {
	e := newSampleTestEngine(t, 1)
	ctx := context.Background()
	_, err := e.Generate(ctx, nil, SampleConfig{})
	require.ErrorContains(t, err, "empty prompt")
	_, err = e.Generate(ctx, []int32{1, 2, 13}, SampleConfig{})
	require.ErrorContains(t, err, "position 2")
	_, err = e.GenerateBatch(ctx, [][]int32{{1}, {1, -1}}, SampleConfig{})
	require.ErrorContains(t, err, "prompt 1")
	require.ErrorContains(t, err, "position 1")
	for _, cfg := range []SampleConfig{
		{MaxNewTokens: -1},
		{Temperature: -1},
		{Temperature: math.NaN()},
		{Temperature: math.Inf(1)},
		{TopK: -2},
		{TopP: 1.5},
		{TopP: -0.1},
		{NumSamples: -1},
		{StopTokens: []int32{13}},
	} {
		_, err := e.Generate(ctx, []int32{1}, cfg)
		require.ErrorContains(t, err, "invalid sample config", "%+v", cfg)
	}
}

func newSampleBenchEngine(b *testing.B, batch int) *Engine {
	m, err := New(sampleBenchConfig, 1)
	if err != nil {
		b.Fatal(err)
	}
	e, err := NewEngine(m, batch)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// benchGenerate times Generate of newTokens tokens per sequence and reports tokens/s (all
// sequences together) and allocations per token.
func benchGenerate(b *testing.B, e *Engine, prompts [][]int32, cfg SampleConfig) {
	ctx := context.Background()
	tokens := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out, err := e.GenerateBatch(ctx, prompts, cfg)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range out {
			tokens += len(s.Tokens)
		}
	}
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkSample is batch-1 sampling at nanoGPT's shakespeare-char shape (4 layers, width 128,
// vocab 65): a one-token prompt and 63 tokens, all within the block, so every token is one
// KV-cache decode step. Run: go test -run XXX -bench Sample -count 5 ./model/
func BenchmarkSample(b *testing.B) {
	e := newSampleBenchEngine(b, 1)
	benchGenerate(b, e, [][]int32{{0}}, SampleConfig{MaxNewTokens: 63, Temperature: 1, Seed: 1})
}

// BenchmarkSampleSliding generates 4 blocks' worth of tokens in one sequence, so most tokens
// are past the block and every other one pays a re-prefill of the window.
func BenchmarkSampleSliding(b *testing.B) {
	e := newSampleBenchEngine(b, 1)
	benchGenerate(b, e, [][]int32{{0}}, SampleConfig{MaxNewTokens: 256, Temperature: 1, Seed: 1})
}

// BenchmarkSampleBatch8 decodes 8 sequences together (8 samples of one prompt).
func BenchmarkSampleBatch8(b *testing.B) {
	e := newSampleBenchEngine(b, 8)
	benchGenerate(b, e, [][]int32{{0}}, SampleConfig{MaxNewTokens: 63, Temperature: 1, Seed: 1, NumSamples: 8})
}
