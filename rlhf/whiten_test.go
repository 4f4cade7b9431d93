package rlhf

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/reward"
)

// groupStats returns the mean and standard deviation of the action-token advantages of the
// rollouts whose prompt is in group g.
func groupStats(ro []*rollout, groups []int, g int) (mean, std float64) {
	var xs []float64
	for _, x := range ro {
		if groups[x.prompt] == g {
			for _, p := range x.act {
				xs = append(xs, float64(x.adv[p]))
			}
		}
	}
	for _, v := range xs {
		mean += v
	}
	mean /= float64(len(xs))
	for _, v := range xs {
		std += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(std / float64(len(xs)))
}

// TestWhitenGroups: advantages of two sources on scales 100 apart. Whitened over the batch,
// the small-scale group's advantages stay about 0.01 of the other's; whitened per group
// (PPOConfig.AdvantageGroups), each group has mean 0 and standard deviation 1. Tokens that
// are not actions keep their advantage.
func TestWhitenGroups(t *testing.T) {
	build := func() []*rollout {
		var ro []*rollout
		for i := range 8 {
			x := &rollout{prompt: i % 4, act: []int{1, 2, 4}, adv: make([]float32, 6)}
			scale := float32(1)
			if x.prompt < 2 {
				scale = 100
			}
			for k, p := range x.act {
				x.adv[p] = scale * float32((i+1)*(k+2)%7-3)
			}
			x.adv[5] = 42 // not an action
			ro = append(ro, x)
		}
		return ro
	}
	groups := []int{0, 0, 1, 1} // prompts 0 and 1 (scale 100), 2 and 3 (scale 1)

	ro := build()
	whitenGroups(ro, nil)
	_, stdBig := groupStats(ro, groups, 0)
	_, stdSmall := groupStats(ro, groups, 1)
	require.Less(t, stdSmall, stdBig/50, "one group for the batch: the small scale hardly counts")

	ro = build()
	whitenGroups(ro, groups)
	for g := range 2 {
		mean, std := groupStats(ro, groups, g)
		require.InDelta(t, 0, mean, 1e-6, "group %d", g)
		require.InDelta(t, 1, std, 1e-5, "group %d", g)
	}
	for _, x := range ro {
		require.Equal(t, float32(42), x.adv[5])
	}
}

// TestRolloutsKnowTheirPrompt: every rollout's sequence starts with its prompt's tokens, the
// prompt it names (which AdvantageGroups reads); PPO refuses groups that are not one per
// prompt.
func TestRolloutsKnowTheirPrompt(t *testing.T) {
	words := testutil.Words(40, 3)
	sftPath := testutil.FineTuned(t, words, 40)
	ck, err := model.LoadStage(sftPath, model.StageSFT)
	require.NoError(t, err)
	prompts := make([][]data.Message, len(words))
	for i, w := range words {
		prompts[i] = testutil.RepeatPrompt(w)
	}
	scorer := ScorerFunc(func(_ context.Context, seqs [][]int32) ([]float32, error) { return make([]float32, len(seqs)), nil })
	ps, err := newPolicySampler(ck, scorer, prompts, samplerConfig{minibatch: 4, rollouts: 8, maxReply: 6, seed: 3})
	require.NoError(t, err)
	ro, err := ps.rollout(context.Background(), 4, 2, 6, 1)
	require.NoError(t, err)
	require.Len(t, ro, 8)
	seen := map[int]bool{}
	for _, x := range ro {
		want, err := data.RenderPrompt(ck.Tokenizer, prompts[x.prompt])
		require.NoError(t, err)
		require.True(t, slices.Equal(want, x.seq[:len(want)]), "rollout of prompt %d: %v", x.prompt, x.seq)
		seen[x.prompt] = true
	}
	require.Greater(t, len(seen), 1)

	value, err := reward.NewModel(ck.Model, 9)
	require.NoError(t, err)
	cfg := DefaultPPOConfig()
	cfg.Steps, cfg.Batch, cfg.MaxReplyTokens, cfg.Out = 1, 8, 6, filepath.Join(t.TempDir(), "ppo.safetensors")
	cfg.AdvantageGroups = []int{0, 1}
	_, err = PPO(context.Background(), cfg, ck, value, scorer, "zero", prompts)
	require.ErrorContains(t, err, "AdvantageGroups has 2 groups for 40 prompts")
	cfg.AdvantageGroups = make([]int, len(prompts))
	for i := range cfg.AdvantageGroups {
		cfg.AdvantageGroups[i] = i % 3
	}
	res, err := PPO(context.Background(), cfg, ck, value, scorer, "zero", prompts)
	require.NoError(t, err)
	require.Equal(t, 1, res.Steps)
}
