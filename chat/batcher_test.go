package chat

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/model"
)

// batcherModel is a random model whose logits are far from uniform (larger weights than
// model.New's), so that sampling with different streams or positions gives different tokens.
func batcherModel(t testing.TB) *model.Model {
	return peakedModel(t, model.Config{VocabSize: 17, BlockSize: 12, Layers: 2, Heads: 2, Width: 16})
}

// peakedModel is a random model of cfg with larger weights than model.New's, so that its
// logits are far from uniform.
func peakedModel(t testing.TB, cfg model.Config) *model.Model {
	t.Helper()
	m, err := model.New(cfg, 3)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, p := range m.Params {
		for i := range p.Data {
			p.Data[i] += float32(rng.NormFloat64() * 0.3)
		}
	}
	return m
}

func batcherPrompts(n int, seed uint64) [][]int32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([][]int32, n)
	for i := range out {
		p := make([]int32, 1+rng.IntN(10))
		for j := range p {
			p[j] = int32(rng.IntN(17))
		}
		out[i] = p
	}
	return out
}

// TestBatcherMatchesGenerateBatch: a request alone in the batcher gets exactly what an engine
// of batch 1 generates, past the block size (window slides) and with several samples and
// prompts; with 8 concurrent requests every one still gets its own samples (equal up to the
// round-off of batched rows, which this model's margins absorb: compared exactly, and the
// tokens past a divergence would differ wholesale).
func TestBatcherMatchesGenerateBatch(t *testing.T) {
	m := batcherModel(t)
	ref, err := model.NewEngine(m, 1)
	require.NoError(t, err)
	ctx := context.Background()
	cfgs := []model.SampleConfig{
		{MaxNewTokens: 30, Temperature: 1, Seed: 5},                                     // slides past block 12
		{MaxNewTokens: 9, Temperature: 0.7, TopK: 5, TopP: 0.9, Seed: 9, NumSamples: 3}, // several samples
		{MaxNewTokens: 20, StopTokens: []int32{3, 4}},                                   // greedy, stops
	}
	prompts := batcherPrompts(3, 7)
	want := make([][]model.Sample, len(cfgs))
	for i, sc := range cfgs {
		want[i], err = ref.GenerateBatch(ctx, prompts, sc)
		require.NoError(t, err)
	}

	for _, maxBatch := range []int{1, 3, 8} {
		b, err := NewBatcher(m, BatcherConfig{MaxBatch: maxBatch})
		require.NoError(t, err)
		for i, sc := range cfgs {
			got, err := b.Generate(ctx, prompts, sc)
			require.NoError(t, err)
			assert.Equal(t, want[i], got, "batch %d, config %d alone", maxBatch, i)
		}
		// Concurrent requests: each its own prompt and seed.
		var wg sync.WaitGroup
		results := make([][]model.Sample, 8)
		singles := make([][]model.Sample, 8)
		ps := batcherPrompts(8, 11)
		for i := range 8 {
			sc := model.SampleConfig{MaxNewTokens: 10 + i, Temperature: 1, Seed: uint64(i)}
			singles[i], err = ref.Generate(ctx, ps[i], sc)
			require.NoError(t, err)
			wg.Go(func() {
				r, err := b.Generate(ctx, [][]int32{ps[i]}, sc)
				assert.NoError(t, err)
				results[i] = r
			})
		}
		wg.Wait()
		assert.Equal(t, singles, results, "batch %d, concurrent", maxBatch)
		b.Close()
		_, err = b.Generate(ctx, prompts, cfgs[0])
		assert.ErrorIs(t, err, ErrClosed)
	}
}

// TestBatcherOnTokenAndCancel: OnToken sees every token in order and can end a sequence;
// cancelling the context ends a request early with the tokens so far.
func TestBatcherOnTokenAndCancel(t *testing.T) {
	m := batcherModel(t)
	b, err := NewBatcher(m, BatcherConfig{MaxBatch: 2})
	require.NoError(t, err)
	defer b.Close()
	var seen []int32
	got, err := b.Generate(context.Background(), [][]int32{{1, 2}}, model.SampleConfig{
		MaxNewTokens: 10, Temperature: 1,
		OnToken: func(seq int, tok int32) bool { seen = append(seen, tok); return len(seen) < 4 },
	})
	require.NoError(t, err)
	assert.Equal(t, seen, got[0].Tokens)
	assert.Len(t, seen, 4)

	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	got, err = b.Generate(ctx, [][]int32{{1, 2}}, model.SampleConfig{
		MaxNewTokens: 1000, Temperature: 1,
		OnToken: func(int, int32) bool {
			if n++; n == 5 {
				cancel()
			}
			return true
		},
	})
	assert.ErrorIs(t, err, context.Canceled)
	require.Len(t, got, 1)
	assert.Len(t, got[0].Tokens, 5)

	_, err = b.Generate(ctx, [][]int32{{1}}, model.SampleConfig{})
	assert.ErrorIs(t, err, context.Canceled)
}

// TestBatcherQueueFull: with one engine sequence and one waiting place, a third request is
// refused at once while the first two are held.
func TestBatcherQueueFull(t *testing.T) {
	m := batcherModel(t)
	b, err := NewBatcher(m, BatcherConfig{MaxBatch: 1, MaxQueue: 1})
	require.NoError(t, err)
	defer b.Close()
	started := make(chan struct{})
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var once sync.Once
		_, err := b.Generate(context.Background(), [][]int32{{1}}, model.SampleConfig{MaxNewTokens: 3, OnToken: func(int, int32) bool {
			once.Do(func() { close(started) })
			<-release // holds the batcher's goroutine: the next request stays queued
			return true
		}})
		assert.NoError(t, err)
	})
	<-started
	queued := make(chan error, 1)
	go func() {
		_, err := b.Generate(context.Background(), [][]int32{{2}}, model.SampleConfig{MaxNewTokens: 2})
		queued <- err
	}()
	// Wait until the second request is queued, then a third one is refused.
	for {
		if st := b.Stats(); st.Waiting == 1 {
			assert.Equal(t, 1, st.Active)
			break
		}
		select {
		case err := <-queued:
			t.Fatalf("the second request returned early: %v", err)
		default:
			runtime.Gosched()
		}
	}
	_, err = b.Generate(context.Background(), [][]int32{{3}}, model.SampleConfig{MaxNewTokens: 2})
	assert.ErrorIs(t, err, ErrQueueFull)
	close(release)
	wg.Wait()
	assert.NoError(t, <-queued)
	assert.Equal(t, BatcherStats{}, b.Stats())
}

func TestBatcherBadInput(t *testing.T) {
	m := batcherModel(t)
	_, err := NewBatcher(m, BatcherConfig{MaxBatch: -1})
	assert.ErrorContains(t, err, "MaxBatch")
	b, err := NewBatcher(m, BatcherConfig{})
	require.NoError(t, err)
	defer b.Close()
	assert.Equal(t, BatcherConfig{MaxBatch: 8, MaxQueue: 64}, b.Config())
	ctx := context.Background()
	for _, tc := range []struct {
		prompts [][]int32
		sc      model.SampleConfig
		want    string
	}{
		{[][]int32{{}}, model.SampleConfig{}, "prompt 0 is empty"},
		{[][]int32{{1, 17}}, model.SampleConfig{}, "outside the vocabulary"},
		{[][]int32{{1}}, model.SampleConfig{Temperature: -1}, "Temperature"},
		{[][]int32{{1}}, model.SampleConfig{StopTokens: []int32{99}}, "stop token"},
	} {
		_, err := b.Generate(ctx, tc.prompts, tc.sc)
		assert.ErrorContains(t, err, tc.want)
	}
	got, err := b.Generate(ctx, nil, model.SampleConfig{})
	assert.NoError(t, err)
	assert.Empty(t, got)
	assert.False(t, errors.Is(err, ErrQueueFull))
}

// BenchmarkBatcher generates for 8 concurrent requests (32 tokens each after a 24-token
// prompt) with a model of tinychat's size (4 layers × 128, vocab 384; block 96, the chats' rows),
// decoding them together (batch=8) or one after another (batch=1). tokens/s is the aggregate
// rate.
func BenchmarkBatcher(b *testing.B) {
	m, err := model.New(model.Config{VocabSize: 384, BlockSize: 96, Layers: 4, Heads: 4, Width: 128}, 1)
	require.NoError(b, err)
	prompts := make([][]int32, 8)
	for i := range prompts {
		prompts[i] = make([]int32, 24)
		for j := range prompts[i] {
			prompts[i][j] = int32(10 + (i*7+j*3)%300)
		}
	}
	for _, batch := range []int{1, 8} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			bt, err := NewBatcher(m, BatcherConfig{MaxBatch: batch})
			require.NoError(b, err)
			defer bt.Close()
			tokens := 0
			for b.Loop() {
				var wg sync.WaitGroup
				var mu sync.Mutex
				for i := range prompts {
					wg.Go(func() {
						out, err := bt.Generate(context.Background(), prompts[i:i+1], model.SampleConfig{MaxNewTokens: 32, Temperature: 1, Seed: uint64(i)})
						if err != nil {
							b.Error(err)
							return
						}
						mu.Lock()
						tokens += len(out[0].Tokens)
						mu.Unlock()
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
