package train_test

import (
	"bytes"
	"context"
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

func quiet(cfg train.Config) train.Config {
	cfg.Progress = train.ProgressQuiet
	return cfg
}

// TestResumeIsBitIdentical: 2N steps straight and N steps + cancel (checkpoint) + resume + N
// steps give bit-identical weights.
func TestResumeIsBitIdentical(t *testing.T) {
	const n = 6
	dir := t.TempDir()
	cfg := quiet(train.Config{Steps: 2 * n, Accumulation: 2, LR: 3e-3, Warmup: 2, Out: filepath.Join(dir, "straight.safetensors")})
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
	cfg := quiet(train.Config{Steps: 10, CheckpointInterval: 3, Out: filepath.Join(dir, "ck.safetensors")})
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
	train.ProgressWriter = &out
	defer func() { train.ProgressWriter = os.Stderr }()
	cfg := train.Config{Steps: 60, LR: 1e-2, Warmup: 5, LogInterval: 20, EvalInterval: 30, Out: filepath.Join(dir, "ck.safetensors"), Progress: train.ProgressLines}
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
	require.Contains(t, out.String(), "pretrain 60/60 step=60")
	for _, k := range []string{"loss", "val_loss", "ms_per_step", "tokens_per_s", "seconds"} {
		require.Contains(t, res.Metrics, k)
	}
}

func TestRunRejectsWrongStageCheckpoint(t *testing.T) {
	dir := t.TempDir()
	cfg := quiet(train.Config{Steps: 2, Out: filepath.Join(dir, "ck.safetensors")})
	job := newJob(t, nil)
	_, err := train.Run(context.Background(), cfg, job)
	require.NoError(t, err)
	job2 := newJob(t, nil)
	job2.Stage = model.StageSFT
	_, err = train.Run(context.Background(), cfg, job2)
	require.ErrorContains(t, err, `is from the "pretrain" stage`)
}

// TestRunRejectsBadAdamWConfig: a bad optimizer config is an error naming the field, before
// anything is trained or written.
func TestRunRejectsBadAdamWConfig(t *testing.T) {
	out := filepath.Join(t.TempDir(), "ck.safetensors")
	cfg := quiet(train.Config{Steps: 2, Out: out, AdamW: train.AdamWConfig{Beta2: 1.5}})
	_, err := train.Run(context.Background(), cfg, newJob(t, nil))
	require.ErrorIs(t, err, train.ErrAdamWConfig)
	require.ErrorContains(t, err, "Beta2 1.5 not in (0, 1)")
	_, statErr := os.Stat(out)
	require.ErrorIs(t, statErr, os.ErrNotExist, "nothing is written")
}
