package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/train"
)

// TestQuickPipeline runs the scaled-down recipe end to end and checks that each stage beats the
// one before on the gold judge (replies sampled at temperature 1 on held-out prompts), that the
// report card is complete, that a rerun skips every stage, and that the chat loop answers.
func TestQuickPipeline(t *testing.T) {
	dir := t.TempDir()
	p := &pipeline{plan: quickPlan(1), paths: paths{dir: dir}, log: io.Discard}
	r, err := p.run(context.Background())
	require.NoError(t, err)
	t.Logf("base %.1f, sft %.1f, rlhf %.1f (sampled gold); sft format %.2f; rm acc %.2f; win %.2f; kl %.2f",
		r.Base["gold_score"], r.SFT["gold_score"], r.RLHF["gold_score"], r.SFT["format_rate_greedy"],
		r.Reward["val_accuracy"], r.RLHF["win_rate_vs_sft"], r.RLHF["kl"])
	require.Greater(t, r.SFT["gold_score"], r.Base["gold_score"]+5, "SFT must beat the base model")
	require.Greater(t, r.RLHF["gold_score"], r.SFT["gold_score"]+2, "RLHF must beat SFT")
	require.Greater(t, r.SFT["format_rate_greedy"], 0.9)

	raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	var card map[string]any
	require.NoError(t, json.Unmarshal(raw, &card))
	for _, k := range []string{
		"pretrain.val_loss", "sft.format_rate_greedy", "sft.correct_rate_greedy", "sft.gold_score",
		"reward.val_accuracy", "rlhf.gold_score", "rlhf.kl", "rlhf.win_rate_vs_sft", "rlhf.correct_rate_greedy",
		"base.gold_score", "pretrain.seconds", "sft.seconds", "reward.seconds", "rlhf.seconds",
		"rlhf.tie_rate_vs_sft", "rlhf.loss_rate_vs_sft", "rlhf.win_rate_ceiling",
	} {
		parts := strings.SplitN(k, ".", 2)
		section, ok := card[parts[0]].(map[string]any)
		require.True(t, ok, "report.json lacks %s", parts[0])
		require.Contains(t, section, parts[1], "report.json lacks %s", k)
	}
	win, ties, losses, ceiling := r.RLHF["win_rate_vs_sft"], r.RLHF["tie_rate_vs_sft"], r.RLHF["loss_rate_vs_sft"], r.RLHF["win_rate_ceiling"]
	require.InDelta(t, 1.0, (win-ties/2)+ties+losses, 1e-9, "wins, ties and losses partition the prompts")
	require.LessOrEqual(t, win, ceiling, "no model beats the ceiling")
	require.GreaterOrEqual(t, ceiling, 0.5)
	require.EqualValues(t, 2, card["eval_samples"], "two sampled replies per prompt in the quick plan")
	pairs := float64(r.EvalPrompts * r.EvalSamples) // one head-to-head per sample
	require.InDelta(t, math.Round(ties*pairs), ties*pairs, 1e-6, "ties are counted over %v head-to-heads", pairs)
	require.InDelta(t, math.Round(losses*pairs), losses*pairs, 1e-6)
	require.NotNil(t, card["alarms"], "report.json lists PPO's alarms (maybe none)")
	if runtime.GOOS == "linux" {
		for _, s := range []string{"pretrain", "sft", "reward", "rlhf", "eval"} {
			require.Greater(t, r.PeakRSSMiB[s], 10.0, "%s's peak memory (MiB) is measured on Linux", s)
			require.LessOrEqual(t, r.PeakRSSMiB[s], r.PeakRSSMiB["run"], "no stage above the process's high-water mark")
		}
		require.Less(t, r.PeakRSSMiB["run"], 4096.0, "in MiB")
		md, err := os.ReadFile(filepath.Join(dir, "report.md"))
		require.NoError(t, err)
		require.Contains(t, string(md), "Peak resident memory (MiB) of what this process ran (sampled every 20 ms; run: the kernel's high-water mark): pretrain ")
	}
	ppoLog, err := train.ReadMetrics(train.MetricsPath(filepath.Join(dir, "rlhf.safetensors")))
	require.NoError(t, err)
	var curve []float64
	for _, l := range ppoLog {
		if g, ok := l["gold"]; ok {
			require.Contains(t, l, "proxy")
			curve = append(curve, l["step"])
			require.GreaterOrEqual(t, g, 0.0)
		}
	}
	require.Equal(t, []float64{4, 8, 12}, curve, "gold and proxy measured every CurveInterval iterations")
	for _, f := range []string{"report.md", "plot_pretrain.png", "plot_sft.png", "plot_reward.png", "plot_rlhf.png", "plot_overoptimisation.png"} {
		require.FileExists(t, filepath.Join(dir, f))
	}

	// A rerun finds every checkpoint and only evaluates.
	var log bytes.Buffer
	p2 := &pipeline{plan: quickPlan(1), paths: paths{dir: dir}, log: &log}
	r2, err := p2.run(context.Background())
	require.NoError(t, err)
	require.Contains(t, log.String(), "pretrain: "+filepath.Join(dir, "pretrain.safetensors")+" exists, skipping")
	require.Contains(t, log.String(), "rlhf: "+filepath.Join(dir, "rlhf.safetensors")+" exists, skipping")
	require.Equal(t, r.RLHF["gold_score"], r2.RLHF["gold_score"])
	require.Equal(t, r.Seconds, r2.Seconds, "a rerun reports the stage times recorded when they ran")
	require.Equal(t, r.Reward["seconds"], r2.Reward["seconds"], "sampling and judging included")

	// Another evaluation seed re-evaluates the same checkpoints: same greedy replies, other samples.
	p3 := &pipeline{plan: quickPlan(1), paths: paths{dir: dir}, log: io.Discard}
	p3.plan.EvalSeed = 7
	r3, err := p3.run(context.Background())
	require.NoError(t, err)
	require.Equal(t, r.RLHF["gold_score_greedy"], r3.RLHF["gold_score_greedy"])
	sampled := func(r *Report) []float64 {
		var v []float64
		for _, m := range []map[string]float64{r.Base, r.SFT, r.RLHF} {
			v = append(v, m["gold_score"], m["correct_rate"], m["rude_rate"], m["ramble_rate"], m["format_rate"])
		}
		return v
	}
	require.NotEqual(t, sampled(r), sampled(r3), "the sampled replies change with EvalSeed")

	var out bytes.Buffer
	require.NoError(t, repl(context.Background(), filepath.Join(dir, "rlhf.safetensors"), strings.NewReader("hello!\n/quit\n"), &out))
	lines := strings.Split(out.String(), "\n")
	require.GreaterOrEqual(t, len(lines), 2)
	require.Greater(t, len(strings.TrimPrefix(lines[1], "> ")), 0, "the chat loop answers: %q", out.String())

	// A wrong file in the run folder is an error that says what to delete, never a stage
	// reported under another's name: the pretrain checkpoint copied over the RLHF one, then
	// the SFT checkpoint copied over the pretrain one.
	pre, err := os.ReadFile(filepath.Join(dir, "pretrain.safetensors"))
	require.NoError(t, err)
	rl, err := os.ReadFile(filepath.Join(dir, "rlhf.safetensors"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rlhf.safetensors"), pre, 0o644))
	_, err = (&pipeline{plan: quickPlan(1), paths: paths{dir: dir}, log: io.Discard}).run(context.Background())
	require.ErrorContains(t, err, filepath.Join(dir, "rlhf.safetensors")+` holds a "pretrain" checkpoint, not the rlhf stage's; delete `+filepath.Join(dir, "rlhf.safetensors")+" to train again from there")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rlhf.safetensors"), rl, 0o644))
	sftFile, err := os.ReadFile(filepath.Join(dir, "sft.safetensors"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pretrain.safetensors"), sftFile, 0o644))
	_, err = (&pipeline{plan: quickPlan(1), paths: paths{dir: dir}, log: io.Discard}).run(context.Background())
	require.ErrorContains(t, err, `pretrain.safetensors holds a "sft" checkpoint, not the pretrain stage's; delete `)
	require.ErrorContains(t, err, "rlhf.safetensors to train again from there")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pretrain.safetensors"), pre, 0o644))
	// An SFT checkpoint from another run (another seed) is not this pretrain's child.
	other := t.TempDir()
	q := quickPlan(2)
	q.PretrainSteps, q.SFTSteps = 60, 5
	op := &pipeline{plan: q, paths: paths{dir: other}, log: io.Discard, world: newWorld(2)}
	op.seconds, op.metrics, op.recorded = map[string]float64{}, map[string]map[string]float64{}, map[string]float64{}
	tok, err := op.pretrain(context.Background())
	require.NoError(t, err)
	require.NoError(t, op.sft(context.Background(), tok))
	otherSFT, err := os.ReadFile(filepath.Join(other, "sft.safetensors"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sft.safetensors"), otherSFT, 0o644))
	_, err = (&pipeline{plan: quickPlan(1), paths: paths{dir: dir}, log: io.Discard}).run(context.Background())
	require.ErrorContains(t, err, "sft.safetensors was not trained from "+filepath.Join(dir, "pretrain.safetensors"))
}

func TestPlanOverride(t *testing.T) {
	p := defaultPlan(1)
	require.NoError(t, p.override(`{"PPOIterations": 80, "PPOKL": 0.03}`))
	want := defaultPlan(1)
	want.PPOIterations, want.PPOKL = 80, 0.03
	require.Equal(t, want, p)

	p = defaultPlan(1)
	err := p.override(`{"PPOIters": 80}`)
	require.ErrorContains(t, err, `unknown field "PPOIters"`)
	err = p.override(`{"RMSteps": 0}`)
	require.ErrorContains(t, err, "RMSteps must be positive")
	require.Error(t, p.override(`{"PPOLR": "fast"}`))
	for field, msg := range map[string]string{
		`{"PPOClip": -0.1}`: "PPOClip must not be negative", `{"PPOEpochs": -1}`: "PPOEpochs must not be negative",
		`{"PPOPretrainCoef": -1}`: "PPOPretrainCoef must not be negative",
	} {
		p = defaultPlan(1)
		require.ErrorContains(t, p.override(field), msg)
	}
}

// TestInterruptedPipelineResumes interrupts a small pipeline (Ctrl-C, as a cancelled context)
// once in every stage — pretraining, SFT, the reward model and PPO — reruns it after each
// interruption, and checks that the final report equals an uninterrupted run's (wall times
// aside) and that no stage started over.
func TestInterruptedPipelineResumes(t *testing.T) {
	small := quickPlan(3)
	small.PretrainSteps, small.SFTSteps, small.SFTConvs = 120, 40, 400
	small.RMPrompts, small.RMSteps, small.PPOIterations, small.PPOPrompts = 60, 40, 4, 8
	small.EvalPrompts, small.EvalSamples = 30, 1
	straight, err := (&pipeline{plan: small, paths: paths{dir: t.TempDir()}, log: io.Discard}).run(context.Background())
	require.NoError(t, err)

	dir := t.TempDir()
	for _, stop := range []struct {
		stage string
		step  int
	}{{"pretrain", 70}, {"sft", 25}, {"reward", 20}, {"rlhf", 2}} {
		ctx, cancel := context.WithCancel(context.Background())
		resumedAt := -1
		p := &pipeline{plan: small, paths: paths{dir: dir}, log: io.Discard, progress: func(pr train.Progress) {
			if pr.Name == stop.stage && resumedAt < 0 {
				resumedAt = pr.Resumed
			}
			if pr.Name == stop.stage && pr.Step == stop.step {
				cancel()
			}
		}}
		_, err := p.run(ctx)
		require.ErrorIs(t, err, context.Canceled, "interrupted in %s", stop.stage)
		require.ErrorContains(t, err, fmt.Sprintf("%s: stopped at step %d", stop.stage, stop.step))
		cancel()
		require.LessOrEqual(t, resumedAt, 0, "%s starts fresh", stop.stage)
	}
	var resumed []string
	p := &pipeline{plan: small, paths: paths{dir: dir}, log: io.Discard, progress: func(pr train.Progress) {
		if pr.Resumed > 0 && pr.Step == pr.Resumed+1 {
			resumed = append(resumed, fmt.Sprintf("%s@%d", pr.Name, pr.Resumed))
		}
	}}
	r, err := p.run(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"rlhf@2"}, resumed, "the last run resumes PPO where it stopped")
	strip := func(r *Report) *Report {
		c := *r
		c.Seconds, c.EvalSeconds, c.PeakRSSMiB = 0, 0, nil // measurements of the process
		for _, m := range []map[string]float64{c.Pretrain, c.Base, c.SFT, c.Reward, c.RLHF} {
			for k := range m {
				if strings.Contains(k, "seconds") || k == "ms_per_step" || k == "tokens_per_s" {
					delete(m, k)
				}
			}
		}
		return &c
	}
	require.Equal(t, strip(straight), strip(r))
}

// A finished pretraining checkpoint of another plan (an earlier default's, say) is refused,
// naming what differs, instead of being taken as this plan's first stage.
func TestPretrainOfAnotherPlanIsRefused(t *testing.T) {
	pl := quickPlan(1)
	p := &pipeline{plan: pl, world: newWorld(1), paths: paths{dir: "runs/x"}}
	tok, err := tokenizer.TrainBPE(p.world.PretrainText()[:60000], tokenizer.BPEConfig{VocabSize: pl.BPEVocab, PreSplit: tokenizer.PreSplitGPT2})
	require.NoError(t, err)
	require.Equal(t, pl.BPEVocab, tok.VocabSize())
	mc := pl.Model
	mc.VocabSize = tok.VocabSize()
	m, err := model.New(mc, 1)
	require.NoError(t, err)
	ck := &model.Checkpoint{Model: m, Tokenizer: tok}
	require.NoError(t, p.samePretrainPlan("runs/x/pretrain.safetensors", ck))

	other := *p
	other.plan.Model.BlockSize = 96
	require.EqualError(t, other.samePretrainPlan("runs/x/pretrain.safetensors", ck),
		"runs/x/pretrain.safetensors is another plan's pretrained model (block_size 64, this plan 96): delete runs/x or write this run elsewhere with -out")

	own, err := tokenizer.NewBPE(tok.Merges(), tokenizer.PreSplitTinychat)
	require.NoError(t, err)
	ck.Tokenizer = own
	require.ErrorContains(t, p.samePretrainPlan("runs/x/pretrain.safetensors", ck), "does not pre-split as GPT-2 does")
}
