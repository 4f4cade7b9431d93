package model

import (
	"errors"
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/tinychat-go/tinychat/internal/blas"
	"github.com/tinychat-go/tinychat/internal/kernels"
	"github.com/tinychat-go/tinychat/internal/workpool"
)

// Objective says what a Graph computes.
type Objective int

const (
	// LanguageModel is the weighted mean next-token cross-entropy of Targets under Weights
	// (pretraining and SFT). Loss holds it after Run and Logits the logits.
	LanguageModel Objective = iota
	// LogProbs computes log p(Targets[i] | Tokens[..i]) for every position into Output and, when
	// GraphConfig.Loss is set, a loss from them (PPO, DPO).
	LogProbs
	// Values computes the scalar head on every position's final hidden state into Output and,
	// when GraphConfig.Loss is set, a loss from them (reward and value models). The model needs
	// Config.ScalarHead.
	Values
	// Logits computes only the logits (forward only).
	Logits
)

// GraphConfig fixes a Graph's shape and what it computes.
type GraphConfig struct {
	// Batch and Block are the fixed input shape: Batch rows of Block tokens (pad and mask
	// shorter inputs). Block must not exceed the model's BlockSize.
	Batch, Block int
	// Objective selects the output (LanguageModel by default).
	Objective Objective
	// Loss turns the LogProbs or Values output into the scalar to minimise. Required for
	// training those objectives.
	Loss LossFunc
	// Train builds the backward pass, so Run accumulates gradients into the parameters' Grad,
	// and applies dropout.
	Train bool
	// Seed seeds the dropout masks.
	Seed uint64
	// Memory selects how the graph's buffers share memory (SharedBuffers by default).
	Memory MemoryPlan
	// Arena, when set, holds the graph's shared buffers together with those of the other
	// graphs on it, which must never run at the same time as this one (see Arena); nil gives
	// the graph an arena of its own. Under SeparateBuffers it is not used.
	Arena *Arena
	// Recompute keeps only each transformer block's input from the forward pass of a training
	// graph and runs the block's forward pass again just before its backward pass (activation
	// checkpointing): the activations of one block are in memory instead of all of them, for
	// about a third more arithmetic. The gradients are bit-identical to those without it.
	Recompute bool
	// Precision is the arithmetic of the linear layers' matrix products (FP32 by default;
	// BF16 for mixed precision).
	Precision Precision
	// Packed lets a row hold several sequences one after another: the graph gets Positions,
	// each token's position within its sequence, and a token attends only to the tokens of
	// its own sequence, so each sequence's outputs are those it would get alone in a row
	// (sequence packing: short conversations share a row instead of each padding one).
	Packed bool
}

// Precision is the arithmetic of a graph's linear-layer matrix products (the attention's QKV and
// output projections, the MLP's two layers, the LM head and the scalar head), forward and
// backward.
type Precision string

const (
	// FP32 multiplies in float32, as every other op does (the default, spelled "fp32").
	FP32 Precision = ""
	// BF16 is mixed precision: both operands of every linear-layer product — forward, input
	// gradient and weight gradient — are rounded to bfloat16 and the exact products summed in
	// float32. Weights, their gradients, the optimizer's state and every other
	// op (attention's per-head products, softmax, LayerNorm, GELU, the loss) stay float32.
	// It runs on the CPU's bf16 dot-product instructions where there are some (HasBF16);
	// elsewhere it gives the same numbers more slowly than FP32 (the operands are rounded in
	// copies and multiplied in float32).
	BF16 Precision = "bf16"
)

// ParsePrecision reads a precision's name: "fp32" (or empty) or "bf16".
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "", "fp32":
		return FP32, nil
	case string(BF16):
		return BF16, nil
	}
	return FP32, fmt.Errorf("unknown precision %q (want fp32 or bf16)", s)
}

// String returns the precision's name, "fp32" or "bf16".
func (p Precision) String() string {
	if p == FP32 {
		return "fp32"
	}
	return string(p)
}

// HasBF16 reports whether BF16 graphs run on the CPU's bfloat16 dot-product instructions
// (AVX512-BF16); without them BF16 gives the same numbers as with them, up to float32
// rounding, more slowly than FP32.
func HasBF16() bool { return blas.HasBF16() }

// Graph is a compiled computation for one fixed (batch, block) shape. Fill Tokens (and Targets
// and Weights as the objective needs, and Positions in a Packed graph) in place — with copy, or
// with SetInputs — call Run, read the results. Build it once and reuse it: its buffers are
// allocated once, and the compiled operations read these very slices, so replacing one
// (g.Tokens = other) would disconnect it: Run reports that as an error.
type Graph struct {
	Config GraphConfig
	// Tokens holds the Batch·Block input IDs, row-major.
	Tokens []int32
	// Targets holds the Batch·Block target IDs (the next tokens); a negative target is ignored.
	Targets []int32
	// Weights holds the per-token loss weights of the LanguageModel objective (0 on padding
	// and, for SFT, on prompt tokens).
	Weights []float32
	// Positions, in a Packed graph (nil otherwise), holds each token's position within its
	// sequence: 0 where a sequence starts (always at a row's start), else the previous
	// token's plus one. It starts as 0 … Block−1 in every row: one sequence per row.
	Positions []int32

	// Loss is the scalar loss of the last Run (0 for objectives without one).
	Loss float64
	// Output is the LogProbs or Values vector of the last Run (Batch·Block values); Logits is the
	// Batch·Block×vocab logits where they are computed. Both are views into the graph's buffers,
	// overwritten by the next Run.
	Output, Logits []float32

	model *Model
	// inputs are the slices the operations were compiled against (Tokens, Targets, Weights,
	// Positions).
	inputs struct {
		tokens, targets, positions []int32
		weights                    []float32
	}
	g        *G.ExprGraph
	b        *builder
	exec     *executor
	lossNode *G.Node
	outNode  *G.Node
	logits   *G.Node
	pnodes   G.Nodes
	// lossAt, outAt and logitsAt index the executor's values (−1: none).
	lossAt, outAt, logitsAt int
}

// NewGraph builds and compiles a graph over m's weights.
func (m *Model) NewGraph(gc GraphConfig) (*Graph, error) {
	cfg := m.Config
	if gc.Batch <= 0 || gc.Block <= 0 {
		return nil, fmt.Errorf("model: graph shape must be positive, got batch %d block %d", gc.Batch, gc.Block)
	}
	if gc.Block > cfg.BlockSize {
		return nil, fmt.Errorf("model: graph block %d exceeds the model's block size %d", gc.Block, cfg.BlockSize)
	}
	if gc.Objective == Values && !cfg.ScalarHead {
		return nil, errors.New("model: the Values objective needs a model with a scalar head (Config.ScalarHead)")
	}
	if gc.Train && gc.Objective == Logits {
		return nil, errors.New("model: the Logits objective has no loss to train")
	}
	if gc.Train && (gc.Objective == LogProbs || gc.Objective == Values) && gc.Loss == nil {
		return nil, errors.New("model: training the LogProbs or Values objective needs GraphConfig.Loss")
	}
	if gc.Memory != SharedBuffers && gc.Memory != SeparateBuffers {
		return nil, fmt.Errorf("model: unknown memory plan %d", int(gc.Memory))
	}
	if _, err := ParsePrecision(string(gc.Precision)); err != nil || gc.Precision == "fp32" {
		if err == nil { // "fp32" is FP32's name, not its value: keep one spelling per precision
			err = fmt.Errorf("precision %q: use model.FP32 (the zero value)", gc.Precision)
		}
		return nil, fmt.Errorf("model: %w", err)
	}
	if err := checkGraphMemory(cfg, gc); err != nil {
		return nil, err
	}
	n := gc.Batch * gc.Block
	gr := &Graph{
		Config:  gc,
		Tokens:  make([]int32, n),
		Targets: make([]int32, n),
		Weights: make([]float32, n),
		model:   m,
		g:       G.NewGraph(),
		b:       newBuilder(gc.Precision),
	}
	if gc.Packed {
		gr.Positions = make([]int32, n)
		for i := range gr.Positions {
			gr.Positions[i] = int32(i % gc.Block)
		}
	}
	gr.inputs.tokens, gr.inputs.targets, gr.inputs.weights, gr.inputs.positions = gr.Tokens, gr.Targets, gr.Weights, gr.Positions
	if err := gr.build(); err != nil {
		return nil, err
	}
	for _, n := range []*G.Node{gr.outNode, gr.logits} { // read after Run
		if b := gr.b.mem.valueOf[n]; n != nil && b != nil {
			b.kept = true
		}
	}
	if gc.Train {
		if _, err := G.Grad(gr.lossNode, gr.pnodes...); err != nil {
			return nil, fmt.Errorf("model: building the backward pass: %w", err)
		}
	}
	exec, err := gr.b.mem.compile(gr.g, gc.Memory, gc.Train && gc.Recompute, gc.Arena)
	if err != nil {
		return nil, err
	}
	exec.recomputing = &gr.b.recomputing
	gr.exec = exec
	gr.lossAt, gr.outAt, gr.logitsAt = exec.index(gr.lossNode), exec.index(gr.outNode), exec.index(gr.logits)
	return gr, nil
}

// PlannedBytes is the memory of the graph's planned buffers (activations, their gradients
// and the state kept for the backward pass; not the weights and their Grad), whether in an
// arena shared with other graphs or not.
func (gr *Graph) PlannedBytes() int64 { return gr.exec.planned }

// build adds the forward pass.
func (gr *Graph) build() error {
	gc, cfg := gr.Config, gr.model.Config
	var rng *rand.Rand
	if gc.Train && cfg.Dropout > 0 {
		rng = rand.New(rand.NewPCG(gc.Seed, 0xd1b54a32d192ed03))
	}
	used := map[string]*G.Node{}
	// node makes the graph's node for parameter name, called label in the graph.
	node := func(name, label string) *G.Node {
		p := gr.model.Param(name)
		n := G.NewTensor(gr.g, tensor.Float32, len(p.Shape), G.WithShape(p.Shape...), G.WithName(label),
			G.WithValue(dense(p.Data, p.Shape...)))
		gr.b.params[n] = p
		gr.pnodes = append(gr.pnodes, n)
		return n
	}
	param := func(name string) *G.Node {
		if n, ok := used[name]; ok {
			return n
		}
		used[name] = node(name, name)
		return used[name]
	}
	drop := func(x *G.Node) (*G.Node, error) {
		if rng == nil {
			return x, nil
		}
		return gr.b.dropout(x, cfg.Dropout, rng)
	}
	// Forward pass, x: [Batch·Block, Width].
	x, err := gr.b.embedding(param("wte"), param("wpe"), gr.Tokens, gr.Positions, gc.Block)
	if err != nil {
		return err
	}
	if x, err = drop(x); err != nil {
		return err
	}
	shape := kernels.AttentionShape{Batch: gc.Batch, Block: gc.Block, Heads: cfg.Heads, HeadDim: cfg.HeadDim()}
	for l := 0; l < cfg.Layers; l++ {
		p := fmt.Sprintf("h.%d.", l)
		gr.b.block = l
		if x, err = gr.block(x, p, param, drop, shape); err != nil {
			return fmt.Errorf("model: layer %d: %w", l, err)
		}
		x.Op().(*customOp).blockOutput = true
	}
	gr.b.block = -1
	h, err := gr.b.layerNorm(x, param("ln_f.weight"), param("ln_f.bias"))
	if err != nil {
		return err
	}
	if gc.Objective == Values {
		out, err := gr.b.scalarHead(h, param("score.weight"), param("score.bias"))
		if err != nil {
			return err
		}
		gr.outNode = out
		if gc.Loss != nil {
			gr.lossNode, err = gr.b.vectorLoss(out, gc.Loss)
		}
		return err
	}
	var head *G.Node
	if cfg.UntiedHead {
		head = param("lm_head.weight") // [vocab, width], like wte
	} else {
		// The tied head reads wte through a node of its own, so that each of wte's two uses
		// adds its gradient to wte's Grad and gorgonia makes no sum of the two.
		head = node("wte", "wte (head)")
	}
	if gr.logits, err = gr.b.matMul(h, head, true); err != nil {
		return err
	}
	switch gc.Objective {
	case LanguageModel:
		gr.lossNode, err = gr.b.crossEntropy(gr.logits, gr.Targets, gr.Weights)
	case LogProbs:
		if gr.outNode, err = gr.b.logProbs(gr.logits, gr.Targets); err == nil && gc.Loss != nil {
			gr.lossNode, err = gr.b.vectorLoss(gr.outNode, gc.Loss)
		}
	}
	return err
}

// block is one pre-LayerNorm transformer block: x + attn(ln_1(x)), then + mlp(ln_2(x)).
func (gr *Graph) block(x *G.Node, p string, param func(string) *G.Node, drop func(*G.Node) (*G.Node, error), s kernels.AttentionShape) (*G.Node, error) {
	h, err := gr.b.layerNorm(x, param(p+"ln_1.weight"), param(p+"ln_1.bias"))
	if err != nil {
		return nil, err
	}
	if h, err = gr.linear(h, p+"attn.c_attn", param); err != nil {
		return nil, err
	}
	if h, err = gr.b.attention(h, gr.Positions, s); err != nil {
		return nil, err
	}
	if h, err = gr.linear(h, p+"attn.c_proj", param); err != nil {
		return nil, err
	}
	if h, err = drop(h); err != nil {
		return nil, err
	}
	if x, err = gr.b.add(x, h); err != nil {
		return nil, err
	}
	if h, err = gr.b.layerNorm(x, param(p+"ln_2.weight"), param(p+"ln_2.bias")); err != nil {
		return nil, err
	}
	if h, err = gr.linear(h, p+"mlp.c_fc", param); err != nil {
		return nil, err
	}
	if h, err = gr.b.gelu(h); err != nil {
		return nil, err
	}
	if h, err = gr.linear(h, p+"mlp.c_proj", param); err != nil {
		return nil, err
	}
	if h, err = drop(h); err != nil {
		return nil, err
	}
	return gr.b.add(x, h)
}

// SetInputs copies a batch into the graph's inputs: tokens and targets (Batch·Block each) and
// weights (Batch·Block, or nil to leave the weights as they are).
func (gr *Graph) SetInputs(tokens, targets []int32, weights []float32) error {
	n := len(gr.inputs.tokens)
	if len(tokens) != n || len(targets) != n || (weights != nil && len(weights) != n) {
		return fmt.Errorf("model: SetInputs: %d tokens, %d targets and %d weights, want %d each (batch %d × block %d)",
			len(tokens), len(targets), len(weights), n, gr.Config.Batch, gr.Config.Block)
	}
	copy(gr.Tokens, tokens)
	copy(gr.Targets, targets)
	if weights != nil {
		copy(gr.Weights, weights)
	}
	return nil
}

// checkPositions reports the first position of a packed graph that does not start a sequence
// (0) or continue the one before it (its position plus one); a row always starts one.
func checkPositions(pos []int32, block int) error {
	for i, p := range pos {
		if p == 0 || (i%block != 0 && p == pos[i-1]+1) {
			continue
		}
		want := "0 (a row starts a sequence)"
		if i%block != 0 {
			want = fmt.Sprintf("0 or %d", pos[i-1]+1)
		}
		return fmt.Errorf("model: position %d at token %d (row %d, column %d), want %s", p, i, i/block, i%block, want)
	}
	return nil
}

// runHeld runs the executor with the worker pool held (workpool.Hold): the operations hand
// parts to the pool a few hundred microseconds apart, and a worker that slept between them
// would wake too late to take its part (the pretraining step 0.85× as long with it held, BenchmarkTrainingStepSpin).
func (gr *Graph) runHeld() error {
	workpool.Hold()
	defer workpool.Release()
	return gr.exec.run()
}

// sameSlice reports whether a and b are the same slice (same start and length).
func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// Run executes the graph on the current Tokens, Targets and Weights. A training graph adds the
// gradients of the loss to each parameter's Grad (so several runs accumulate; zero them with
// Model.ZeroGrad or the optimizer).
func (gr *Graph) Run() error {
	if !sameSlice(gr.Tokens, gr.inputs.tokens) || !sameSlice(gr.Targets, gr.inputs.targets) || !sameSlice(gr.Weights, gr.inputs.weights) ||
		!sameSlice(gr.Positions, gr.inputs.positions) {
		return errors.New("model: Graph.Tokens, Targets, Weights or Positions was replaced by another slice, which the compiled graph does not read; copy into them (or use SetInputs)")
	}
	if err := checkPositions(gr.Positions, gr.Config.Block); err != nil {
		return err
	}
	V := gr.model.Config.VocabSize
	for i, t := range gr.Tokens {
		if t < 0 || int(t) >= V {
			return fmt.Errorf("model: token %d at position %d is outside the vocabulary [0, %d)", t, i, V)
		}
	}
	for i, t := range gr.Targets {
		if int(t) >= V {
			return fmt.Errorf("model: target %d at position %d is outside the vocabulary [0, %d)", t, i, V)
		}
	}
	if err := gr.runHeld(); err != nil {
		return fmt.Errorf("model: running the graph: %w", err)
	}
	gr.Loss = 0
	if gr.lossAt >= 0 {
		gr.Loss = scalarOf(gr.exec.vals[gr.lossAt])
	}
	if gr.outAt >= 0 {
		gr.Output = f32s(gr.exec.vals[gr.outAt])
	}
	if gr.logitsAt >= 0 {
		gr.Logits = f32s(gr.exec.vals[gr.logitsAt])
	}
	return nil
}
