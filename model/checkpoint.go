package model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model/safetensors"
)

// FormatVersion is the checkpoint format version written into every file's metadata.
const FormatVersion = 1

// The training stages a checkpoint can come from.
const (
	StagePretrain = "pretrain"
	StageSFT      = "sft"
	StageReward   = "reward"
	StageRLHF     = "rlhf"
)

// optimPrefix starts the names of optimizer-state tensors stored beside the weights.
const optimPrefix = "optim."

// Checkpoint is everything one checkpoint file holds: the weights, how they were made, and
// optionally the optimizer state for resuming.
//
// On disk it is one safetensors file: the weights under their GPT-2 names, the optimizer's
// moments under "optim." names, and in "__metadata__" the format version, stage, model config
// (JSON), tokenizer (JSON), parent checkpoint SHA-256, step, the stage's final metrics (JSON)
// and any stage-specific Extra entries.
type Checkpoint struct {
	// Stage is one of StagePretrain, StageSFT, StageReward, StageRLHF.
	Stage string
	// Model holds the config and weights.
	Model *Model
	// Tokenizer is the vocabulary the model was trained with.
	Tokenizer tokenizer.Tokenizer
	// Parent is the SHA-256 (hex) of the checkpoint file this one was trained from ("" for
	// none). Stages with further parents (RLHF's reward model) record them in Extra.
	Parent string
	// Step is the number of optimizer steps taken in this stage.
	Step int
	// Metrics are the stage's final (or latest) metrics.
	Metrics map[string]float64
	// Extra holds stage-specific metadata (string values).
	Extra map[string]string
	// Optimizer is the optimizer state for resuming (nil when not stored); each tensor's name
	// starts with "optim.".
	Optimizer []safetensors.Tensor
}

// Save writes the checkpoint to path atomically (a temporary file in the same folder, synced,
// then renamed), so a failure never leaves a broken file at path.
func (c *Checkpoint) Save(path string) error {
	if c.Model == nil || c.Tokenizer == nil {
		return fmt.Errorf("model: saving %s: checkpoint needs a model and a tokenizer", path)
	}
	if c.Tokenizer.VocabSize() != c.Model.Config.VocabSize {
		return fmt.Errorf("model: saving %s: tokenizer has %d tokens but the model's vocab size is %d", path, c.Tokenizer.VocabSize(), c.Model.Config.VocabSize)
	}
	cfg, err := json.Marshal(c.Model.Config)
	if err != nil {
		return fmt.Errorf("model: saving %s: %w", path, err)
	}
	tok, err := c.Tokenizer.MarshalJSON()
	if err != nil {
		return fmt.Errorf("model: saving %s: tokenizer: %w", path, err)
	}
	metrics, err := json.Marshal(c.Metrics)
	if err != nil {
		return fmt.Errorf("model: saving %s: metrics: %w", path, err)
	}
	meta := map[string]string{}
	for k, v := range c.Extra {
		meta[k] = v
	}
	meta["format_version"] = strconv.Itoa(FormatVersion)
	meta["stage"] = c.Stage
	meta["config"] = string(cfg)
	meta["tokenizer"] = string(tok)
	meta["parent_sha256"] = c.Parent
	meta["step"] = strconv.Itoa(c.Step)
	meta["metrics"] = string(metrics)
	tensors := make([]safetensors.Tensor, 0, len(c.Model.Params)+len(c.Optimizer))
	for _, p := range c.Model.Params {
		tensors = append(tensors, safetensors.Tensor{Name: p.Name, Shape: p.Shape, Data: p.Data})
	}
	for _, t := range c.Optimizer {
		if !strings.HasPrefix(t.Name, optimPrefix) {
			return fmt.Errorf("model: saving %s: optimizer tensor %q must be named %s…", path, t.Name, optimPrefix)
		}
		tensors = append(tensors, t)
	}
	if err := safetensors.WriteFile(path, tensors, meta); err != nil {
		return fmt.Errorf("model: saving checkpoint: %w", err)
	}
	return nil
}

// reservedMeta are the metadata keys Save writes itself (everything else is Extra).
var reservedMeta = []string{"format_version", "stage", "config", "tokenizer", "parent_sha256", "step", "metrics"}

// LoadCheckpoint reads and validates a checkpoint file. Every error names the file and what is
// wrong: a malformed file, an unknown format version or stage, a bad config, a tokenizer whose
// size differs from the vocab, missing, unexpected or mis-shaped tensors.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model: loading checkpoint: %w", err)
	}
	fail := func(format string, args ...any) (*Checkpoint, error) {
		return nil, fmt.Errorf("model: checkpoint %s: %w", path, fmt.Errorf(format, args...))
	}
	meta := f.Metadata
	if v := meta["format_version"]; v != strconv.Itoa(FormatVersion) {
		return fail("format version %q, want %d (is this a tinychat checkpoint?)", v, FormatVersion)
	}
	c := &Checkpoint{Stage: meta["stage"], Parent: meta["parent_sha256"], Extra: map[string]string{}}
	if !slices.Contains([]string{StagePretrain, StageSFT, StageReward, StageRLHF}, c.Stage) {
		return fail("unknown stage %q", c.Stage)
	}
	var cfg Config
	if err := json.Unmarshal([]byte(meta["config"]), &cfg); err != nil {
		return fail("model config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return fail("%w", err)
	}
	if c.Tokenizer, err = tokenizer.Unmarshal([]byte(meta["tokenizer"])); err != nil {
		return fail("tokenizer: %w", err)
	}
	if c.Tokenizer.VocabSize() != cfg.VocabSize {
		return fail("tokenizer has %d tokens but the config's vocab size is %d", c.Tokenizer.VocabSize(), cfg.VocabSize)
	}
	if c.Step, err = strconv.Atoi(meta["step"]); err != nil || c.Step < 0 {
		return fail("step %q is not a non-negative integer", meta["step"])
	}
	if m := meta["metrics"]; m != "" && m != "null" {
		if err := json.Unmarshal([]byte(m), &c.Metrics); err != nil {
			return fail("metrics: %w", err)
		}
	}
	for k, v := range meta {
		if !slices.Contains(reservedMeta, k) {
			c.Extra[k] = v
		}
	}
	m := newEmpty(cfg)
	want := map[string]bool{}
	for _, p := range m.Params {
		want[p.Name] = true
		t, ok := f.Get(p.Name)
		if !ok {
			return fail("missing tensor %q", p.Name)
		}
		if !slices.Equal(t.Shape, p.Shape) {
			return fail("tensor %q has shape %v, the config needs %v", p.Name, t.Shape, p.Shape)
		}
		p.Data = t.Data
	}
	for _, t := range f.Tensors {
		switch {
		case want[t.Name]:
		case strings.HasPrefix(t.Name, optimPrefix):
			c.Optimizer = append(c.Optimizer, t)
		default:
			return fail("unexpected tensor %q (not part of a model with this config)", t.Name)
		}
	}
	c.Model = m
	return c, nil
}

// LoadStage loads a checkpoint and checks that it comes from one of the given stages.
func LoadStage(path string, stages ...string) (*Checkpoint, error) {
	c, err := LoadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(stages, c.Stage) {
		return nil, fmt.Errorf("model: checkpoint %s is from the %q stage; this needs a %s checkpoint", path, c.Stage, strings.Join(stages, " or "))
	}
	return c, nil
}

// FileSHA256 returns the hex SHA-256 of a file, as recorded in a child checkpoint's Parent.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("model: hashing %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("model: hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
