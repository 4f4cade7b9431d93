package rlhf_test

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/rlhf"
	"github.com/tinychat-go/tinychat/train"
)

// TestGroupAdvantagesByHand checks both baselines against hand calculations.
func TestGroupAdvantagesByHand(t *testing.T) {
	adv, err := rlhf.GroupAdvantages(rlhf.GRPO, []float64{1, 2, 3, 6}, 2)
	require.NoError(t, err)
	// Group {1, 2}: mean 1.5, sample std √0.5; group {3, 6}: mean 4.5, sample std √4.5.
	s1, s2 := math.Sqrt(0.5)+1e-4, math.Sqrt(4.5)+1e-4
	require.InDeltaSlice(t, []float64{-0.5 / s1, 0.5 / s1, -1.5 / s2, 1.5 / s2}, adv, 1e-12)

	adv, err = rlhf.GroupAdvantages(rlhf.RLOO, []float64{1, 2, 6, 0, 0, 3}, 3)
	require.NoError(t, err)
	// 1 − (2+6)/2, 2 − (1+6)/2, 6 − (1+2)/2; 0 − (0+3)/2, 0 − (0+3)/2, 3 − 0.
	require.InDeltaSlice(t, []float64{-3, -1.5, 4.5, -1.5, -1.5, 3}, adv, 1e-12)

	adv, err = rlhf.GroupAdvantages(rlhf.GRPO, []float64{2, 2, 2}, 3)
	require.NoError(t, err)
	require.Equal(t, []float64{0, 0, 0}, adv, "equal rewards carry no signal")

	_, err = rlhf.GroupAdvantages(rlhf.RLOO, []float64{1, 2, 3}, 2)
	require.ErrorContains(t, err, "3 rewards do not split into groups of 2")
	_, err = rlhf.GroupAdvantages("ppo", []float64{1, 2}, 2)
	require.ErrorContains(t, err, `unknown group method "ppo"`)
}

// TestGroupPolicyLossGradient compares the loss's gradient (surrogate and k3 term) with
// central finite differences, at ratios inside and outside the clip range.
func TestGroupPolicyLossGradient(t *testing.T) {
	logp := []float32{-1.0, -0.5, -2.0, -0.7, -1.5}
	old := []float32{-1.1, -0.5, -1.0, -0.6, -1.5}
	ref := []float32{-0.8, -0.9, -1.7, -0.7, -3.0}
	adv := []float32{1.5, -0.5, 0.7, -2, 3}
	mask := []float32{1, 1, 1, 1, 0}
	grad := make([]float32, len(logp))
	loss, _, k3 := rlhf.GroupPolicyLoss(logp, old, ref, adv, mask, 0.2, 0.1, grad)
	require.Greater(t, k3, 0.0)
	require.False(t, math.IsNaN(loss))
	scratch := make([]float32, len(logp))
	for i := range logp {
		if mask[i] == 0 {
			require.Zero(t, grad[i], "masked token %d has no gradient", i)
			continue
		}
		// Step on the float64 derivative of a float32 input: h large enough for float32.
		h := float32(1e-3)
		x := append([]float32(nil), logp...)
		x[i] += h
		lp, _, _ := rlhf.GroupPolicyLoss(x, old, ref, adv, mask, 0.2, 0.1, scratch)
		x[i] -= 2 * h
		lm, _, _ := rlhf.GroupPolicyLoss(x, old, ref, adv, mask, 0.2, 0.1, scratch)
		num := (lp - lm) / float64(2*h)
		require.InDelta(t, num, float64(grad[i]), 2e-3, "token %d", i)
	}
}

// TestGroupMethodsRaiseKnownReward: with a program reward that counts the letter 'a' in the
// reply (RL from a verifiable reward), GRPO and RLOO both raise the mean score within 20
// iterations of 4 prompts × 4 replies (measured: GRPO 0.47 → 1.14, RLOO 0.49 → 0.95), keep the KL to the starting model bounded, and write rlhf checkpoints naming
// their method.
func TestGroupMethodsRaiseKnownReward(t *testing.T) {
	_, ck, _, prompts := ppoSetup(t, testutil.Words(120, 3), 150)
	ids, err := ck.Tokenizer.Encode("a")
	require.NoError(t, err)
	scorer := rlhf.ScorerFunc(countScorer{tok: int32(ids[0])}.ScoreTokens)
	for _, cfg := range []rlhf.GroupConfig{rlhf.DefaultGRPOConfig(), rlhf.DefaultRLOOConfig()} {
		t.Run(string(cfg.Method), func(t *testing.T) {
			cfg.Steps, cfg.Batch, cfg.Group, cfg.MiniBatch, cfg.MaxReplyTokens, cfg.LR, cfg.Seed = 20, 4, 4, 16, 8, 2e-4, 4
			cfg.Out = filepath.Join(t.TempDir(), "rl.safetensors")
			_, err := rlhf.TrainGroup(context.Background(), cfg, ck, scorer, "count a", prompts)
			require.NoError(t, err)
			h, err := train.ReadMetrics(train.MetricsPath(cfg.Out))
			require.NoError(t, err)
			require.Len(t, h, 20)
			mean := func(lines []map[string]float64, k string) float64 {
				var s float64
				for _, m := range lines {
					s += m[k]
				}
				return s / float64(len(lines))
			}
			first, last := mean(h[:5], "score"), mean(h[15:], "score")
			t.Logf("%s: score %.2f -> %.2f, kl %.2f", cfg.Method, first, last, mean(h[15:], "kl"))
			// Each mean is over 80 replies whose scores have a standard deviation near 0.8, so
			// the difference of two means has a standard error near 0.13: 0.3 is over 2 of them.
			require.Greater(t, last, first+0.3, "%s must raise the known reward", cfg.Method)
			require.Less(t, mean(h[15:], "kl"), 12.0)
			got, err := model.LoadStage(cfg.Out, model.StageRLHF)
			require.NoError(t, err)
			require.Equal(t, string(cfg.Method), got.Extra["rlhf.method"])
		})
	}
	bad := rlhf.DefaultRLOOConfig()
	bad.Epochs, bad.Out = 2, filepath.Join(t.TempDir(), "x.safetensors")
	_, err = rlhf.TrainGroup(context.Background(), bad, ck, scorer, "x", prompts)
	require.ErrorContains(t, err, "rlhf: Epochs is 2, want > 0 (1 for RLOO")
	bad = rlhf.DefaultGRPOConfig()
	bad.Group, bad.Out = 1, filepath.Join(t.TempDir(), "x.safetensors")
	_, err = rlhf.TrainGroup(context.Background(), bad, ck, scorer, "x", prompts)
	require.ErrorContains(t, err, "rlhf: Group is 1, want ≥ 2")
}

// TestGRPOResumeIsBitIdentical: GRPO cancelled in its third iteration resumes from its
// checkpoint to the same policy and metrics as an uninterrupted run.
func TestGRPOResumeIsBitIdentical(t *testing.T) {
	_, ck, _, prompts := ppoSetup(t, testutil.Words(40, 3), 40)
	ids, err := ck.Tokenizer.Encode("a")
	require.NoError(t, err)
	base := countScorer{tok: int32(ids[0])}
	dir := t.TempDir()
	cfg := rlhf.DefaultGRPOConfig()
	cfg.Steps, cfg.Batch, cfg.Group, cfg.MiniBatch, cfg.Epochs, cfg.MaxReplyTokens, cfg.LR = 5, 2, 4, 4, 2, 6, 2e-4
	cfg.Out = filepath.Join(dir, "straight.safetensors")
	_, err = rlhf.TrainGroup(context.Background(), cfg, ck, base, "toy", prompts)
	require.NoError(t, err)
	straight := cfg.Out

	cfg.Out = filepath.Join(dir, "resumed.safetensors")
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err = rlhf.TrainGroup(ctx, cfg, ck, cancelScorer{base, &calls, 3, cancel}, "toy", prompts)
	require.ErrorIs(t, err, context.Canceled)
	res, err := rlhf.TrainGroup(context.Background(), cfg, ck, base, "toy", prompts)
	require.NoError(t, err)
	require.Equal(t, 3, res.Resumed)
	testutil.SameRun(t, straight, cfg.Out)
}

// GRPO and RLOO with the pretraining mix (PretrainCoef): with a reward that is the same for
// every reply the advantages are 0, so the mix is what moves the policy, and its next-token
// loss on the stream must fall; the run logs it every iteration and resumes bit-identically
// (the mix's window generator is part of the saved state); bad settings are refused.
func TestGroupWithPretrainingMix(t *testing.T) {
	words := testutil.Words(40, 3)
	_, ck, _, prompts := ppoSetup(t, words, 40)
	stream, err := ck.Tokenizer.Encode(strings.Repeat(words[3]+" "+words[1]+" "+words[4]+" ", 40))
	require.NoError(t, err)
	flat := rlhf.ScorerFunc(func(_ context.Context, seqs [][]int32) ([]float32, error) { return make([]float32, len(seqs)), nil })
	for _, cfg := range []rlhf.GroupConfig{rlhf.DefaultGRPOConfig(), rlhf.DefaultRLOOConfig()} {
		t.Run(string(cfg.Method), func(t *testing.T) {
			cfg.Steps, cfg.Batch, cfg.Group, cfg.MiniBatch, cfg.MaxReplyTokens, cfg.LR, cfg.Seed = 6, 2, 4, 8, 6, 1e-3, 4
			cfg.PretrainCoef, cfg.Pretrain = 1, stream
			cfg.Out = filepath.Join(t.TempDir(), "straight.safetensors")
			_, err := rlhf.TrainGroup(context.Background(), cfg, ck, flat, "flat", prompts)
			require.NoError(t, err)
			h, err := train.ReadMetrics(train.MetricsPath(cfg.Out))
			require.NoError(t, err)
			require.Len(t, h, 6)
			for _, line := range h {
				require.Contains(t, line, "ptx_loss")
			}
			t.Logf("ptx loss %.3f -> %.3f", h[0]["ptx_loss"], h[5]["ptx_loss"])
			require.Less(t, h[5]["ptx_loss"], 0.8*h[0]["ptx_loss"], "the mix must teach the stream")
			straight := cfg.Out

			cfg.Out = filepath.Join(t.TempDir(), "resumed.safetensors")
			ctx, cancel := context.WithCancel(context.Background())
			calls := 0
			stop := rlhf.ScorerFunc(func(ctx context.Context, seqs [][]int32) ([]float32, error) {
				if calls++; calls == 4 {
					cancel()
				}
				return flat(ctx, seqs)
			})
			_, err = rlhf.TrainGroup(ctx, cfg, ck, stop, "flat", prompts)
			require.ErrorIs(t, err, context.Canceled)
			res, err := rlhf.TrainGroup(context.Background(), cfg, ck, flat, "flat", prompts)
			require.NoError(t, err)
			require.Equal(t, 4, res.Resumed, "the iteration cancelled in its scoring ends, and is saved")
			testutil.SameRun(t, straight, cfg.Out)

			bad := cfg
			bad.Pretrain, bad.Out = stream[:5], filepath.Join(t.TempDir(), "x.safetensors")
			_, err = rlhf.TrainGroup(context.Background(), bad, ck, flat, "flat", prompts)
			require.ErrorContains(t, err, "rlhf: PretrainCoef needs a Pretrain token stream longer than the rows (40 tokens), got 5")
			bad.PretrainCoef = -1
			_, err = rlhf.TrainGroup(context.Background(), bad, ck, flat, "flat", prompts)
			require.ErrorContains(t, err, "rlhf: PretrainCoef is -1, want ≥ 0")
		})
	}
}
