package train_test

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/train"
)

const corpus = "the quick brown fox jumps over the lazy dog. pack my box with five dozen liquor jugs! "

// newJob builds a small next-token job; onMicro (optional) runs before every micro-step and
// may return a loss override.
func newJob(t *testing.T, onMicro func(call int) (float64, bool)) train.Job {
	t.Helper()
	tok := tokenizer.NewChar(corpus)
	ids, err := tok.Encode(strings.Repeat(corpus, 20))
	require.NoError(t, err)
	stream := make([]int32, len(ids))
	for i, v := range ids {
		stream[i] = int32(v)
	}
	m, err := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: 16, Layers: 1, Heads: 2, Width: 16}, 7)
	require.NoError(t, err)
	g, err := m.NewGraph(model.GraphConfig{Batch: 4, Block: 16, Train: true})
	require.NoError(t, err)
	for i := range g.Weights {
		g.Weights[i] = 1
	}
	b, err := data.NewBatcher(stream, 4, 16, 99)
	require.NoError(t, err)
	calls := 0
	job := train.Job{
		Model: m, Tokenizer: tok, Stage: model.StagePretrain,
		MicroStep: func(context.Context) (float64, int, error) {
			calls++
			b.Next(g.Tokens, g.Targets)
			if err := g.Run(); err != nil {
				return 0, 0, err
			}
			if onMicro != nil {
				if l, ok := onMicro(calls); ok {
					return l, len(g.Tokens), nil
				}
			}
			return g.Loss, len(g.Tokens), nil
		},
	}
	job.SaveState, job.LoadState = train.BinaryState(b.State, b.SetState)
	return job
}

// cfgFor is the default training config with the given steps and output.
func cfgFor(steps int, out string) train.Config {
	cfg := train.DefaultConfig()
	cfg.Steps, cfg.Batch, cfg.Out = steps, 4, out
	return cfg
}

// TestResumeIsBitIdentical: 2N steps straight and N steps + cancel (checkpoint) + resume + N
// steps give bit-identical weights.
func TestResumeIsBitIdentical(t *testing.T) {
	const n = 6
	dir := t.TempDir()
	cfg := cfgFor(2*n, filepath.Join(dir, "straight.safetensors"))
	cfg.Accumulation, cfg.LR, cfg.WarmupSteps = 2, 3e-3, 2
	straight := newJob(t, nil)
	_, err := train.Run(context.Background(), cfg, straight)
	require.NoError(t, err)

	cfg.Out = filepath.Join(dir, "resumed.safetensors")
	ctx, cancel := context.WithCancel(context.Background())
	first := newJob(t, func(call int) (float64, bool) {
		if call == 2*n { // last micro-step of step n−1: cancel, the loop checkpoints at step n
			cancel()
		}
		return 0, false
	})
	_, err = train.Run(ctx, cfg, first)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "stopped at step 6")
	ck, err := model.LoadCheckpoint(cfg.Out)
	require.NoError(t, err)
	require.Equal(t, n, ck.Step)
	require.NotEmpty(t, ck.Optimizer)

	second := newJob(t, nil)
	res, err := train.Run(context.Background(), cfg, second)
	require.NoError(t, err)
	require.Equal(t, n, res.Resumed)
	for i, p := range straight.Model.Params {
		require.Equal(t, p.Data, second.Model.Params[i].Data, "parameter %s differs after resume", p.Name)
	}

	// A complete checkpoint is not trained again.
	again := newJob(t, nil)
	res, err = train.Run(context.Background(), cfg, again)
	require.NoError(t, err)
	require.True(t, res.Skipped)
	require.Equal(t, second.Model.Params[0].Data, again.Model.Params[0].Data)
}

// TestNaNStopsAndKeepsCheckpoint: a NaN loss stops the run with an error naming the step, and
// the last good checkpoint stays as it was.
func TestNaNStopsAndKeepsCheckpoint(t *testing.T) {
	dir := t.TempDir()
	cfg := cfgFor(10, filepath.Join(dir, "ck.safetensors"))
	cfg.CheckpointInterval = 3
	job := newJob(t, func(call int) (float64, bool) {
		if call == 5 {
			return math.NaN(), true
		}
		return 0, false
	})
	_, err := train.Run(context.Background(), cfg, job)
	require.ErrorContains(t, err, "loss is NaN at step 4")
	require.ErrorContains(t, err, "step 3")
	ck, err := model.LoadCheckpoint(cfg.Out)
	require.NoError(t, err)
	require.Equal(t, 3, ck.Step)
}

func TestLossFallsAndMetricsLog(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	cfg := cfgFor(60, filepath.Join(dir, "ck.safetensors"))
	cfg.LR, cfg.WarmupSteps, cfg.LogInterval, cfg.EvalInterval = 1e-2, 5, 20, 30
	cfg.Logger = slog.New(slog.NewTextHandler(&out, nil))
	var progress []train.Progress
	cfg.OnProgress = func(p train.Progress) { progress = append(progress, p) }
	job := newJob(t, nil)
	evals := 0
	job.Evaluate = func(context.Context) (map[string]float64, error) {
		evals++
		return map[string]float64{"val_loss": float64(evals)}, nil
	}
	res, err := train.Run(context.Background(), cfg, job)
	require.NoError(t, err)
	require.Equal(t, 2, evals)
	lines, err := train.ReadMetrics(filepath.Join(dir, "ck.metrics.jsonl"))
	require.NoError(t, err)
	require.Len(t, lines, 4) // logs at steps 20, 40, 60; evaluations at 30 and 60
	require.Equal(t, []float64{20, 30, 40, 60}, []float64{lines[0]["step"], lines[1]["step"], lines[2]["step"], lines[3]["step"]})
	require.Equal(t, 1.0, lines[1]["val_loss"])
	require.Equal(t, 2.0, lines[3]["val_loss"])
	require.Less(t, lines[3]["loss"], lines[0]["loss"]-1, "the loss must fall on a repeated text")
	require.Contains(t, out.String(), "stage=pretrain step=60 of=60")
	require.Len(t, progress, 60)
	require.Equal(t, 60, progress[59].Step)
	require.NotNil(t, progress[59].Metrics)
	require.Nil(t, progress[58].Metrics)
	for _, k := range []string{"loss", "val_loss", "ms_per_step", "tokens_per_s", "seconds"} {
		require.Contains(t, res.Metrics, k)
	}
}

func TestRunRejectsWrongStageCheckpoint(t *testing.T) {
	dir := t.TempDir()
	cfg := cfgFor(2, filepath.Join(dir, "ck.safetensors"))
	job := newJob(t, nil)
	_, err := train.Run(context.Background(), cfg, job)
	require.NoError(t, err)
	job2 := newJob(t, nil)
	job2.Stage = model.StageSFT
	_, err = train.Run(context.Background(), cfg, job2)
	require.ErrorContains(t, err, `is from the "pretrain" stage`)
}

// TestRunRejectsBadConfig: a bad config is an error naming the field as Config spells it,
// said once, before anything is trained or written.
func TestRunRejectsBadConfig(t *testing.T) {
	out := filepath.Join(t.TempDir(), "ck.safetensors")
	for _, tc := range []struct {
		set  func(*train.Config)
		want string
	}{
		{func(c *train.Config) { c.Beta2 = 1.5 }, "pretrain: invalid training config: Beta2 is 1.5, want in (0, 1)"},
		{func(c *train.Config) { c.WeightDecay = -0.1 }, "pretrain: invalid training config: WeightDecay is -0.1, want ≥ 0 (0 for none)"},
		{func(c *train.Config) { c.LR = 0 }, "LR is 0, want > 0"},
		{func(c *train.Config) { c.Steps = 0 }, "Steps is 0, want > 0"},
		{func(c *train.Config) { c.WarmupSteps = 5 }, "WarmupSteps is 5, want < Steps (2)"},
		{func(c *train.Config) { c.MinLRRatio = 2 }, "MinLRRatio is 2, want in [0, 1]"},
		{func(c *train.Config) { c.Out = "" }, `Out is "", want the checkpoint path`},
		{func(c *train.Config) { c.Precision = "fp16" }, `Precision is "fp16", want model.FP32 ("") or model.BF16 ("bf16")`},
	} {
		cfg := cfgFor(2, out)
		tc.set(&cfg)
		_, err := train.Run(context.Background(), cfg, newJob(t, nil))
		require.ErrorIs(t, err, train.ErrConfig)
		require.ErrorContains(t, err, tc.want)
		require.Equal(t, 1, strings.Count(err.Error(), "pretrain:"), err.Error())
		_, statErr := os.Stat(out)
		require.ErrorIs(t, statErr, os.ErrNotExist, "nothing is written")
	}
}

// TestResumePolicy: a finished run asked for more steps (or other settings) is an error that
// names what differs, not a silent skip; StartOver trains again; an interrupted run's metrics
// log is cut back to its checkpoint's step on resume.
func TestResumePolicy(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "ck.safetensors")
	cfg := cfgFor(4, out)
	cfg.LogInterval = 1
	_, err := train.Run(context.Background(), cfg, newJob(t, nil))
	require.NoError(t, err)

	more := cfg
	more.Steps = 8
	_, err = train.Run(context.Background(), more, newJob(t, nil))
	require.ErrorIs(t, err, train.ErrRunDiffers)
	require.ErrorContains(t, err, "Steps: checkpoint 4, this run 8")
	require.ErrorContains(t, err, "train.StartOver")

	other := cfg
	other.LR = 5e-3
	job := newJob(t, nil)
	job.DataFingerprint = "abc"
	_, err = train.Run(context.Background(), other, job)
	require.ErrorIs(t, err, train.ErrRunDiffers)
	require.ErrorContains(t, err, "LR: checkpoint 0.001, this run 0.005")
	require.ErrorContains(t, err, `data: not recorded in the checkpoint, this run "abc"`)

	more.Resume = train.StartOver
	res, err := train.Run(context.Background(), more, newJob(t, nil))
	require.NoError(t, err)
	require.False(t, res.Skipped)
	require.Equal(t, 8, res.Steps)

	// A checkpoint write killed half-way leaves a temporary file: the next run removes it.
	stale := filepath.Join(dir, ".cut.safetensors.tmp-123456")
	require.NoError(t, os.WriteFile(stale, []byte("half a checkpoint"), 0o644))

	// Interrupted at step 3 after logging steps 1..5 (as a kill between checkpoints leaves it):
	// the resumed run's log holds each step once.
	out2 := filepath.Join(dir, "cut.safetensors")
	cfg2 := cfgFor(6, out2)
	cfg2.LogInterval, cfg2.CheckpointInterval = 1, 3
	ctx, cancel := context.WithCancel(context.Background())
	_, err = train.Run(ctx, cfg2, newJob(t, func(call int) (float64, bool) {
		if call == 5 {
			cancel()
		}
		return 0, false
	}))
	require.ErrorIs(t, err, context.Canceled)
	// The run checkpointed at step 5 on cancellation; pretend it had died after step 3's
	// checkpoint by rewinding: copy in a log with lines past the checkpoint.
	lines, err := train.ReadMetrics(train.MetricsPath(out2))
	require.NoError(t, err)
	require.Len(t, lines, 5)
	f, err := os.OpenFile(train.MetricsPath(out2), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"step":6,"loss":1}` + "\n" + `{"step":7,"lo`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = train.Run(context.Background(), cfg2, newJob(t, nil))
	require.NoError(t, err)
	lines, err = train.ReadMetrics(train.MetricsPath(out2))
	require.NoError(t, err)
	var steps []float64
	for _, l := range lines {
		steps = append(steps, l["step"])
	}
	require.Equal(t, []float64{1, 2, 3, 4, 5, 6}, steps)
	require.NoFileExists(t, stale)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.NotContains(t, e.Name(), ".tmp-", "no stray temporary files")
	}
}

// TestScheduleFollowsStepsAndLR: the warm-up and the decay's floor are derived from Steps and
// LR, so a short run reaches its peak and a small LR never rises (both were fixed values).
func TestScheduleFollowsStepsAndLR(t *testing.T) {
	cfg := train.DefaultConfig()
	cfg.Steps, cfg.LR = 60, 1e-5
	s := cfg.Schedule()
	require.Equal(t, 3, s.Warmup)
	require.InDelta(t, 1e-6, s.MinLR, 1e-18)
	peak := 0.0
	for i := 0; i < cfg.Steps; i++ {
		lr := s.LR(i)
		require.LessOrEqual(t, lr, cfg.LR)
		peak = max(peak, lr)
	}
	require.Equal(t, cfg.LR, peak, "the run reaches its peak learning rate")
	cfg.WarmupSteps = 10
	require.Equal(t, 10, cfg.Schedule().Warmup)
}
