// Package pretrain is the first stage: unsupervised next-token pretraining of a GPT on a text
// corpus, giving the base model that the SFT stage starts from.
package pretrain

import (
	"context"
	"errors"
	"fmt"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/train"
)

// Config configures a pretraining run. The zero value of every optional field means its
// default; the defaults are nanoGPT's shakespeare-char CPU recipe.
type Config struct {
	// Model is the architecture. VocabSize 0 takes the tokenizer's size; the other zero sizes
	// default to 4 layers, 4 heads, width 128, block 64.
	Model model.Config
	// Batch is the number of sequences per micro-batch (default 12); Block the sequence length
	// (default Model.BlockSize).
	Batch, Block int
	// Steps is the number of optimizer steps (default 2000).
	Steps int
	// Accumulation is the number of micro-batches per step (default 1).
	Accumulation int
	// LR is the peak learning rate (default 1e-3), MinLR the end of the cosine decay (default
	// 1e-4), Warmup the warm-up steps (default 100).
	LR, MinLR float64
	Warmup    int
	// WeightDecay (default 0.1), Beta1 (default 0.9) and Beta2 (default 0.99) configure AdamW.
	WeightDecay, Beta1, Beta2 float64
	// Clip is the gradient-norm limit (default 1; negative disables).
	Clip float64
	// EvalInterval evaluates every so many steps (default 250 and at the end); EvalIters is the
	// number of validation batches per evaluation (default 100).
	EvalInterval, EvalIters int
	// CheckpointInterval writes a resumable checkpoint every so many steps (default 500).
	CheckpointInterval int
	// Seed seeds the initialisation, batches and dropout (default 1337).
	Seed uint64
	// Out is the checkpoint path (required).
	Out string
	// Progress selects the progress display.
	Progress train.ProgressMode
}

func (c Config) withDefaults(vocab int) Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	deff := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Model.VocabSize, vocab)
	def(&c.Model.Layers, 4)
	def(&c.Model.Heads, 4)
	def(&c.Model.Width, 128)
	def(&c.Model.BlockSize, 64)
	def(&c.Batch, 12)
	def(&c.Block, c.Model.BlockSize)
	def(&c.Steps, 2000)
	def(&c.Warmup, 100)
	def(&c.EvalInterval, 250)
	def(&c.EvalIters, 100)
	def(&c.CheckpointInterval, 500)
	deff(&c.LR, 1e-3)
	deff(&c.MinLR, 1e-4)
	deff(&c.WeightDecay, 0.1)
	deff(&c.Beta1, 0.9)
	deff(&c.Beta2, 0.99)
	if c.Seed == 0 {
		c.Seed = 1337
	}
	return c
}

// Corpus is tokenised pretraining text: a training and a validation token stream.
type Corpus struct {
	Tokenizer  tokenizer.Tokenizer
	Train, Val []int32
}

// NewCorpus tokenises documents (separated by <|bos|>) and splits off the last valFraction of
// the tokens for validation (nanoGPT: 0.1).
func NewCorpus(docs []data.Document, tok tokenizer.Tokenizer, valFraction float64) (*Corpus, error) {
	stream, err := data.TokenStream(docs, tok, tokenizer.BOS)
	if err != nil {
		return nil, fmt.Errorf("pretrain: %w", err)
	}
	tr, val, err := data.Split(stream, valFraction, 2)
	if err != nil {
		return nil, fmt.Errorf("pretrain: %w", err)
	}
	return &Corpus{Tokenizer: tok, Train: tr, Val: val}, nil
}

// Train pretrains a new model on corpus (resuming from cfg.Out if a partial run left a
// checkpoint there) and writes a checkpoint with stage "pretrain". The result's metrics hold
// the final "loss" and "val_loss" among others.
func Train(ctx context.Context, cfg Config, corpus *Corpus) (*train.Result, error) {
	if corpus == nil || corpus.Tokenizer == nil {
		return nil, errors.New("pretrain: a corpus with a tokenizer is required")
	}
	cfg = cfg.withDefaults(corpus.Tokenizer.VocabSize())
	if cfg.Model.VocabSize != corpus.Tokenizer.VocabSize() {
		return nil, fmt.Errorf("pretrain: model vocab size %d differs from the tokenizer's %d", cfg.Model.VocabSize, corpus.Tokenizer.VocabSize())
	}
	m, err := model.New(cfg.Model, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("pretrain: %w", err)
	}
	batches, err := data.NewBatcher(corpus.Train, cfg.Batch, cfg.Block, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("pretrain: training data: %w", err)
	}
	g, err := m.NewGraph(model.GraphConfig{Batch: cfg.Batch, Block: cfg.Block, Train: true, Seed: cfg.Seed})
	if err != nil {
		return nil, fmt.Errorf("pretrain: %w", err)
	}
	fill(g.Weights, 1)
	eval, err := NewEvaluator(m, corpus.Val, cfg.Batch, cfg.Block, cfg.EvalIters, cfg.Seed+1)
	if err != nil {
		return nil, err
	}
	job := train.Job{
		Model: m, Tokenizer: corpus.Tokenizer, Stage: model.StagePretrain,
		MicroStep: func(context.Context) (float64, int, error) {
			batches.Next(g.Tokens, g.Targets)
			if err := g.Run(); err != nil {
				return 0, 0, err
			}
			return g.Loss, len(g.Tokens), nil
		},
		Evaluate: func(ctx context.Context) (map[string]float64, error) {
			l, err := eval.Loss(ctx)
			return map[string]float64{"val_loss": l}, err
		},
	}
	job.SaveState, job.LoadState = train.BinaryState(batches.State, batches.SetState)
	tc := train.Config{
		Steps: cfg.Steps, Accumulation: cfg.Accumulation, LR: cfg.LR, MinLR: cfg.MinLR, Warmup: cfg.Warmup,
		AdamW:        train.AdamWConfig{Beta1: cfg.Beta1, Beta2: cfg.Beta2, WeightDecay: cfg.WeightDecay},
		Clip:         cfg.Clip,
		EvalInterval: cfg.EvalInterval, CheckpointInterval: cfg.CheckpointInterval,
		Out: cfg.Out, Name: "pretrain", Progress: cfg.Progress,
	}
	res, err := train.Run(ctx, tc, job)
	if err != nil {
		return nil, fmt.Errorf("pretrain: %w", err)
	}
	return res, nil
}

// Evaluator measures the mean next-token loss over a fixed set of batches drawn from a token
// stream, so successive evaluations are comparable.
type Evaluator struct {
	g      *model.Graph
	tokens []int32
	seed   uint64
	iters  int
}

// NewEvaluator prepares evaluation of m on tokens with iters batches of (batch, block).
func NewEvaluator(m *model.Model, tokens []int32, batch, block, iters int, seed uint64) (*Evaluator, error) {
	g, err := m.NewGraph(model.GraphConfig{Batch: batch, Block: block})
	if err != nil {
		return nil, fmt.Errorf("pretrain: %w", err)
	}
	fill(g.Weights, 1)
	if _, err := data.NewBatcher(tokens, batch, block, seed); err != nil {
		return nil, fmt.Errorf("pretrain: validation data: %w", err)
	}
	return &Evaluator{g: g, tokens: tokens, seed: seed, iters: max(iters, 1)}, nil
}

// Loss returns the mean loss over the evaluator's batches (the same batches every call).
func (e *Evaluator) Loss(ctx context.Context) (float64, error) {
	b, err := data.NewBatcher(e.tokens, e.g.Config.Batch, e.g.Config.Block, e.seed)
	if err != nil {
		return 0, err
	}
	var sum float64
	for i := 0; i < e.iters; i++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		b.Next(e.g.Tokens, e.g.Targets)
		if err := e.g.Run(); err != nil {
			return 0, err
		}
		sum += e.g.Loss
	}
	return sum / float64(e.iters), nil
}

func fill(x []float32, v float32) {
	for i := range x {
		x[i] = v
	}
}
