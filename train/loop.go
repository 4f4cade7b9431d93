package train

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/model/safetensors"
)

// Config is the shared training loop's configuration. The zero value of every optional field
// means its default.
type Config struct {
	// Steps is the number of optimizer steps (required).
	Steps int
	// Accumulation is the number of micro-batches whose gradients are averaged into one step
	// (default 1).
	Accumulation int
	// LR is the peak learning rate (default 1e-3); MinLR the floor of the cosine decay (default
	// LR/10); Warmup the number of linear warm-up steps (default 0). The decay ends at Steps.
	LR, MinLR float64
	Warmup    int
	// AdamW configures the optimizer (see AdamWConfig for its defaults).
	AdamW AdamWConfig
	// Clip is the global gradient-norm limit (default 1.0; negative disables clipping).
	Clip float64
	// EvalInterval runs the evaluation every so many steps (default: only at the end).
	EvalInterval int
	// LogInterval logs the training loss every so many steps (default: Steps/50, at least 10).
	LogInterval int
	// CheckpointInterval writes a resumable checkpoint every so many steps (default: only at
	// the end, and when the context is cancelled).
	CheckpointInterval int
	// Out is the checkpoint path (required). The metrics log goes beside it, with the
	// extension replaced by ".metrics.jsonl".
	Out string
	// Name labels the progress bar and log lines (default: the stage).
	Name string
	// Progress selects how progress is shown (default: a bar on a terminal, plain lines
	// otherwise).
	Progress ProgressMode
}

// Job is what the loop trains: a model, how to run one micro-batch, how to evaluate, and what
// to record in its checkpoints.
type Job struct {
	// Model is trained in place.
	Model *model.Model
	// Tokenizer is stored in the checkpoints.
	Tokenizer tokenizer.Tokenizer
	// Stage is recorded in the checkpoints (model.StagePretrain, …).
	Stage string
	// Parent is the SHA-256 of the checkpoint the model started from ("" for none).
	Parent string
	// Extra is stage metadata stored in every checkpoint.
	Extra map[string]string
	// MicroStep runs forward and backward on the next micro-batch, adding the gradients of its
	// loss to the model's Grad slices, and returns the loss and the number of tokens it saw.
	MicroStep func(ctx context.Context) (loss float64, tokens int, err error)
	// Evaluate returns held-out metrics such as "val_loss" (optional).
	Evaluate func(ctx context.Context) (map[string]float64, error)
	// SaveState and LoadState serialise the data loader's position so that a resumed run sees
	// exactly the batches it would have seen (optional).
	SaveState func() (string, error)
	LoadState func(string) error
	// Finish runs after the last step, before the final checkpoint is written, and may add
	// final metrics or Extra entries (optional).
	Finish func(ctx context.Context, metrics map[string]float64, extra map[string]string) error
}

// Result is what a finished (or already complete) run reports.
type Result struct {
	// Path is the checkpoint written.
	Path string
	// Steps is the number of optimizer steps in the checkpoint.
	Steps int
	// Metrics are the final metrics: "loss" (mean training loss of the last log interval), the
	// evaluation's metrics, and "ms_per_step", "tokens_per_s", "seconds".
	Metrics map[string]float64
	// Resumed is the step the run resumed from (0 for a fresh run); Skipped is true when the
	// checkpoint was already complete and nothing was trained.
	Resumed int
	Skipped bool
}

// Metadata keys the loop writes into checkpoints.
const (
	metaComplete = "train.complete"
	metaLoader   = "train.loader_state"
	metaOptStep  = "train.optimizer_step"
)

// MetricsPath returns the metrics log path for a checkpoint path.
func MetricsPath(out string) string {
	return strings.TrimSuffix(out, filepath.Ext(out)) + ".metrics.jsonl"
}

func (c Config) withDefaults() (Config, error) {
	if c.Steps <= 0 {
		return c, fmt.Errorf("train: Steps must be > 0, got %d", c.Steps)
	}
	if c.Out == "" {
		return c, errors.New("train: Out (the checkpoint path) is required")
	}
	if c.Accumulation <= 0 {
		c.Accumulation = 1
	}
	if c.LR == 0 {
		c.LR = 1e-3
	}
	if c.MinLR == 0 {
		c.MinLR = c.LR / 10
	}
	if c.Clip == 0 {
		c.Clip = 1
	}
	if c.LogInterval <= 0 {
		c.LogInterval = max(10, c.Steps/50)
	}
	if c.LR < 0 || c.MinLR < 0 || c.Warmup < 0 {
		return c, fmt.Errorf("train: learning rates and warm-up must be non-negative")
	}
	return c, nil
}

// Run trains job for cfg.Steps optimizer steps with AdamW, the warm-up/cosine schedule and
// global-norm clipping, evaluating, logging metrics and checkpointing along the way.
//
// If cfg.Out already holds a checkpoint of this stage with optimizer state, the run resumes
// from its step; if it holds a complete one, nothing is trained and its metrics are returned.
// A NaN or infinite loss stops the run with an error naming the step, leaving the last good
// checkpoint in place. When ctx is cancelled, a checkpoint of the current step is written and
// the context's error returned.
func Run(ctx context.Context, cfg Config, job Job) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if job.Model == nil || job.Tokenizer == nil || job.MicroStep == nil {
		return nil, errors.New("train: Job needs a Model, a Tokenizer and a MicroStep")
	}
	if cfg.Name == "" {
		cfg.Name = job.Stage
	}
	params := make([]*Param, len(job.Model.Params))
	for i, p := range job.Model.Params {
		if p.Grad == nil {
			p.Grad = make([]float32, len(p.Data))
		}
		params[i] = &Param{Name: p.Name, Shape: p.Shape, Data: p.Data, Grad: p.Grad}
	}
	opt, err := NewAdamW(params, cfg.AdamW)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Name, err) // err starts "train: invalid AdamW configuration"
	}
	res := &Result{Path: cfg.Out}
	start := 0
	if done, err := resume(cfg, job, opt, res); err != nil || done {
		return res, err
	}
	start = res.Resumed
	sched := Schedule{MaxLR: cfg.LR, MinLR: cfg.MinLR, Warmup: cfg.Warmup, DecaySteps: cfg.Steps}
	log, err := OpenMetricsLog(MetricsPath(cfg.Out), start > 0)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	prog := NewProgress(cfg.Progress, cfg.Name, start, cfg.Steps)
	defer prog.Finish()

	metrics := map[string]float64{}
	var (
		trainTime          time.Duration
		trainTokens        int
		windowLoss         float64
		windowN            int
		windowTokens       int
		windowStart        = time.Now()
		begin              = time.Now()
		lastGoodCheckpoint = "none"
	)
	if start > 0 {
		lastGoodCheckpoint = fmt.Sprintf("%s, step %d", cfg.Out, start)
	}
	save := func(step int, complete bool) error {
		return saveCheckpoint(cfg, job, opt, step, metrics, complete)
	}
	for step := start; step < cfg.Steps; step++ {
		if err := ctx.Err(); err != nil {
			if serr := save(step, false); serr != nil {
				return nil, errors.Join(err, serr)
			}
			return nil, fmt.Errorf("train: %s stopped at step %d (checkpoint written to %s): %w", cfg.Name, step, cfg.Out, err)
		}
		t0 := time.Now()
		lr := sched.LR(step)
		opt.ZeroGrad()
		var loss float64
		for micro := 0; micro < cfg.Accumulation; micro++ {
			l, tokens, err := job.MicroStep(ctx)
			if err != nil {
				if ctx.Err() != nil {
					if serr := save(step, false); serr != nil {
						return nil, errors.Join(err, serr)
					}
					return nil, fmt.Errorf("train: %s stopped at step %d (checkpoint written to %s): %w", cfg.Name, step, cfg.Out, ctx.Err())
				}
				return nil, fmt.Errorf("train: %s step %d: %w", cfg.Name, step, err)
			}
			loss += l / float64(cfg.Accumulation)
			trainTokens += tokens
			windowTokens += tokens
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, fmt.Errorf("train: %s: loss is %v at step %d; stopped without saving (last good checkpoint: %s)", cfg.Name, loss, step, lastGoodCheckpoint)
		}
		if cfg.Accumulation > 1 {
			scaleGrads(params, 1/float32(cfg.Accumulation))
		}
		norm := ClipGradNorm(params, cfg.Clip)
		if math.IsNaN(norm) || math.IsInf(norm, 0) {
			return nil, fmt.Errorf("train: %s: gradient norm is %v at step %d; stopped without saving (last good checkpoint: %s)", cfg.Name, norm, step, lastGoodCheckpoint)
		}
		opt.Step(lr)
		trainTime += time.Since(t0)
		windowLoss += loss
		windowN++
		done := step + 1
		prog.Update(done, fmt.Sprintf("loss %.4f lr %.2e %.0f tok/s", loss, lr, float64(trainTokens)/trainTime.Seconds()))

		last := done == cfg.Steps
		logNow := done%cfg.LogInterval == 0 || last
		evalNow := job.Evaluate != nil && ((cfg.EvalInterval > 0 && done%cfg.EvalInterval == 0) || last)
		if logNow || evalNow {
			line := map[string]float64{
				"step": float64(done), "loss": windowLoss / float64(windowN), "lr": lr, "grad_norm": norm,
				"tokens_per_s": float64(windowTokens) / time.Since(windowStart).Seconds(),
				"elapsed_s":    time.Since(begin).Seconds(),
			}
			metrics["loss"] = line["loss"]
			windowLoss, windowN, windowTokens, windowStart = 0, 0, 0, time.Now()
			if evalNow {
				ev, err := job.Evaluate(ctx)
				if err != nil {
					return nil, fmt.Errorf("train: %s evaluation at step %d: %w", cfg.Name, done, err)
				}
				for k, v := range ev {
					line[k] = v
					metrics[k] = v
				}
				windowStart = time.Now() // evaluation time is not training time
			}
			if err := log.Write(line); err != nil {
				return nil, err
			}
			prog.Log(line)
		}
		if cfg.CheckpointInterval > 0 && done%cfg.CheckpointInterval == 0 && !last {
			if err := save(done, false); err != nil {
				return nil, err
			}
			lastGoodCheckpoint = fmt.Sprintf("%s, step %d", cfg.Out, done)
		}
	}
	steps := cfg.Steps - start
	metrics["ms_per_step"] = trainTime.Seconds() * 1000 / float64(max(steps, 1))
	metrics["tokens_per_s"] = float64(trainTokens) / trainTime.Seconds()
	metrics["seconds"] = time.Since(begin).Seconds()
	if job.Finish != nil {
		if job.Extra == nil {
			job.Extra = map[string]string{}
		}
		if err := job.Finish(ctx, metrics, job.Extra); err != nil {
			return nil, fmt.Errorf("train: %s: finishing: %w", cfg.Name, err)
		}
	}
	if err := save(cfg.Steps, true); err != nil {
		return nil, err
	}
	res.Steps, res.Metrics = cfg.Steps, metrics
	return res, nil
}

func scaleGrads(params []*Param, s float32) {
	for _, p := range params {
		for i := range p.Grad {
			p.Grad[i] *= s
		}
	}
}

// resume loads cfg.Out if it exists. It reports done when the checkpoint is already complete
// (res is then filled in).
func resume(cfg Config, job Job, opt *AdamW, res *Result) (done bool, err error) {
	if _, err := os.Stat(cfg.Out); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	ck, err := model.LoadStage(cfg.Out, job.Stage)
	if err != nil {
		return false, fmt.Errorf("train: cannot resume: %w", err)
	}
	if ck.Extra[metaComplete] == "true" {
		res.Steps, res.Metrics, res.Skipped = ck.Step, ck.Metrics, true
		return true, job.Model.CopyFrom(ck.Model)
	}
	if ck.Model.Config != job.Model.Config {
		return false, fmt.Errorf("train: cannot resume from %s: its model config %+v differs from this run's %+v", cfg.Out, ck.Model.Config, job.Model.Config)
	}
	if ck.Step > cfg.Steps {
		return false, fmt.Errorf("train: cannot resume from %s: it is at step %d, past this run's %d steps", cfg.Out, ck.Step, cfg.Steps)
	}
	if err := job.Model.CopyFrom(ck.Model); err != nil {
		return false, fmt.Errorf("train: resuming from %s: %w", cfg.Out, err)
	}
	optStep, err := strconv.Atoi(ck.Extra[metaOptStep])
	if err != nil {
		return false, fmt.Errorf("train: resuming from %s: optimizer step %q: %w", cfg.Out, ck.Extra[metaOptStep], err)
	}
	state := map[string][]float32{}
	for _, t := range ck.Optimizer {
		state[t.Name] = t.Data
	}
	if err := opt.LoadState(state, optStep); err != nil {
		return false, fmt.Errorf("train: resuming from %s: %w", cfg.Out, err)
	}
	if job.LoadState != nil {
		if err := job.LoadState(ck.Extra[metaLoader]); err != nil {
			return false, fmt.Errorf("train: resuming from %s: data loader state: %w", cfg.Out, err)
		}
	}
	res.Resumed = ck.Step
	return false, nil
}

// saveCheckpoint writes the model at step; unfinished checkpoints carry the optimizer state.
func saveCheckpoint(cfg Config, job Job, opt *AdamW, step int, metrics map[string]float64, complete bool) error {
	extra := map[string]string{}
	for k, v := range job.Extra {
		extra[k] = v
	}
	ck := &model.Checkpoint{
		Stage: job.Stage, Model: job.Model, Tokenizer: job.Tokenizer, Parent: job.Parent,
		Step: step, Metrics: metrics, Extra: extra,
	}
	if complete {
		extra[metaComplete] = "true"
	} else {
		tensors, optStep := opt.State()
		for _, t := range tensors {
			ck.Optimizer = append(ck.Optimizer, safetensors.Tensor{Name: t.Name, Shape: t.Shape, Data: t.Data})
		}
		extra[metaOptStep] = strconv.Itoa(optStep)
		if job.SaveState != nil {
			st, err := job.SaveState()
			if err != nil {
				return fmt.Errorf("train: saving the data loader state: %w", err)
			}
			extra[metaLoader] = st
		}
	}
	if dir := filepath.Dir(cfg.Out); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("train: %w", err)
		}
	}
	return ck.Save(cfg.Out)
}

// MetricsLog appends one JSON object per line to a metrics file.
type MetricsLog struct{ f *os.File }

// OpenMetricsLog opens (creating folders as needed) the metrics log at path, truncating it
// unless appendTo is set.
func OpenMetricsLog(path string, appendTo bool) (*MetricsLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("train: metrics log: %w", err)
	}
	flag := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flag = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, fmt.Errorf("train: metrics log: %w", err)
	}
	return &MetricsLog{f: f}, nil
}

// Write appends one line.
func (l *MetricsLog) Write(m map[string]float64) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("train: metrics log: %w", err)
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("train: metrics log %s: %w", l.f.Name(), err)
	}
	return nil
}

// Close closes the file.
func (l *MetricsLog) Close() error { return l.f.Close() }

// ReadMetrics reads a metrics log written by Run: one map per line.
func ReadMetrics(path string) ([]map[string]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var out []map[string]float64
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var m map[string]float64
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return nil, fmt.Errorf("train: %s line %d: %w", path, i+1, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// formatMetrics renders a metrics line as "k=v" pairs in a stable order.
func formatMetrics(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "step" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "step=%d", int(m["step"]))
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%.4g", k, m[k])
	}
	return b.String()
}

// BinaryState adapts a binary state serialiser (a data.Batcher's State/SetState, a rand.PCG's
// MarshalBinary/UnmarshalBinary) to Job.SaveState and Job.LoadState, which store text.
func BinaryState(marshal func() ([]byte, error), unmarshal func([]byte) error) (save func() (string, error), load func(string) error) {
	save = func() (string, error) {
		b, err := marshal()
		return base64.StdEncoding.EncodeToString(b), err
	}
	load = func(s string) error {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return fmt.Errorf("train: data loader state: %w", err)
		}
		return unmarshal(b)
	}
	return save, load
}
