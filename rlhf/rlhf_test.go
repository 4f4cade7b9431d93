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
	_, ck, value, prompts := ppoSetup(t, words, 150)
	ids, err := ck.Tokenizer.Encode("a")
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "ppo.safetensors")
	cfg := rlhf.DefaultPPOConfig()
	cfg.Steps, cfg.Batch, cfg.MaxReplyTokens, cfg.LR, cfg.ValueLR, cfg.KLCoef, cfg.Seed, cfg.Out = 30, 16, 8, 2e-4, 1e-3, 0.1, 4, out
	// The run's own evaluation (the over-optimisation curves' source) every 10 iterations.
	cfg.EvalInterval = 10
	evals := 0
	cfg.Evaluate = func(_ context.Context, policy *model.Model) (map[string]float64, error) {
		evals++
		require.NotSame(t, ck.Model, policy, "the policy under training, not the reference")
		return map[string]float64{"gold": float64(evals)}, nil
	}
	_, err = rlhf.PPO(context.Background(), cfg, ck, value, countScorer{tok: int32(ids[0])}, "toy", prompts)
	require.NoError(t, err)
	history, err := train.ReadMetrics(train.MetricsPath(out))
	require.NoError(t, err)
	require.Len(t, history, 30)
	require.Equal(t, 3, evals)
	for _, h := range history {
		if g, ok := h["gold"]; ok {
			require.Equal(t, h["step"]/10, g, "evaluated at steps 10, 20, 30")
		}
	}
	mean := func(h []map[string]float64, k string) float64 {
		var s float64
		for _, m := range h {
			s += m[k]
		}
		return s / float64(len(h))
	}
	first, last := mean(history[:5], "score"), mean(history[25:], "score")
	t.Logf("score %.2f -> %.2f, kl %.2f -> %.2f", first, last, mean(history[:5], "kl"), mean(history[25:], "kl"))
	require.Greater(t, last, first+1, "PPO must raise the known reward")
	// One iteration's KL is a mean over only 16 replies, so the per-iteration bound is looser
	// than the bound on the last five.
	require.Less(t, mean(history[25:], "kl"), 12.0, "KL to the SFT model per reply, last 5 iterations")
	for _, h := range history {
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
	cfg := rlhf.DefaultDPOConfig()
	cfg.Steps, cfg.LR, cfg.EvalInterval, cfg.WarmupSteps, cfg.Seed, cfg.Out = 150, 5e-4, 75, 7, 1, out
	res, err := rlhf.TrainDPOFile(context.Background(), cfg, sftPath, rank(words[:160], 1, 1), rank(words[160:], 2, 4)) // 160 held-out pairs: accuracy ±0.035
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
	// DPO after DPO (or PPO) is allowed; a pretrained model is not a policy.
	pre, err := model.LoadCheckpoint(testutil.Pretrained(t, words[:20], 20))
	require.NoError(t, err)
	cfg.Out = filepath.Join(t.TempDir(), "x.safetensors")
	_, err = rlhf.TrainDPO(context.Background(), cfg, pre, rank(words[:10], 1, 1), nil)
	require.ErrorContains(t, err, `the policy checkpoint is from the "pretrain" stage; DPO starts from a sft or rlhf checkpoint`)
}

// PPO-ptx runs end to end: with PretrainCoef every iteration logs the next-token loss on the
// pretraining stream (TestPretrainGradScalesTheLMGradient checks the gradient itself), and bad
// settings are refused.
func TestPPOWithPretrainingMix(t *testing.T) {
	words := testutil.Words(40, 3)
	_, ck, value, prompts := ppoSetup(t, words, 40)
	stream, err := ck.Tokenizer.Encode(strings.Repeat(strings.Join(words, " ")+" ", 3))
	require.NoError(t, err)
	cfg := rlhf.DefaultPPOConfig()
	cfg.Steps, cfg.Batch, cfg.MaxReplyTokens, cfg.LR = 3, 8, 8, 1e-4
	cfg.Out, cfg.PretrainCoef, cfg.Pretrain = filepath.Join(t.TempDir(), "ppo.safetensors"), 0.5, stream
	_, err = rlhf.PPO(context.Background(), cfg, ck, value, countScorer{tok: stream[0]}, "toy", prompts)
	require.NoError(t, err)
	history, err := train.ReadMetrics(train.MetricsPath(cfg.Out))
	require.NoError(t, err)
	require.Len(t, history, 3)
	for _, h := range history {
		require.Contains(t, h, "ptx_loss")
		require.Greater(t, h["ptx_loss"], 0.0)
		require.Less(t, h["ptx_loss"], 10.0)
	}

	bad := cfg
	bad.Pretrain = stream[:5]
	_, err = rlhf.PPO(context.Background(), bad, ck, value, countScorer{}, "toy", prompts)
	require.ErrorContains(t, err, "PretrainCoef needs a Pretrain token stream longer than the rows (40 tokens), got 5")
	bad = cfg
	bad.PretrainCoef = -1
	_, err = rlhf.PPO(context.Background(), bad, ck, value, countScorer{}, "toy", prompts)
	require.ErrorContains(t, err, "rlhf: PretrainCoef is -1, want ≥ 0")
	bad = cfg
	bad.MaxReplyTokens = 100000
	_, err = rlhf.PPO(context.Background(), bad, ck, value, countScorer{}, "toy", prompts)
	require.ErrorContains(t, err, "rlhf: MaxReplyTokens is 100000, want 1..")
}

// cancelScorer is countScorer that cancels a context on its n-th call (mid-iteration n).
type cancelScorer struct {
	countScorer
	n      *int
	at     int
	cancel context.CancelFunc
}

func (s cancelScorer) ScoreTokens(ctx context.Context, seqs [][]int32) ([]float32, error) {
	*s.n++
	if *s.n == s.at {
		s.cancel()
	}
	return s.countScorer.ScoreTokens(ctx, seqs)
}

// TestPPOResumeIsBitIdentical: PPO interrupted (Ctrl-C) in its fourth iteration writes a
// checkpoint with the policy, the value model, both optimizers and the RNG states; the rerun
// resumes there and ends with the same policy weights and the same metrics log as an
// uninterrupted run.
func TestPPOResumeIsBitIdentical(t *testing.T) {
	words := testutil.Words(40, 3)
	sftPath, ck, _, prompts := ppoSetup(t, words, 40)
	ids, err := ck.Tokenizer.Encode("a")
	require.NoError(t, err)
	newValue := func() *model.Model {
		v, err := reward.NewModel(ck.Model, 9)
		require.NoError(t, err)
		return v
	}
	dir := t.TempDir()
	cfg := rlhf.DefaultPPOConfig()
	cfg.Steps, cfg.Batch, cfg.MaxReplyTokens, cfg.LR, cfg.KLCoef, cfg.TargetKL = 6, 8, 6, 2e-4, 0.1, 2
	cfg.Out = filepath.Join(dir, "straight.safetensors")
	scorer := countScorer{tok: int32(ids[0])}
	_, err = rlhf.PPO(context.Background(), cfg, ck, newValue(), scorer, "toy", prompts)
	require.NoError(t, err)

	cfg.Out = filepath.Join(dir, "resumed.safetensors")
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err = rlhf.PPO(ctx, cfg, ck, newValue(), cancelScorer{scorer, &calls, 4, cancel}, "toy", prompts)
	require.ErrorIs(t, err, context.Canceled)
	info, err := model.ReadCheckpointInfo(cfg.Out)
	require.NoError(t, err)
	require.True(t, info.HasOptimizer)
	require.Equal(t, 4, info.Step, "cancelled during the fourth iteration, which finishes")

	sft2, err := model.LoadStage(sftPath, model.StageSFT) // a fresh process would load it again
	require.NoError(t, err)
	res, err := rlhf.PPO(context.Background(), cfg, sft2, newValue(), scorer, "toy", prompts)
	require.NoError(t, err)
	require.Equal(t, 4, res.Resumed)
	a, err := model.LoadCheckpoint(filepath.Join(dir, "straight.safetensors"))
	require.NoError(t, err)
	b, err := model.LoadCheckpoint(cfg.Out)
	require.NoError(t, err)
	for i, p := range a.Model.Params {
		require.Equal(t, p.Data, b.Model.Params[i].Data, "policy parameter %s differs after resume", p.Name)
	}
	require.Equal(t, a.Extra["rlhf.kl_coef"], b.Extra["rlhf.kl_coef"])
	la, err := train.ReadMetrics(train.MetricsPath(filepath.Join(dir, "straight.safetensors")))
	require.NoError(t, err)
	lb, err := train.ReadMetrics(train.MetricsPath(cfg.Out))
	require.NoError(t, err)
	require.Len(t, lb, len(la))
	for i := range la {
		for _, k := range []string{"elapsed_s", "tokens_per_s"} { // wall-clock figures
			delete(la[i], k)
			delete(lb[i], k)
		}
		require.Equal(t, la[i], lb[i], "metrics line %d", i)
	}
}

// TestPPORefusesOtherSettings: a PPO checkpoint is not taken for a run with another learning
// rate or KL coefficient (the run's settings are recorded and compared).
func TestPPORefusesOtherSettings(t *testing.T) {
	_, ck, value, prompts := ppoSetup(t, testutil.Words(40, 3), 40)
	cfg := rlhf.DefaultPPOConfig()
	cfg.Steps, cfg.Batch, cfg.MaxReplyTokens, cfg.Out = 1, 8, 6, filepath.Join(t.TempDir(), "ppo.safetensors")
	scorer := countScorer{tok: 5}
	_, err := rlhf.PPO(context.Background(), cfg, ck, value, scorer, "toy", prompts)
	require.NoError(t, err)
	other := cfg
	other.LR, other.KLCoef = 3e-5, 0.2
	_, err = rlhf.PPO(context.Background(), other, ck, value, scorer, "toy", prompts)
	require.ErrorIs(t, err, train.ErrRunDiffers)
	require.ErrorContains(t, err, "KLCoef: checkpoint 0.05, this run 0.2")
	require.ErrorContains(t, err, "LR: checkpoint 0.00001, this run 0.00003")
	res, err := rlhf.PPO(context.Background(), cfg, ck, value, scorer, "toy", prompts)
	require.NoError(t, err)
	require.True(t, res.Skipped, "the same run again is found finished")
}

// TestDPOResumeIsBitIdentical: DPO cancelled after its third step resumes from its checkpoint
// to the same policy and metrics log as an uninterrupted run.
func TestDPOResumeIsBitIdentical(t *testing.T) {
	words := testutil.Words(40, 3)
	sftPath := testutil.FineTuned(t, words, 40)
	var pairs []data.Ranking
	for i, w := range words {
		pairs = append(pairs, data.Ranking{Source: fmt.Sprint(i), Prompt: testutil.RepeatPrompt(w), Responses: []string{w, words[(i+1)%len(words)]}})
	}
	dir := t.TempDir()
	cfg := rlhf.DefaultDPOConfig()
	cfg.Steps, cfg.LR, cfg.LogInterval, cfg.EvalInterval = 6, 5e-4, 1, 3
	cfg.Out = filepath.Join(dir, "straight.safetensors")
	_, err := rlhf.TrainDPOFile(context.Background(), cfg, sftPath, pairs[:30], pairs[30:])
	require.NoError(t, err)
	straight := cfg.Out

	cfg.Out = filepath.Join(dir, "resumed.safetensors")
	ctx, cancel := context.WithCancel(context.Background())
	stop := cfg
	stop.OnProgress = func(p train.Progress) {
		if p.Step == 3 {
			cancel()
		}
	}
	_, err = rlhf.TrainDPOFile(ctx, stop, sftPath, pairs[:30], pairs[30:])
	require.ErrorIs(t, err, context.Canceled)
	res, err := rlhf.TrainDPOFile(context.Background(), cfg, sftPath, pairs[:30], pairs[30:])
	require.NoError(t, err)
	require.Equal(t, 3, res.Resumed)
	testutil.SameRun(t, straight, cfg.Out)
}
