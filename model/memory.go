package model

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// MemoryBudget is the most memory, in bytes, that the buffers of one Graph or Engine may need:
// NewGraph and NewEngine estimate their buffers before allocating any (EstimateGraphMemory,
// EstimateEngineMemory) and refuse a shape whose estimate exceeds the budget, with an error that
// names the settings and the estimate, instead of allocating until the runtime dies of "out of
// memory". Zero, the default, means the memory available when the graph or engine is made:
// MemAvailable from /proc/meminfo, or the cgroup's memory limit less its usage where that is
// lower; where neither can be read, FallbackMemoryBudget. A negative budget turns the check off.
var MemoryBudget int64

// FallbackMemoryBudget is the budget used when MemoryBudget is zero and the available memory
// cannot be read (not Linux, or no /proc).
const FallbackMemoryBudget int64 = 8 << 30

// EstimateGraphMemory returns the bytes of the buffers a Graph of config gc over a model of config
// cfg allocates, following its memory plan (GraphConfig.Memory, plan.go): under SharedBuffers,
// the default, a training graph keeps per layer the activations its backward pass reads (about
// 16 rows×width floats and the attention probabilities, batch·heads·block²) while the backward
// pass reuses one layer's buffers throughout; with Recompute only each block's input is kept
// and one block's activations are rebuilt at a time; a graph that does not train holds about
// one layer's activations whatever its depth. Add the logits and their softmax (batch·block·vocab
// twice, the softmax's memory reused for its gradient) and, for training, each parameter's Grad
// where the model has none yet (graphs sharing an Arena together need less than the sum of
// their estimates). It counts the large allocations only; for the shapes of
// TestEstimateGraphMemoryMatchesAllocation it is within 10% of the heap a graph keeps after it
// is built and run once (the test allows 25%). It saturates at math.MaxInt64.
func EstimateGraphMemory(cfg Config, gc GraphConfig) int64 {
	n := float64(gc.Batch) * float64(gc.Block) // rows
	c, v, t := float64(cfg.Width), float64(cfg.VocabSize), float64(gc.Block)
	layers := float64(cfg.Layers)
	nc := n * c
	probs := float64(gc.Batch) * float64(cfg.Heads) * t * t
	var masks float64 // dropout masks, kept from the forward pass to the backward pass
	if gc.Train && cfg.Dropout > 0 {
		masks = nc + layers*2*nc
	}
	var floats float64
	switch {
	case !gc.Train:
		floats = probs
	case gc.Memory == SeparateBuffers:
		// Per layer, forward: two LayerNorms (NC each), the qkv product (3·NC), attention (NC
		// and the probabilities), the projection (NC), two residual adds (NC each), the MLP's
		// product (4·NC), GELU (4·NC), the second projection (NC); backward: the
		// input gradients of the LayerNorms (2·NC), attention (3·NC and its scratch), GELU
		// (4·NC), the products (NC, NC, NC, 4·NC) and gorgonia's residual sums (2·NC).
		perLayer := 36*nc + 2*probs
		if cfg.LinearBias {
			perLayer += 9 * nc // the bias adds' outputs
		}
		if cfg.Dropout > 0 {
			perLayer += 4 * nc // two dropouts' outputs and input gradients
		}
		floats = layers*perLayer + 4*nc + 2*masks
	case gc.Recompute:
		floats = layers*nc + 17*nc + probs + masks
	default:
		// Kept for the backward pass, per layer: ln_1's and ln_2's outputs, qkv (3·NC), the
		// attention output, the residual between the two halves, the MLP's product and GELU's
		// output (4·NC each), the block's input, the attention probabilities.
		floats = layers*(16*nc+probs) + 4*nc + masks
	}
	if gc.Train {
		floats += float64(cfg.NumParams()) // Param.Grad
	}
	switch gc.Objective {
	case Values:
		floats += 2 * n
	default:
		floats += 2 * n * v // logits; softmax and its gradient
	}
	floats += 3 * n // tokens, targets, weights
	return saturate(4 * floats)
}

// EstimateEngineMemory returns the bytes of the buffers an Engine decoding batch sequences of a
// model of config cfg allocates: the key-value cache (2·layers·batch·block·width floats) and the
// per-step buffers (within 1% of the heap NewEngine allocates, TestEstimateEngineMemoryMatchesAllocation).
// It saturates at math.MaxInt64.
func EstimateEngineMemory(cfg Config, batch int) int64 {
	b, t, c, v := float64(batch), float64(cfg.BlockSize), float64(cfg.Width), float64(cfg.VocabSize)
	rows := math.Max(b, t)
	floats := 2*float64(cfg.Layers)*b*t*c + // key-value cache
		b*t + b*t*c + b*v + // tokens, hidden states, logits
		rows*(4*c+3*c+8*c+v) + // x, h, att, proj; qkv; fc, act; lg
		3*rows + 2*t + 2*b + 3*v // row indices, scores, window, feed, slots, sampler
	return saturate(4 * floats)
}

// saturate converts a byte count to int64, capped at math.MaxInt64.
func saturate(bytes float64) int64 {
	if bytes >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(bytes)
}

// checkMemory returns an error when need exceeds the budget; what says what is being made and
// with which settings, and hint what else would lower the need (or "").
func checkMemory(what string, need int64, hint string) error {
	budget, source := memoryBudget()
	if budget < 0 || need <= budget {
		return nil
	}
	return fmt.Errorf("model: %s needs about %s for its buffers, more than the %s available (%s): lower the batch or block size, or the model's width or vocabulary%s",
		what, formatBytes(need), formatBytes(budget), source, hint)
}

// memoryBudget returns the budget in bytes and where it comes from.
func memoryBudget() (int64, string) {
	if MemoryBudget != 0 {
		return MemoryBudget, "model.MemoryBudget"
	}
	if avail, src, ok := availableMemory(); ok {
		return avail, src + "; set model.MemoryBudget to change the limit"
	}
	return FallbackMemoryBudget, "model.FallbackMemoryBudget, as the available memory could not be read; set model.MemoryBudget to change the limit"
}

// availableMemory reads MemAvailable from /proc/meminfo and, where a cgroup (v2) memory limit
// is set, the limit less the usage, and returns the smaller.
func availableMemory() (int64, string, bool) {
	avail, src, ok := int64(-1), "", false
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if rest, found := strings.CutPrefix(sc.Text(), "MemAvailable:"); found {
				f := strings.Fields(rest)
				if len(f) == 2 && f[1] == "kB" {
					if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
						avail, src, ok = kb<<10, "MemAvailable in /proc/meminfo", true
					}
				}
			}
		}
	}
	limit, err1 := readInt("/sys/fs/cgroup/memory.max")
	used, err2 := readInt("/sys/fs/cgroup/memory.current")
	if err1 == nil && err2 == nil && limit > used && (!ok || limit-used < avail) {
		avail, src, ok = limit-used, "the cgroup's memory.max less memory.current", true
	}
	return avail, src, ok
}

// readInt reads a file holding one integer ("max" and other words are errors).
func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// formatBytes writes n bytes with a binary unit (KiB, MiB, GiB, TiB).
func formatBytes(n int64) string {
	const unit = 1 << 10
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), -1
	for f >= unit && i < 4 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTP"[i])
}

// graphMemoryWhat describes a graph's settings for checkMemory's error.
func graphMemoryWhat(cfg Config, gc GraphConfig) string {
	return fmt.Sprintf("a graph of batch %d × block %d (width %d, vocab %d, %d layers, %d heads)",
		gc.Batch, gc.Block, cfg.Width, cfg.VocabSize, cfg.Layers, cfg.Heads)
}

// checkGraphMemory refuses a graph whose buffers would not fit in the memory budget.
func checkGraphMemory(cfg Config, gc GraphConfig) error {
	hint := ""
	if gc.Train && !gc.Recompute {
		hint = fmt.Sprintf(", or recompute activations (GraphConfig.Recompute, train.Config.Recompute: about %s)",
			formatBytes(EstimateGraphMemory(cfg, GraphConfig{Batch: gc.Batch, Block: gc.Block, Objective: gc.Objective, Train: true, Recompute: true})))
	}
	return checkMemory(graphMemoryWhat(cfg, gc), EstimateGraphMemory(cfg, gc), hint)
}

// checkEngineMemory refuses an engine whose buffers would not fit in the memory budget.
func checkEngineMemory(cfg Config, batch int) error {
	return checkMemory(fmt.Sprintf("an engine of batch %d (block %d, width %d, vocab %d, %d layers)",
		batch, cfg.BlockSize, cfg.Width, cfg.VocabSize, cfg.Layers), EstimateEngineMemory(cfg, batch), "")
}
