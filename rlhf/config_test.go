package rlhf_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/rlhf"
	"github.com/tinychat-go/tinychat/train"
)

// TestDefaultConfigs pins the RL methods' documented defaults and shows that a zero config is
// refused with the field named (a zero means what it says, so zero Steps cannot run).
func TestDefaultConfigs(t *testing.T) {
	ppo := rlhf.DefaultPPOConfig()
	require.Equal(t, []any{50, 32, 1e-5, 1.0, 0, 0.0, 0.99, 1.0, uint64(train.DefaultSeed)},
		[]any{ppo.Steps, ppo.Batch, ppo.LR, ppo.MinLRRatio, ppo.Warmup(), ppo.WeightDecay, ppo.Beta2, ppo.Clip, ppo.Seed})
	require.Equal(t, []any{8, 2, 48, 1.0, 5e-5, 0.2, 0.2, 1.0, 0.95, 0.05, -1.0, 0.0},
		[]any{ppo.MiniBatch, ppo.Epochs, ppo.MaxReplyTokens, ppo.Temperature, ppo.ValueLR, ppo.ClipRange, ppo.ValueClip,
			ppo.Gamma, ppo.Lambda, ppo.KLCoef, ppo.TruncationPenalty, ppo.PretrainCoef})
	dpo := rlhf.DefaultDPOConfig()
	require.Equal(t, []any{0, 1, 8, 5e-5, 0.1, 0.0, 0.1}, []any{dpo.Steps, dpo.Epochs, dpo.Batch, dpo.LR, dpo.MinLRRatio, dpo.WeightDecay, dpo.Beta})
	grpo, rloo := rlhf.DefaultGRPOConfig(), rlhf.DefaultRLOOConfig()
	require.Equal(t, []any{rlhf.GRPO, 8, 8, 16, 1, 0.04, false}, []any{grpo.Method, grpo.Batch, grpo.Group, grpo.MiniBatch, grpo.Epochs, grpo.KLCoef, grpo.KLInReward})
	require.Equal(t, []any{rlhf.RLOO, 0.05, true}, []any{rloo.Method, rloo.KLCoef, rloo.KLInReward})

	_, ck, value, prompts := ppoSetup(t, testutil.Words(40, 3), 40)
	out := filepath.Join(t.TempDir(), "x.safetensors")
	_, err := rlhf.PPO(context.Background(), rlhf.PPOConfig{Config: train.Config{Out: out}}, ck, value, countScorer{}, "x", prompts)
	require.ErrorContains(t, err, "rlhf: invalid training config: Steps is 0, want > 0")
	_, err = rlhf.TrainGroup(context.Background(), rlhf.GroupConfig{Config: train.Config{Out: out}}, ck, countScorer{}, "x", prompts)
	require.ErrorContains(t, err, "rlhf: invalid training config: Steps is 0, want > 0")
	_, err = rlhf.TrainDPO(context.Background(), rlhf.DPOConfig{Config: train.Config{Out: out}}, ck, nil, nil)
	require.ErrorContains(t, err, "rlhf: invalid training config: Batch is 0, want > 0")
}
