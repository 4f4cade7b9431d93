package train

import (
	"errors"
	"fmt"
	"log/slog"
	"math"

	"github.com/tinychat-go/tinychat/model"
)

// DefaultSeed is the seed every stage's DefaultConfig uses.
const DefaultSeed = 1337

// Config is the training configuration that every stage's config embeds (pretrain.Config,
// sft.Config, reward.Config, rlhf.PPOConfig, rlhf.DPOConfig): its fields are promoted, so a
// stage's learning rate is cfg.LR whatever the stage.
//
// Start from a stage's DefaultConfig and change what you need: every field means what it says,
// zero included (WarmupSteps 0 is no warm-up, WeightDecay 0 is none, Clip 0 is no clipping).
// The fields that a stage cannot do without (Steps, LR, Batch, Accumulation, Out) are
// checked by Validate, which names the field; a zero Config is therefore not runnable. Values
// that depend on other fields are given as ratios so that they follow them: the warm-up is
// WarmupRatio·Steps (unless WarmupSteps is set) and the floor of the cosine decay is
// MinLRRatio·LR.
type Config struct {
	// Steps is the number of optimizer steps (> 0; stages whose DefaultConfig says so derive
	// it from their data when it is 0, e.g. one epoch).
	Steps int
	// Batch is the number of rows (sequences) per micro-batch (> 0), and Accumulation the
	// number of micro-batches whose gradients are averaged into one step (≥ 1).
	Batch, Accumulation int
	// LR is the peak learning rate (> 0). MinLRRatio is the floor of the cosine decay as a
	// fraction of LR, in [0, 1] (1 keeps the rate constant after warm-up).
	LR, MinLRRatio float64
	// WarmupSteps is the number of linear warm-up steps; when 0, the warm-up is
	// round(WarmupRatio·Steps) steps (WarmupRatio in [0, 1)).
	WarmupSteps int
	WarmupRatio float64
	// WeightDecay is AdamW's decoupled weight decay on matrices (≥ 0; 0 is none); Beta1 and
	// Beta2 its moment decay rates, in (0, 1).
	WeightDecay, Beta1, Beta2 float64
	// Clip is the global gradient-norm limit (≥ 0; 0 disables clipping).
	Clip float64
	// EvalInterval evaluates every so many steps (0: at the end only), LogInterval logs the
	// metrics every so many steps (0: Steps/50, at least 1), and CheckpointInterval writes a
	// resumable checkpoint every so many steps (0: at the end only, and when the context is
	// cancelled).
	EvalInterval, LogInterval, CheckpointInterval int `json:"-"`
	// Seed seeds everything random in the run: initialisation, batches, dropout, sampling.
	Seed uint64
	// Recompute makes the stage's training graphs recompute each transformer block's
	// activations in the backward pass instead of keeping them (model.GraphConfig.Recompute,
	// activation checkpointing): for large models, whose activations dominate memory, at about
	// a quarter more time per step; the numbers are the same to the bit (default false).
	Recompute bool `json:"-"`
	// Precision is the arithmetic of the stage's training graphs' matrix products:
	// model.FP32 (the default) or model.BF16, mixed precision (see model.Precision). It changes
	// the numbers, so it is recorded with the run's settings; evaluation, sampling and the
	// checkpoint stay float32.
	Precision model.Precision `json:"precision,omitempty"`
	// Out is the checkpoint path (required); the metrics log goes beside it (MetricsPath).
	Out string `json:"-"`
	// Resume says what to do with a checkpoint already at Out (default ResumeSame).
	Resume ResumePolicy `json:"-"`
	// Logger receives the run's log lines: what was resumed or skipped, and the metrics every
	// LogInterval steps (nil: none; the library writes nothing on its own).
	Logger *slog.Logger `json:"-"`
	// OnProgress, when set, is called after every step (see Progress); the example programs
	// draw a progress bar with it.
	OnProgress func(Progress) `json:"-"`
}

// DefaultConfig returns the base every stage's DefaultConfig starts from: 1000 steps of batch
// 12 without accumulation, peak LR 1e-3 decaying to a tenth of it after a warm-up of 5% of the
// steps, AdamW with β1 0.9, β2 0.99 and weight decay 0.1, clipping at norm 1, seed
// DefaultSeed. Out must still be set.
func DefaultConfig() Config {
	return Config{
		Steps: 1000, Batch: 12, Accumulation: 1,
		LR: 1e-3, MinLRRatio: 0.1, WarmupRatio: 0.05,
		WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.99, Clip: 1,
		Seed: DefaultSeed,
	}
}

// Progress is what Config.OnProgress receives after each step.
type Progress struct {
	// Name is the stage's name, Step the steps done (1-based) and Steps their total; Resumed
	// is the step the run resumed from (0 for a fresh run).
	Name                 string
	Step, Steps, Resumed int
	// Loss is the step's training loss, LR its learning rate, TokensPerSecond the training
	// throughput so far.
	Loss, LR, TokensPerSecond float64
	// Metrics are the metrics logged at this step (nil between log intervals).
	Metrics map[string]float64
}

// ResumePolicy says what Run does when Out already holds a checkpoint of the stage.
type ResumePolicy int

const (
	// ResumeSame (the default) continues an unfinished run whose recorded settings (the
	// training config, the stage's settings and the data fingerprint) equal this run's, and
	// returns a finished one with equal settings as it is (Result.Skipped, with a log line).
	// A checkpoint whose settings differ is an error wrapping ErrRunDiffers that names each
	// difference; nothing is trained or written.
	ResumeSame ResumePolicy = iota
	// StartOver ignores any checkpoint at Out and trains from the start; the old file is
	// replaced by the run's first checkpoint.
	StartOver
)

// ErrRunDiffers is wrapped by Run's error when Out holds a checkpoint of a run with other
// settings.
var ErrRunDiffers = errors.New("the checkpoint at Out was made by a run with other settings")

// ErrConfig is wrapped by Validate's errors.
var ErrConfig = errors.New("invalid training config")

// Validate checks every field and returns an error wrapping ErrConfig that names the first
// bad one as it is spelled in Config (so also in every stage config that embeds it).
func (c Config) Validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: %s is %v, want %s", ErrConfig, field, v, want)
	}
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case c.Steps <= 0:
		return bad("Steps", c.Steps, "> 0")
	case c.Batch <= 0:
		return bad("Batch", c.Batch, "> 0")
	case c.Accumulation < 1:
		return bad("Accumulation", c.Accumulation, "≥ 1")
	case !(c.LR > 0) || !finite(c.LR):
		return bad("LR", c.LR, "> 0")
	case !(c.MinLRRatio >= 0 && c.MinLRRatio <= 1):
		return bad("MinLRRatio", c.MinLRRatio, "in [0, 1]")
	case c.WarmupSteps < 0:
		return bad("WarmupSteps", c.WarmupSteps, "≥ 0")
	case !(c.WarmupRatio >= 0 && c.WarmupRatio < 1):
		return bad("WarmupRatio", c.WarmupRatio, "in [0, 1)")
	case c.WarmupSteps >= c.Steps && c.WarmupSteps > 0:
		return bad("WarmupSteps", c.WarmupSteps, fmt.Sprintf("< Steps (%d)", c.Steps))
	case !(c.WeightDecay >= 0) || !finite(c.WeightDecay):
		return bad("WeightDecay", c.WeightDecay, "≥ 0 (0 for none)")
	case !(c.Beta1 > 0 && c.Beta1 < 1):
		return bad("Beta1", c.Beta1, "in (0, 1)")
	case !(c.Beta2 > 0 && c.Beta2 < 1):
		return bad("Beta2", c.Beta2, "in (0, 1)")
	case !(c.Clip >= 0) || !finite(c.Clip):
		return bad("Clip", c.Clip, "≥ 0 (0 for no clipping)")
	case c.EvalInterval < 0:
		return bad("EvalInterval", c.EvalInterval, "≥ 0")
	case c.LogInterval < 0:
		return bad("LogInterval", c.LogInterval, "≥ 0")
	case c.CheckpointInterval < 0:
		return bad("CheckpointInterval", c.CheckpointInterval, "≥ 0")
	case c.Out == "":
		return bad("Out", `""`, "the checkpoint path")
	case c.Resume != ResumeSame && c.Resume != StartOver:
		return bad("Resume", int(c.Resume), "ResumeSame or StartOver")
	case c.Precision != model.FP32 && c.Precision != model.BF16:
		return bad("Precision", fmt.Sprintf("%q", string(c.Precision)), `model.FP32 ("") or model.BF16 ("bf16")`)
	}
	return nil
}

// Warmup returns the number of warm-up steps: WarmupSteps if set, else round(WarmupRatio·Steps).
func (c Config) Warmup() int {
	if c.WarmupSteps > 0 {
		return c.WarmupSteps
	}
	return int(math.Round(c.WarmupRatio * float64(c.Steps)))
}

// MinLR returns the floor of the cosine decay, MinLRRatio·LR.
func (c Config) MinLR() float64 { return c.MinLRRatio * c.LR }

// Schedule returns the run's learning-rate schedule: Warmup() steps of linear warm-up, then
// cosine decay from LR to MinLR() at Steps.
func (c Config) Schedule() Schedule {
	return Schedule{MaxLR: c.LR, MinLR: c.MinLR(), Warmup: c.Warmup(), DecaySteps: c.Steps}
}

// logInterval is LogInterval or its derived default.
func (c Config) logInterval() int {
	if c.LogInterval > 0 {
		return c.LogInterval
	}
	return max(1, c.Steps/50)
}

// adamW is the optimizer configuration the fields describe.
func (c Config) adamW() AdamWConfig {
	return AdamWConfig{Beta1: c.Beta1, Beta2: c.Beta2, WeightDecay: c.WeightDecay, NoWeightDecay: c.WeightDecay == 0}
}

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}
