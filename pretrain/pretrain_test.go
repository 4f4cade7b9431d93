package pretrain_test

import (
	"context"
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
	res, err := pretrain.Train(context.Background(), pretrain.Config{
		Model: model.Config{Layers: 1, Heads: 2, Width: 32, BlockSize: 32}, Batch: 8, Steps: 80,
		LR: 3e-3, Warmup: 5, EvalInterval: 40, EvalIters: 5, Out: out, Progress: train.ProgressQuiet,
	}, corpus)
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

	_, err = pretrain.Train(context.Background(), pretrain.Config{Model: model.Config{VocabSize: 3}, Out: out}, corpus)
	require.ErrorContains(t, err, "vocab size 3 differs from the tokenizer's")
}
