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

// FormatVersion is the checkpoint format version written into every file's metadata. Version 2
// added the checksums (data_sha256, metadata_sha256) and the descriptions (architecture,
// tokenizer_layout, chat_template); version 1 files, which have neither, still load.
// docs/checkpoint-format.md describes the format.
const FormatVersion = 2

// minFormatVersion is the oldest format version LoadCheckpoint reads.
const minFormatVersion = 1

// Stage names the training stage a checkpoint comes from.
type Stage string

// The training stages a checkpoint can come from.
const (
	StagePretrain Stage = "pretrain"
	StageSFT      Stage = "sft"
	StageReward   Stage = "reward"
	StageRLHF     Stage = "rlhf"
)

// optimPrefix starts the names of optimizer-state tensors stored beside the weights.
const optimPrefix = "optim."

// Checkpoint is everything one checkpoint file holds: the weights, how they were made, and
// optionally the optimizer state for resuming.
//
// On disk it is one safetensors file: the weights under their GPT-2 names, the optimizer's
// moments under "optim." names, and in "__metadata__" the format version, stage, model config
// (JSON), tokenizer (JSON), parent checkpoint SHA-256, step, the stage's final metrics (JSON),
// any stage-specific Extra entries, two checksums (of the tensor data and of the rest of the
// header) that loading verifies, and a description of the computation, the tokenizer's ID
// layout and the chat template for reimplementations (docs/checkpoint-format.md).
type Checkpoint struct {
	// Stage is one of StagePretrain, StageSFT, StageReward, StageRLHF.
	Stage Stage
	// Model holds the config and weights.
	Model *Model
	// Tokenizer is the vocabulary the model was trained with.
	Tokenizer tokenizer.Tokenizer
	// Parent identifies the checkpoint this one was trained from: its Fingerprint (checkpoints
	// written before fingerprints recorded the parent file's SHA-256 instead); "" for none.
	// Stages with further parents (RLHF's reward model) record them in Extra.
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
// then renamed), so a failure never leaves a broken file at path. A weight or optimizer value
// that is NaN or infinite is an error naming the tensor (such a file would not load).
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
	meta["stage"] = string(c.Stage)
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
	for _, t := range tensors {
		if err := checkFinite(t); err != nil {
			return fmt.Errorf("model: saving %s: %w", path, err)
		}
	}
	if err := describe(meta, c.Model.Config, c.Tokenizer); err != nil {
		return fmt.Errorf("model: saving %s: %w", path, err)
	}
	if err := seal(meta, tensors); err != nil {
		return fmt.Errorf("model: saving %s: %w", path, err)
	}
	if err := safetensors.WriteFile(path, tensors, meta); err != nil {
		return fmt.Errorf("model: saving checkpoint: %w", err)
	}
	return nil
}

// reservedMeta are the metadata keys Save writes itself (everything else is Extra).
var reservedMeta = []string{"format_version", "stage", "config", "tokenizer", "parent_sha256", "step", "metrics",
	metaDataSHA256, metaMetadataSHA256, metaArchitecture, metaTokenizerLayout, metaChatTemplate}

// LoadCheckpoint reads and validates a checkpoint file. Every error names the file and what is
// wrong: a malformed file, a file whose data or header does not match its checksums (wrapping
// ErrDamaged), an unknown format version or stage, a bad config, a tokenizer whose size differs
// from the vocab, missing, unexpected or mis-shaped tensors, a NaN or infinite value (naming the
// tensor).
//
// To learn only a checkpoint's stage, step, metrics or whether it holds optimizer state,
// ReadCheckpointInfo is much cheaper.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model: loading checkpoint: %w", err)
	}
	fail := func(err error) (*Checkpoint, error) {
		return nil, fmt.Errorf("model: checkpoint %s: %w", path, err)
	}
	infos := tensorInfos(f.Tensors)
	if err := checkHeaderSum(f.Metadata, infos); err != nil {
		return fail(err)
	}
	if err := checkDataSum(f.Metadata, f.DataSHA256); err != nil {
		return fail(err)
	}
	info, err := parseCheckpointMeta(f.Metadata)
	if err != nil {
		return fail(err)
	}
	c := &Checkpoint{Stage: info.Stage, Parent: info.Parent, Step: info.Step, Metrics: info.Metrics, Extra: info.Extra}
	if c.Tokenizer, err = tokenizer.Unmarshal([]byte(f.Metadata["tokenizer"])); err != nil {
		return fail(fmt.Errorf("tokenizer: %w", err))
	}
	if c.Tokenizer.VocabSize() != info.Config.VocabSize {
		return fail(fmt.Errorf("tokenizer has %d tokens but the config's vocab size is %d", c.Tokenizer.VocabSize(), info.Config.VocabSize))
	}
	if err := info.checkTensors(infos); err != nil {
		return fail(err)
	}
	for _, t := range f.Tensors {
		if err := checkFinite(t); err != nil {
			return fail(err)
		}
	}
	m := newEmpty(info.Config)
	for _, t := range f.Tensors {
		if p := m.Param(t.Name); p != nil {
			p.Data = t.Data
		} else { // checkTensors let through only weights and optimizer state
			c.Optimizer = append(c.Optimizer, t)
		}
	}
	c.Model = m
	return c, nil
}

// CheckpointInfo is what a checkpoint file's header says about it: everything a Checkpoint
// holds except the weights, the tokenizer and the optimizer's values.
type CheckpointInfo struct {
	// Stage is one of StagePretrain, StageSFT, StageReward, StageRLHF.
	Stage Stage
	// Config is the model's config (validated).
	Config Config
	// Parent identifies the checkpoint this one was trained from (see Checkpoint.Parent).
	Parent string
	// Step is the number of optimizer steps taken in the stage.
	Step int
	// Metrics are the stage's final (or latest) metrics; nil when none were stored.
	Metrics map[string]float64
	// Extra holds the stage-specific metadata (never nil).
	Extra map[string]string
	// HasOptimizer reports whether the file holds optimizer state ("optim." tensors). Training
	// stores it in the checkpoints it writes while a stage runs, for resuming, and leaves it
	// out of a stage's final checkpoint.
	HasOptimizer bool
}

// ReadCheckpointInfo reads only the header of the checkpoint file at path (no tensor values)
// and returns what it says. It validates what LoadCheckpoint validates except the tokenizer
// and the tensors' values: the header's checksum, the format version, stage, config, step and
// metrics, and that the tensors are exactly the weights the config needs, with the right
// shapes, plus optimizer state. So a file it accepts has every tensor LoadCheckpoint needs, but
// LoadCheckpoint can still reject a broken tokenizer or damaged or non-finite tensor data.
// Every error names path.
func ReadCheckpointInfo(path string) (CheckpointInfo, error) {
	h, err := safetensors.ReadHeader(path)
	if err != nil {
		return CheckpointInfo{}, fmt.Errorf("model: reading checkpoint info: %w", err)
	}
	err = checkHeaderSum(h.Metadata, h.Tensors)
	var info CheckpointInfo
	if err == nil {
		info, err = parseCheckpointMeta(h.Metadata)
	}
	if err == nil {
		err = info.checkTensors(h.Tensors)
	}
	if err != nil {
		return CheckpointInfo{}, fmt.Errorf("model: checkpoint %s: %w", path, err)
	}
	return info, nil
}

// parseCheckpointMeta validates a checkpoint's metadata, all but the tokenizer, and returns
// what it says (HasOptimizer is left for checkTensors). Errors do not name the file.
func parseCheckpointMeta(meta map[string]string) (CheckpointInfo, error) {
	fail := func(format string, args ...any) (CheckpointInfo, error) {
		return CheckpointInfo{}, fmt.Errorf(format, args...)
	}
	v := meta["format_version"]
	if n, err := strconv.Atoi(v); err != nil || n < minFormatVersion || n > FormatVersion {
		return fail("format version %q, want %d to %d (is this a tinychat checkpoint, written by this version or an older one?)", v, minFormatVersion, FormatVersion)
	}
	info := CheckpointInfo{Stage: Stage(meta["stage"]), Parent: meta["parent_sha256"], Extra: map[string]string{}}
	if !slices.Contains([]Stage{StagePretrain, StageSFT, StageReward, StageRLHF}, info.Stage) {
		return fail("unknown stage %q", info.Stage)
	}
	if err := json.Unmarshal([]byte(meta["config"]), &info.Config); err != nil {
		return fail("model config: %w", err)
	}
	if err := info.Config.Validate(); err != nil {
		return fail("%w", err)
	}
	var err error
	if info.Step, err = strconv.Atoi(meta["step"]); err != nil || info.Step < 0 {
		return fail("step %q is not a non-negative integer", meta["step"])
	}
	if m := meta["metrics"]; m != "" && m != "null" {
		if err := json.Unmarshal([]byte(m), &info.Metrics); err != nil {
			return fail("metrics: %w", err)
		}
	}
	for k, v := range meta {
		if !slices.Contains(reservedMeta, k) {
			info.Extra[k] = v
		}
	}
	return info, nil
}

// checkTensors checks a checkpoint's tensors (sorted by name) against info.Config: every
// weight present with its shape, nothing else but optimizer state. It sets info.HasOptimizer.
// Errors do not name the file.
func (info *CheckpointInfo) checkTensors(tensors []safetensors.TensorInfo) error {
	shapes := make(map[string][]int, len(tensors))
	for _, t := range tensors {
		shapes[t.Name] = t.Shape
	}
	want := map[string]bool{}
	for _, p := range info.Config.ParamShapes() {
		want[p.Name] = true
		shape, ok := shapes[p.Name]
		if !ok {
			return fmt.Errorf("missing tensor %q", p.Name)
		}
		if !slices.Equal(shape, p.Shape) {
			return fmt.Errorf("tensor %q has shape %v, the config needs %v", p.Name, shape, p.Shape)
		}
	}
	for _, t := range tensors {
		switch {
		case want[t.Name]:
		case strings.HasPrefix(t.Name, optimPrefix):
			info.HasOptimizer = true
		default:
			return fmt.Errorf("unexpected tensor %q (not part of a model with this config)", t.Name)
		}
	}
	return nil
}

// LoadStage loads a checkpoint and checks that it comes from one of the given stages.
func LoadStage(path string, stages ...Stage) (*Checkpoint, error) {
	c, err := LoadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(stages, c.Stage) {
		return nil, fmt.Errorf("model: checkpoint %s is from the %q stage; this needs a %s checkpoint", path, c.Stage, JoinStages(stages, " or "))
	}
	return c, nil
}

// JoinStages joins stage names with sep, for messages.
func JoinStages(stages []Stage, sep string) string {
	names := make([]string, len(stages))
	for i, s := range stages {
		names[i] = string(s)
	}
	return strings.Join(names, sep)
}

// FileSHA256 returns the hex SHA-256 of a file (what checkpoints written before fingerprints
// recorded as their Parent).
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
