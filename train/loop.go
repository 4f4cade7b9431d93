package train

import (
	"bytes"
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

// Param is one trainable tensor: the model's own parameter type (values and gradient, same
// length, row-major), which the optimizer updates in place. Shape is the tensor's shape; only
// parameters with len(Shape) >= 2 (matrices, embeddings) receive weight decay, as in nanoGPT.
// Name identifies the parameter in optimizer state and must be unique among the parameters
// given to one optimizer.
type Param = model.Param

// Job is what the loop trains: a model, how to run one step, how to evaluate, and what to
// record in its checkpoints.
//
// A job gives either MicroStep, and the loop runs gradient accumulation, clipping and AdamW on
// Model, or Step, which runs a whole step itself (PPO's rollout and its minibatch updates) with
// the optimizers the loop hands it. Either way the loop owns resuming, checkpoints (also on
// cancellation), NaN stops, evaluation, the metrics log, logging and progress.
type Job struct {
	// Model is trained in place and written as the checkpoint.
	Model *model.Model
	// Tokenizer is stored in the checkpoints.
	Tokenizer tokenizer.Tokenizer
	// Stage is recorded in the checkpoints (model.StagePretrain, …).
	Stage model.Stage
	// Parent is the lineage fingerprint of the checkpoint the model started from ("" for
	// none; see model.Checkpoint.Fingerprint).
	Parent string
	// Extra is stage metadata stored in every checkpoint.
	Extra map[string]string
	// Settings are the stage's own settings (its config, JSON-encodable) and DataFingerprint
	// a digest of its training data: both are recorded in checkpoints, and ResumeSame compares
	// them (with the training Config) before resuming or skipping a run.
	Settings        any
	DataFingerprint string
	// Memory is the estimated bytes of the job's graphs and engines (their MemoryEstimate),
	// logged when the run starts and recorded as the metric "memory_estimate_mb".
	Memory int64

	// MicroStep runs forward and backward on the next micro-batch, adding the gradients of its
	// loss to the model's Grad slices, and returns the loss and the number of tokens it saw.
	MicroStep func(ctx context.Context) (loss float64, tokens int, err error)
	// Step runs one whole optimizer step (used instead of MicroStep).
	Step func(ctx context.Context, s *StepContext) (StepResult, error)
	// Aux are further models a Step job trains (PPO's value model); their weights and
	// optimizer state are saved in resumable checkpoints and restored on resume.
	Aux []*AuxModel

	// Evaluate returns held-out metrics such as "val_loss" (optional).
	Evaluate func(ctx context.Context) (map[string]float64, error)
	// SaveState and LoadState serialise the job's own state (the data loader's position, RNG
	// states) so that a resumed run continues exactly as an uninterrupted one (optional).
	SaveState func() (string, error)
	LoadState func(string) error
	// Finish runs after the last step, before the final checkpoint is written, and may add
	// final metrics or Extra entries (optional).
	Finish func(ctx context.Context, metrics map[string]float64, extra map[string]string) error
}

// AuxModel is a further model trained by a Step job.
type AuxModel struct {
	// Name labels its tensors in checkpoints ("value").
	Name string
	// Model is trained in place.
	Model *model.Model
	// LRScale multiplies the scheduled learning rate for this model (0 means 1).
	LRScale float64
	// Optimizer is its AdamW, made by Run with the Config's settings.
	Optimizer *AdamW
}

// StepContext is what a Step job gets for one step.
type StepContext struct {
	// Step is the 0-based step number and LR its scheduled learning rate.
	Step int
	LR   float64
	// Optimizer updates Job.Model; Clip is Config.Clip (0: none). Aux optimizers are in
	// Job.Aux.
	Optimizer *AdamW
	Clip      float64
}

// StepResult is what a Step job returns: the loss that stops the run when it is not finite,
// the tokens trained on, and metrics to log.
type StepResult struct {
	Loss    float64
	Tokens  int
	Metrics map[string]float64
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
	// checkpoint at Out was already a finished run with the same settings.
	Resumed int
	Skipped bool
	// Checkpoint is the final checkpoint as it is in memory (no optimizer state), ready for
	// the next stage without reading the file back.
	Checkpoint *model.Checkpoint
}

// Metadata keys the loop writes into checkpoints.
const (
	metaComplete = "train.complete"
	metaLoader   = "train.loader_state"
	metaOptStep  = "train.optimizer_step"
	metaSettings = "train.settings"
	auxPrefix    = "optim.aux."
)

// MetricsPath returns the metrics log path for a checkpoint path.
func MetricsPath(out string) string {
	return strings.TrimSuffix(out, filepath.Ext(out)) + ".metrics.jsonl"
}

// Run trains job for cfg.Steps optimizer steps with AdamW, the warm-up/cosine schedule and
// global-norm clipping, evaluating, logging metrics and checkpointing along the way.
//
// A checkpoint already at cfg.Out is treated as cfg.Resume says: by default an unfinished run
// with the same settings resumes from its step, a finished one is returned as it is, and one
// with other settings is an error naming the differences. A NaN or infinite loss or gradient
// stops the run with an error naming the step, leaving the last good checkpoint in place. When
// ctx is cancelled, a checkpoint of the current step is written and the context's error
// returned. Errors start with the run's name (the stage).
func Run(ctx context.Context, cfg Config, job Job) (*Result, error) {
	name := string(job.Stage)
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if job.Model == nil || job.Tokenizer == nil || (job.MicroStep == nil) == (job.Step == nil) {
		return nil, fmt.Errorf("%s: a training job needs a Model, a Tokenizer and exactly one of MicroStep and Step", name)
	}
	log := cfg.logger()
	settings, err := runSettings(cfg, job)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	params := trainable(job.Model)
	opt, err := NewAdamW(params, cfg.adamW())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, a := range job.Aux {
		if a.Optimizer, err = NewAdamW(trainable(a.Model), cfg.adamW()); err != nil {
			return nil, fmt.Errorf("%s: %s model: %w", name, a.Name, err)
		}
	}
	// A run killed while writing a checkpoint leaves its temporary file behind; nobody else
	// writes Out while this run starts, so they can go.
	removed, err := safetensors.RemoveStaleTemps(cfg.Out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(removed) > 0 {
		log.Info("removed temporary files left by an interrupted checkpoint write", "stage", name, "files", removed)
	}
	res := &Result{Path: cfg.Out}
	if done, err := resume(cfg, job, settings, opt, res); err != nil || done {
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		log.Info("finished run found, not training again", "stage", name, "checkpoint", cfg.Out, "steps", res.Steps)
		return res, nil
	}
	start := res.Resumed
	if job.Memory > 0 {
		log.Info("memory estimate of the graphs and engines", "stage", name, "MiB", float64(job.Memory)/(1<<20))
	}
	if start > 0 {
		log.Info("resuming", "stage", name, "checkpoint", cfg.Out, "step", start, "steps", cfg.Steps)
	}
	sched := cfg.Schedule()
	mlog, err := OpenMetricsLog(MetricsPath(cfg.Out), start)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer mlog.Close()

	metrics := map[string]float64{}
	if job.Memory > 0 {
		metrics["memory_estimate_mb"] = float64(job.Memory) / (1 << 20)
	}
	var (
		trainTime          time.Duration
		trainTokens        int
		windowLoss         float64
		windowN            int
		windowTokens       int
		windowStart        = time.Now()
		begin              = time.Now()
		lastGoodCheckpoint = "none"
		logEvery           = cfg.logInterval()
	)
	if start > 0 {
		lastGoodCheckpoint = fmt.Sprintf("%s, step %d", cfg.Out, start)
	}
	save := func(step int, complete bool) error {
		return saveCheckpoint(cfg, job, settings, opt, step, metrics, complete)
	}
	stopped := func(step int, cause error) error {
		if serr := save(step, false); serr != nil {
			return fmt.Errorf("%s: stopped at step %d, and the checkpoint could not be written: %w", name, step, errors.Join(cause, serr))
		}
		return fmt.Errorf("%s: stopped at step %d (checkpoint written to %s): %w", name, step, cfg.Out, cause)
	}
	for step := start; step < cfg.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return nil, stopped(step, err)
		}
		t0 := time.Now()
		lr := sched.LR(step)
		var (
			loss      float64
			norm      = math.NaN()
			stepStats map[string]float64
		)
		if job.Step != nil {
			r, err := job.Step(ctx, &StepContext{Step: step, LR: lr, Optimizer: opt, Clip: cfg.Clip})
			if err != nil {
				if ctx.Err() != nil {
					return nil, stopped(step, ctx.Err())
				}
				return nil, fmt.Errorf("%s: step %d: %w", name, step, err)
			}
			loss, stepStats = r.Loss, r.Metrics
			trainTokens += r.Tokens
			windowTokens += r.Tokens
		} else {
			opt.ZeroGrad()
			for micro := 0; micro < cfg.Accumulation; micro++ {
				l, tokens, err := job.MicroStep(ctx)
				if err != nil {
					if ctx.Err() != nil {
						return nil, stopped(step, ctx.Err())
					}
					return nil, fmt.Errorf("%s: step %d: %w", name, step, err)
				}
				loss += l / float64(cfg.Accumulation)
				trainTokens += tokens
				windowTokens += tokens
			}
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, fmt.Errorf("%s: loss is %v at step %d; stopped without saving (last good checkpoint: %s)", name, loss, step, lastGoodCheckpoint)
		}
		for k, v := range stepStats {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%s: %s is %v at step %d; stopped without saving (last good checkpoint: %s)", name, k, v, step, lastGoodCheckpoint)
			}
		}
		if job.MicroStep != nil {
			if cfg.Accumulation > 1 {
				scaleGrads(params, 1/float32(cfg.Accumulation))
			}
			norm = ClipGradNorm(params, clipLimit(cfg.Clip))
			if math.IsNaN(norm) || math.IsInf(norm, 0) {
				return nil, fmt.Errorf("%s: gradient norm is %v at step %d; stopped without saving (last good checkpoint: %s)", name, norm, step, lastGoodCheckpoint)
			}
			opt.Step(lr)
		}
		trainTime += time.Since(t0)
		windowLoss += loss
		windowN++
		done := step + 1

		last := done == cfg.Steps
		logNow := done%logEvery == 0 || last
		evalNow := job.Evaluate != nil && ((cfg.EvalInterval > 0 && done%cfg.EvalInterval == 0) || last)
		var line map[string]float64
		if logNow || evalNow {
			line = map[string]float64{
				"step": float64(done), "loss": windowLoss / float64(windowN), "lr": lr,
				"tokens_per_s": float64(windowTokens) / time.Since(windowStart).Seconds(),
				"elapsed_s":    time.Since(begin).Seconds(),
			}
			if !math.IsNaN(norm) {
				line["grad_norm"] = norm
			}
			for k, v := range stepStats {
				line[k] = v
				metrics[k] = v
			}
			metrics["loss"] = line["loss"]
			windowLoss, windowN, windowTokens, windowStart = 0, 0, 0, time.Now()
			if evalNow {
				ev, err := job.Evaluate(ctx)
				if err != nil {
					if ctx.Err() != nil {
						return nil, stopped(done, ctx.Err())
					}
					return nil, fmt.Errorf("%s: evaluation at step %d: %w", name, done, err)
				}
				for k, v := range ev {
					line[k] = v
					metrics[k] = v
				}
				windowStart = time.Now() // evaluation time is not training time
			}
			if err := mlog.Write(line); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			log.Info("metrics", "stage", name, "step", done, "of", cfg.Steps, "values", FormatMetrics(line))
		}
		if cfg.OnProgress != nil {
			cfg.OnProgress(Progress{
				Name: name, Step: done, Steps: cfg.Steps, Resumed: start, Loss: loss, LR: lr,
				TokensPerSecond: float64(trainTokens) / trainTime.Seconds(), Metrics: line,
			})
		}
		if cfg.CheckpointInterval > 0 && done%cfg.CheckpointInterval == 0 && !last {
			if err := save(done, false); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
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
			return nil, fmt.Errorf("%s: finishing: %w", name, err)
		}
	}
	if err := save(cfg.Steps, true); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	res.Steps, res.Metrics = cfg.Steps, metrics
	res.Checkpoint = &model.Checkpoint{Stage: job.Stage, Model: job.Model, Tokenizer: job.Tokenizer, Parent: job.Parent,
		Step: cfg.Steps, Metrics: metrics, Extra: job.Extra}
	return res, nil
}

// clipLimit maps Config.Clip (0: none) to ClipGradNorm's limit (negative: none).
func clipLimit(c float64) float64 {
	if c == 0 {
		return -1
	}
	return c
}

// Clip clips params' global gradient norm to the step's Clip (nothing when it is 0) and
// returns the norm before clipping.
func (s *StepContext) ClipGrads(params []*Param) float64 {
	return ClipGradNorm(params, clipLimit(s.Clip))
}

// trainable returns m's parameters with their gradient buffers allocated.
func trainable(m *model.Model) []*Param {
	for _, p := range m.Params {
		if p.Grad == nil {
			p.Grad = make([]float32, len(p.Data))
		}
	}
	return m.Params
}

func scaleGrads(params []*Param, s float32) {
	for _, p := range params {
		for i := range p.Grad {
			p.Grad[i] *= s
		}
	}
}

// runSettings flattens what identifies a run — the training config, the stage's settings and
// the data fingerprint — into "field: value" entries (JSON values), compared on resume.
func runSettings(cfg Config, job Job) (map[string]string, error) {
	out := map[string]string{}
	// add records v's fields; a field already recorded keeps its value, so a stage's settings
	// that embed a (zeroed) Config do not shadow the training config's fields.
	add := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("recording the run's settings: %w", err)
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(b, &fields); err != nil {
			return fmt.Errorf("recording the run's settings: they must be a JSON object: %w", err)
		}
		for k, raw := range fields {
			if _, done := out[k]; done {
				continue
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, raw); err != nil {
				return err
			}
			out[k] = buf.String()
		}
		return nil
	}
	if err := add(cfg); err != nil {
		return nil, err
	}
	if job.Settings != nil {
		if err := add(job.Settings); err != nil {
			return nil, err
		}
	}
	if job.DataFingerprint != "" {
		out["data"] = strconv.Quote(job.DataFingerprint)
	}
	return out, nil
}

// diffSettings lists the entries that differ between a checkpoint's recorded settings and
// this run's, as "Field: checkpoint X, this run Y".
func diffSettings(old, cur map[string]string) []string {
	keys := map[string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range cur {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		o, okO := old[k]
		c, okC := cur[k]
		switch {
		case okO && okC && o == c:
		case !okO:
			out = append(out, fmt.Sprintf("%s: not recorded in the checkpoint, this run %s", k, c))
		case !okC:
			out = append(out, fmt.Sprintf("%s: checkpoint %s, not set in this run", k, o))
		default:
			out = append(out, fmt.Sprintf("%s: checkpoint %s, this run %s", k, o, c))
		}
	}
	sort.Strings(out)
	return out
}

// resume loads cfg.Out if it exists and the policy says so. It reports done when the
// checkpoint is a finished run with the same settings (res is then filled in and the model
// holds its weights).
func resume(cfg Config, job Job, settings map[string]string, opt *AdamW, res *Result) (done bool, err error) {
	if cfg.Resume == StartOver {
		return false, nil
	}
	if _, err := os.Stat(cfg.Out); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	ck, err := model.LoadStage(cfg.Out, job.Stage)
	if err != nil {
		return false, fmt.Errorf("cannot resume: %w", err)
	}
	if raw, ok := ck.Extra[metaSettings]; ok {
		var old map[string]string
		if err := json.Unmarshal([]byte(raw), &old); err != nil {
			return false, fmt.Errorf("cannot resume from %s: its recorded settings: %w", cfg.Out, err)
		}
		if d := diffSettings(old, settings); len(d) > 0 {
			return false, fmt.Errorf("%w: %s (%s); delete it, choose another Out, or set Resume to train.StartOver",
				ErrRunDiffers, cfg.Out, strings.Join(d, "; "))
		}
	}
	if ck.Model.Config != job.Model.Config {
		return false, fmt.Errorf("%w: %s holds a model with config %+v, this run's is %+v; delete it or set Resume to train.StartOver",
			ErrRunDiffers, cfg.Out, ck.Model.Config, job.Model.Config)
	}
	if ck.Extra[metaComplete] == "true" {
		if ck.Step != cfg.Steps {
			return false, fmt.Errorf("%w: %s is a finished run of %d steps, this run asks for %d; delete it or set Resume to train.StartOver",
				ErrRunDiffers, cfg.Out, ck.Step, cfg.Steps)
		}
		res.Steps, res.Metrics, res.Skipped = ck.Step, ck.Metrics, true
		res.Checkpoint = &model.Checkpoint{Stage: ck.Stage, Model: job.Model, Tokenizer: ck.Tokenizer, Parent: ck.Parent,
			Step: ck.Step, Metrics: ck.Metrics, Extra: ck.Extra}
		return true, job.Model.CopyFrom(ck.Model)
	}
	if ck.Step > cfg.Steps {
		return false, fmt.Errorf("%w: %s is at step %d, past this run's %d steps", ErrRunDiffers, cfg.Out, ck.Step, cfg.Steps)
	}
	if err := job.Model.CopyFrom(ck.Model); err != nil {
		return false, fmt.Errorf("resuming from %s: %w", cfg.Out, err)
	}
	optStep, err := strconv.Atoi(ck.Extra[metaOptStep])
	if err != nil {
		return false, fmt.Errorf("resuming from %s: optimizer step %q: %w", cfg.Out, ck.Extra[metaOptStep], err)
	}
	// Aux models' tensors are "optim.aux.NAME.PARAM" (weights) and "optim.aux.NAME.optim.PARAM.m"
	// (their optimizer's moments); everything else under "optim." is the main optimizer's.
	main := map[string][]float32{}
	aux := map[string]map[string][]float32{}
	for _, t := range ck.Optimizer {
		if rest, ok := strings.CutPrefix(t.Name, auxPrefix); ok {
			an, tn, _ := strings.Cut(rest, ".")
			if aux[an] == nil {
				aux[an] = map[string][]float32{}
			}
			aux[an][tn] = t.Data
			continue
		}
		main[t.Name] = t.Data
	}
	if err := opt.LoadState(main, optStep); err != nil {
		return false, fmt.Errorf("resuming from %s: %w", cfg.Out, err)
	}
	for _, a := range job.Aux {
		st := aux[a.Name]
		for _, p := range a.Model.Params {
			w, ok := st[p.Name]
			if !ok || len(w) != len(p.Data) {
				return false, fmt.Errorf("resuming from %s: the %s model's tensor %q is missing or mis-sized", cfg.Out, a.Name, p.Name)
			}
			copy(p.Data, w)
		}
		auxStep, err := strconv.Atoi(ck.Extra[metaOptStep+"."+a.Name])
		if err != nil {
			return false, fmt.Errorf("resuming from %s: the %s model's optimizer step %q: %w", cfg.Out, a.Name, ck.Extra[metaOptStep+"."+a.Name], err)
		}
		if err := a.Optimizer.LoadState(st, auxStep); err != nil {
			return false, fmt.Errorf("resuming from %s: the %s model's optimizer: %w", cfg.Out, a.Name, err)
		}
	}
	if job.LoadState != nil {
		if err := job.LoadState(ck.Extra[metaLoader]); err != nil {
			return false, fmt.Errorf("resuming from %s: the job's state: %w", cfg.Out, err)
		}
	}
	res.Resumed = ck.Step
	return false, nil
}

// saveCheckpoint writes the model at step; unfinished checkpoints carry the optimizer state,
// the aux models and the job's state.
func saveCheckpoint(cfg Config, job Job, settings map[string]string, opt *AdamW, step int, metrics map[string]float64, complete bool) error {
	extra := map[string]string{}
	for k, v := range job.Extra {
		extra[k] = v
	}
	sb, err := json.Marshal(settings)
	if err != nil {
		return err
	}
	extra[metaSettings] = string(sb)
	ck := &model.Checkpoint{
		Stage: job.Stage, Model: job.Model, Tokenizer: job.Tokenizer, Parent: job.Parent,
		Step: step, Metrics: metrics, Extra: extra,
	}
	if complete {
		extra[metaComplete] = "true"
	} else {
		// The moments as they are, not copies: the checkpoint is written before the
		// optimizer steps again.
		tensors, optStep := opt.state(false)
		for _, t := range tensors {
			ck.Optimizer = append(ck.Optimizer, safetensors.Tensor{Name: t.Name, Shape: t.Shape, Data: t.Data})
		}
		for _, a := range job.Aux {
			for _, p := range a.Model.Params {
				ck.Optimizer = append(ck.Optimizer, safetensors.Tensor{Name: auxPrefix + a.Name + "." + p.Name, Shape: p.Shape, Data: p.Data})
			}
			st, auxStep := a.Optimizer.state(false)
			extra[metaOptStep+"."+a.Name] = strconv.Itoa(auxStep)
			for _, t := range st {
				ck.Optimizer = append(ck.Optimizer, safetensors.Tensor{Name: auxPrefix + a.Name + "." + t.Name, Shape: t.Shape, Data: t.Data})
			}
		}
		extra[metaOptStep] = strconv.Itoa(optStep)
		if job.SaveState != nil {
			st, err := job.SaveState()
			if err != nil {
				return fmt.Errorf("saving the job's state: %w", err)
			}
			extra[metaLoader] = st
		}
	}
	if dir := filepath.Dir(cfg.Out); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return ck.Save(cfg.Out)
}

// MetricsLog appends one JSON object per line to a metrics file.
type MetricsLog struct{ f *os.File }

// OpenMetricsLog opens (creating folders as needed) the metrics log at path for a run that
// starts at step start: a fresh run (start 0) truncates it; a resumed run keeps the lines up to
// its checkpoint's step and drops any later ones (written after that checkpoint by the run that
// was interrupted), so that the log reads as one uninterrupted run.
func OpenMetricsLog(path string, start int) (*MetricsLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("metrics log: %w", err)
	}
	flag := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if start > 0 {
		if err := truncateMetrics(path, start); err != nil {
			return nil, err
		}
		flag = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metrics log: %w", err)
	}
	return &MetricsLog{f: f}, nil
}

// truncateMetrics rewrites the log at path (atomically) without the lines whose step is past
// step. A missing log is left missing; an unreadable line ends the kept part.
func truncateMetrics(path string, step int) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("metrics log: %w", err)
	}
	var keep []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		var m map[string]float64
		if json.Unmarshal(line, &m) != nil || !bytes.HasSuffix(line, []byte("\n")) || m["step"] > float64(step) {
			break
		}
		keep = append(keep, line...)
	}
	if len(keep) == len(b) {
		return nil
	}
	tmp := path + ".truncate"
	if err := os.WriteFile(tmp, keep, 0o644); err != nil {
		return fmt.Errorf("metrics log: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("metrics log: %w", err)
	}
	return nil
}

// Write appends one line.
func (l *MetricsLog) Write(m map[string]float64) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("metrics log: %w", err)
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("metrics log %s: %w", l.f.Name(), err)
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

// FormatMetrics renders a metrics line as "step=N k=v …" with the other keys sorted.
func FormatMetrics(m map[string]float64) string {
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
