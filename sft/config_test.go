package sft_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/sft"
	"github.com/tinychat-go/tinychat/train"
)

// TestDefaultConfig pins SFT's documented defaults; the zero config is refused naming the field.
func TestDefaultConfig(t *testing.T) {
	c := sft.DefaultConfig()
	require.Equal(t, []any{0, 1, 16, 1, 3e-4, 0.1, 0.05, 0.1, 0.9, 0.99, 1.0, 100, 0, 0.0, uint64(train.DefaultSeed)},
		[]any{c.Steps, c.Epochs, c.Batch, c.Accumulation, c.LR, c.MinLRRatio, c.WarmupRatio, c.WeightDecay, c.Beta1, c.Beta2, c.Clip,
			c.FormatPrompts, c.MaxReplyTokens, c.PretrainMix, c.Seed})
	base, err := model.LoadCheckpoint(testutil.Pretrained(t, testutil.Words(20, 1), 20))
	require.NoError(t, err)
	_, err = sft.Train(context.Background(), sft.Config{Config: train.Config{Out: filepath.Join(t.TempDir(), "x.safetensors")}}, base,
		sft.Data{Train: testutil.RepeatConversations(testutil.Words(20, 1))})
	require.ErrorContains(t, err, "sft: Epochs is 0 with Steps 0, want > 0")
}
