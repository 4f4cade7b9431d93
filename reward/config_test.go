package reward_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/reward"
	"github.com/tinychat-go/tinychat/train"
)

// TestDefaultConfig pins the reward stage's documented defaults.
func TestDefaultConfig(t *testing.T) {
	c := reward.DefaultConfig()
	require.Equal(t, []any{0, 1, 16, 1e-4, 0.1, 0.05, 0.1, 0.99, 1.0, uint64(train.DefaultSeed)},
		[]any{c.Steps, c.Epochs, c.Batch, c.LR, c.MinLRRatio, c.WarmupRatio, c.WeightDecay, c.Beta2, c.Clip, c.Seed})
}
