package rlhf_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/reward"
	"github.com/tinychat-go/tinychat/rlhf"
	"github.com/tinychat-go/tinychat/train"
)

// countScorer rewards replies for each occurrence of one token (the known reward of the toy
// task), capped at 4.
type countScorer struct{ tok int32 }

func (s countScorer) ScoreTokens(_ context.Context, seqs [][]int32) ([]float32, error) {
	out := make([]float32, len(seqs))
	for i, q := range seqs {
		start := 0
		for p, t := range q {
			if t == tokenizer.Assistant {
				start = p + 1
			}
		}
		n := 0
		for _, t := range q[start:] {
			if t == s.tok {
				n++
			}
		}
		out[i] = float32(min(n, 4))
	}
	return out, nil
}

// ppoSetup fine-tunes a tiny model on "repeat WORD" for steps and returns its path and
// checkpoint, a value model started from it, and one prompt per word.
func ppoSetup(t *testing.T, words []string, steps int) (string, *model.Checkpoint, *model.Model, [][]data.Message) {
	t.Helper()
	sftPath := testutil.FineTuned(t, words, steps)
	ck, err := model.LoadStage(sftPath, model.StageSFT)
	require.NoError(t, err)
	value, err := reward.NewModel(ck.Model, 9)
	require.NoError(t, err)
	prompts := make([][]data.Message, len(words))
	for i, w := range words {
		prompts[i] = testutil.RepeatPrompt(w)
	}
	return sftPath, ck, value, prompts
}

// TestPPORaisesKnownReward: with a scorer that counts the letter 'a' in the reply, PPO raises
// the mean score clearly within 30 iterations while the mean KL to the SFT model over the last
// five iterations stays below 12 nats per reply, and every iteration's below 16 (replies of at
// most 8 tokens).
func TestPPORaisesKnownReward(t *testing.T) {
	words := testutil.Words(120, 3)
	sftPath, ck, value, prompts := ppoSetup(t, words, 150)
	ids, err := ck.Tokenizer.Encode("a")
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "ppo.safetensors")
	res, err := rlhf.PPO(context.Background(), rlhf.PPOConfig{
		Iterations: 30, Prompts: 16, MiniBatch: 8, MaxReplyTokens: 8, LR: 2e-4, ValueLR: 1e-3,
		KLCoef: 0.1, Out: out, Progress: train.ProgressQuiet, Seed: 4,
	}, ck, sftPath, value, countScorer{tok: int32(ids[0])}, "toy", prompts)
	require.NoError(t, err)
	mean := func(h []map[string]float64, k string) float64 {
		var s float64
		for _, m := range h {
			s += m[k]
		}
		return s / float64(len(h))
	}
	first, last := mean(res.History[:5], "score"), mean(res.History[25:], "score")
	t.Logf("score %.2f -> %.2f, kl %.2f -> %.2f", first, last, mean(res.History[:5], "kl"), mean(res.History[25:], "kl"))
	require.Greater(t, last, first+1, "PPO must raise the known reward")
	// One iteration's KL is a mean over only 16 replies, so the per-iteration bound is looser
	// than the bound on the last five.
	require.Less(t, mean(res.History[25:], "kl"), 12.0, "KL to the SFT model per reply, last 5 iterations")
	for _, h := range res.History {
		require.Less(t, h["kl"], 16.0, "KL to the SFT model per reply")
		for _, k := range []string{"entropy", "clip_frac", "approx_kl", "value_loss", "reply_len", "ended_rate", "kl_coef"} {
			require.Contains(t, h, k)
		}
	}
	got, err := model.LoadStage(out, model.StageRLHF)
	require.NoError(t, err)
	require.Equal(t, "ppo", got.Extra["rlhf.method"])
}

// TestDPORaisesMargin: DPO on pairs where repeating the asked word beats another word raises
// the held-out margin (log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r)) from 0 (the policy
// starts as the reference) to over 2 nats, and ranks ≥ 65% of 160 held-out pairs right (40 words
// never seen in training, each against 4 others; it lands near 0.75).
func TestDPORaisesMargin(t *testing.T) {
	words := testutil.Words(200, 5)
	sftPath := testutil.FineTuned(t, words[:160], 60)
	// rank pairs each word with per rejected other words.
	rank := func(ws []string, seed uint64, per int) []data.Ranking {
		rng := rand.New(rand.NewPCG(seed, 2))
		var out []data.Ranking
		for i, w := range ws {
			for j := 0; j < per; j++ {
				other := words[rng.IntN(len(words))]
				for other == w {
					other = words[rng.IntN(len(words))]
				}
				out = append(out, data.Ranking{Source: fmt.Sprint("p", i, "-", j), Prompt: testutil.RepeatPrompt(w), Responses: []string{w, other}})
			}
		}
		return out
	}
	out := filepath.Join(t.TempDir(), "dpo.safetensors")
	res, err := rlhf.TrainDPO(context.Background(), rlhf.DPOConfig{
		Pairs: 8, Steps: 150, LR: 5e-4, EvalInterval: 75, Out: out, Progress: train.ProgressQuiet,
	}, sftPath, rank(words[:160], 1, 1), rank(words[160:], 2, 4)) // 160 held-out pairs: accuracy ±0.035
	require.NoError(t, err)
	t.Logf("metrics %v", res.Metrics)
	lines, err := train.ReadMetrics(train.MetricsPath(out))
	require.NoError(t, err)
	var margins []float64
	for _, l := range lines {
		if m, ok := l["reward_margin"]; ok {
			margins = append(margins, m)
		}
	}
	require.Len(t, margins, 2) // evaluations at steps 75 and 150
	require.Less(t, margins[0], margins[1], "the margin grows during training")
	require.Greater(t, res.Metrics["reward_margin"]/0.1, 2.0)       // implicit reward = β·margin, β = 0.1
	require.GreaterOrEqual(t, res.Metrics["reward_accuracy"], 0.65) // chance is 0.5; 0.65 is 3.8 standard errors above it
	_, err = rlhf.TrainDPO(context.Background(), rlhf.DPOConfig{Out: filepath.Join(t.TempDir(), "x.safetensors")}, out, rank(words[:10], 1, 1), nil)
	require.ErrorContains(t, err, "this needs a sft checkpoint")
}

// PPO-ptx runs end to end: with PretrainCoef every iteration logs the next-token loss on the
// pretraining stream (TestPretrainGradScalesTheLMGradient checks the gradient itself), and bad
// settings are refused.
func TestPPOWithPretrainingMix(t *testing.T) {
	words := testutil.Words(60, 3)
	sftPath, ck, value, prompts := ppoSetup(t, words, 60)
	ids, err := ck.Tokenizer.Encode(strings.Repeat(strings.Join(words, " ")+" ", 3))
	require.NoError(t, err)
	stream := make([]int32, len(ids))
	for i, id := range ids {
		stream[i] = int32(id)
	}
	cfg := rlhf.PPOConfig{
		Iterations: 3, Prompts: 8, MiniBatch: 8, MaxReplyTokens: 8, LR: 1e-4,
		Out: filepath.Join(t.TempDir(), "ppo.safetensors"), Progress: train.ProgressQuiet,
		PretrainCoef: 0.5, Pretrain: stream,
	}
	res, err := rlhf.PPO(context.Background(), cfg, ck, sftPath, value, countScorer{tok: int32(ids[0])}, "toy", prompts)
	require.NoError(t, err)
	for _, h := range res.History {
		require.Contains(t, h, "ptx_loss")
		require.Greater(t, h["ptx_loss"], 0.0)
		require.Less(t, h["ptx_loss"], 10.0)
	}

	bad := cfg
	bad.Pretrain = stream[:5]
	_, err = rlhf.PPO(context.Background(), bad, ck, sftPath, value, countScorer{}, "toy", prompts)
	require.ErrorContains(t, err, "PretrainCoef needs a Pretrain token stream longer than the block")
	bad = cfg
	bad.PretrainCoef = -1
	_, err = rlhf.PPO(context.Background(), bad, ck, sftPath, value, countScorer{}, "toy", prompts)
	require.ErrorContains(t, err, "PretrainCoef must not be negative")
}
