package pretrain_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/pretrain"
	"github.com/tinychat-go/tinychat/train"
)

// TestPretrainLossFalls: a short run on a small repetitive corpus brings the validation loss
// well below its starting value (log of the vocabulary size) and writes a pretrain checkpoint.
func TestPretrainLossFalls(t *testing.T) {
	text := strings.Repeat("the cat sat on the mat. the dog sat on the log. ", 400)
	tok := tokenizer.NewChar(text)
	corpus, err := pretrain.NewCorpus([]data.Document{{Source: "t", Text: text}}, tok, 0.1)
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "p.safetensors")
	cfg := pretrain.DefaultConfig()
	cfg.Model = model.Config{Layers: 1, Heads: 2, Width: 32, BlockSize: 32}
	cfg.Batch, cfg.Steps, cfg.LR, cfg.WarmupSteps, cfg.EvalInterval, cfg.EvalIters, cfg.Out = 8, 80, 3e-3, 5, 40, 5, out
	res, err := pretrain.Train(context.Background(), cfg, corpus)
	require.NoError(t, err)
	lines, err := train.ReadMetrics(train.MetricsPath(out))
	require.NoError(t, err)
	var vals []float64
	for _, l := range lines {
		if v, ok := l["val_loss"]; ok {
			vals = append(vals, v)
		}
	}
	require.Len(t, vals, 2)
	require.Less(t, res.Metrics["val_loss"], 1.0, "initial loss is about log(vocab) = 2.8")
	require.LessOrEqual(t, vals[1], vals[0])
	ck, err := model.LoadStage(out, model.StagePretrain)
	require.NoError(t, err)
	require.Equal(t, 80, ck.Step)

	require.Equal(t, model.StagePretrain, res.Checkpoint.Stage)
	// The memory estimate of the training and evaluation graphs is reported.
	gc := model.GraphConfig{Batch: 8, Block: 32, Train: true}
	wantMB := float64(model.EstimateGraphMemory(res.Checkpoint.Model.Config, gc)+
		model.EstimateGraphMemory(res.Checkpoint.Model.Config, model.GraphConfig{Batch: 8, Block: 32})) / (1 << 20)
	require.InDelta(t, wantMB, res.Metrics["memory_estimate_mb"], 1e-9)
	fp, err := res.Checkpoint.Fingerprint()
	require.NoError(t, err)
	fpFile, err := ck.Fingerprint()
	require.NoError(t, err)
	require.Equal(t, fpFile, fp, "the in-memory checkpoint is the one written")

	bad := cfg
	bad.Model.VocabSize = 3
	_, err = pretrain.Train(context.Background(), bad, corpus)
	require.EqualError(t, err, fmt.Sprintf("pretrain: Model.VocabSize is 3 but the tokenizer has %d tokens", tok.VocabSize()))
}

// TestDefaultConfig pins the documented defaults, and shows that the schedule follows the
// steps and the learning rate asked for (a short run reaches its peak; a small LR never rises).
func TestDefaultConfig(t *testing.T) {
	cfg := pretrain.DefaultConfig()
	require.Equal(t, 2000, cfg.Steps)
	require.Equal(t, 12, cfg.Batch)
	require.Equal(t, 1e-3, cfg.LR)
	require.Equal(t, 100, cfg.Warmup())
	require.InDelta(t, 1e-4, cfg.MinLR(), 1e-15)
	require.Equal(t, 0.99, cfg.Beta2)
	require.Equal(t, uint64(train.DefaultSeed), cfg.Seed)
	require.Equal(t, model.Config{Layers: 4, Heads: 4, Width: 128, BlockSize: 64}, cfg.Model)
	cfg.Steps, cfg.LR = 60, 1e-5
	require.Equal(t, 3, cfg.Warmup(), "warm-up follows Steps")
	require.InDelta(t, 1e-6, cfg.MinLR(), 1e-18, "the floor follows LR")

	// The zero config is refused with the field named.
	_, err := pretrain.Train(context.Background(), pretrain.Config{}, &pretrain.Corpus{Tokenizer: tokenizer.NewChar("ab")})
	require.ErrorContains(t, err, "pretrain: invalid training config: Steps is 0, want > 0")
}

// TestRecomputeGivesTheSameModel: pretraining with the training graph recomputing its blocks'
// activations (train.Config.Recompute) writes the same weights, to the bit, with dropout on,
// and reports a smaller memory estimate.
func TestRecomputeGivesTheSameModel(t *testing.T) {
	text := strings.Repeat("the cat sat on the mat. the dog sat on the log. ", 200)
	tok := tokenizer.NewChar(text)
	corpus, err := pretrain.NewCorpus([]data.Document{{Source: "t", Text: text}}, tok, 0.1)
	require.NoError(t, err)
	run := func(recompute bool) *train.Result {
		cfg := pretrain.DefaultConfig()
		cfg.Model = model.Config{Layers: 3, Heads: 2, Width: 16, BlockSize: 16, Dropout: 0.1}
		cfg.Batch, cfg.Steps, cfg.EvalInterval, cfg.EvalIters = 4, 12, 0, 2
		cfg.Out, cfg.Recompute = filepath.Join(t.TempDir(), "p.safetensors"), recompute
		res, err := pretrain.Train(context.Background(), cfg, corpus)
		require.NoError(t, err)
		return res
	}
	kept, recomputed := run(false), run(true)
	a, err := kept.Checkpoint.Fingerprint()
	require.NoError(t, err)
	b, err := recomputed.Checkpoint.Fingerprint()
	require.NoError(t, err)
	require.Equal(t, a, b, "the same weights")
	require.Less(t, recomputed.Metrics["memory_estimate_mb"], kept.Metrics["memory_estimate_mb"])
}
