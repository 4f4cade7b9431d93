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

// Config configures a pretraining run: the shared training configuration (its fields are
// promoted: cfg.Steps, cfg.LR, …), the architecture, the sequence length and the evaluation.
// Start from DefaultConfig.
type Config struct {
	train.Config
	// Model is the architecture; VocabSize 0 takes the tokenizer's size.
	Model model.Config
	// Block is the training sequence length (0: Model.BlockSize; at most that).
	Block int
	// EvalIters is the number of validation batches per evaluation (> 0).
	EvalIters int
}

// DefaultConfig returns nanoGPT's shakespeare-char CPU recipe: 4 layers, 4 heads, width 128,
// block 64, 2000 steps of batch 12, LR 1e-3 decaying to 1e-4 after 100 warm-up steps (5%),
// AdamW β2 0.99 with weight decay 0.1, clipping at 1, evaluation on 100 validation batches
// every 250 steps, a checkpoint every 500, seed train.DefaultSeed. Out must be set.
func DefaultConfig() Config {
	c := Config{Config: train.DefaultConfig(), Model: model.Config{Layers: 4, Heads: 4, Width: 128, BlockSize: 64}, EvalIters: 100}
	c.Steps, c.Batch = 2000, 12
	c.EvalInterval, c.CheckpointInterval = 250, 500
	return c
}

// resolve fills the fields that follow the data (VocabSize, Block) and validates everything.
func (c Config) resolve(vocab int) (Config, error) {
	if c.Model.VocabSize == 0 {
		c.Model.VocabSize = vocab
	}
	if c.Block == 0 {
		c.Block = c.Model.BlockSize
	}
	if err := c.Config.Validate(); err != nil {
		return c, err
	}
	if err := c.Model.Validate(); err != nil {
		return c, fmt.Errorf("Model: %w", err)
	}
	switch {
	case c.Model.VocabSize != vocab:
		return c, fmt.Errorf("Model.VocabSize is %d but the tokenizer has %d tokens", c.Model.VocabSize, vocab)
	case c.Block < 1 || c.Block > c.Model.BlockSize:
		return c, fmt.Errorf("Block is %d, want 1..Model.BlockSize (%d)", c.Block, c.Model.BlockSize)
	case c.EvalIters <= 0:
		return c, fmt.Errorf("EvalIters is %d, want > 0", c.EvalIters)
	}
	return c, nil
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

// Train pretrains a new model on corpus and writes a checkpoint with stage "pretrain" to
// cfg.Out (resuming an interrupted run there, see train.Config.Resume). The result's metrics
// hold the final "loss" and "val_loss" among others, and its Checkpoint the model in memory,
// ready for sft.Train.
func Train(ctx context.Context, cfg Config, corpus *Corpus) (*train.Result, error) {
	if corpus == nil || corpus.Tokenizer == nil {
		return nil, errors.New("pretrain: a corpus with a tokenizer is required")
	}
	cfg, err := cfg.resolve(corpus.Tokenizer.VocabSize())
	if err != nil {
		return nil, fmt.Errorf("pretrain: %w", err)
	}
	m, err := model.New(cfg.Model, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("pretrain: %w", err)
	}
	batches, err := data.NewBatcher(corpus.Train, cfg.Batch, cfg.Block, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("pretrain: training data: %w", err)
	}
	g, err := m.NewGraph(model.GraphConfig{Batch: cfg.Batch, Block: cfg.Block, Train: true, Seed: cfg.Seed, Recompute: cfg.Recompute, Precision: cfg.Precision})
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
		Settings: struct {
			Model            model.Config
			Block, EvalIters int
		}{cfg.Model, cfg.Block, cfg.EvalIters},
		DataFingerprint: data.TokensFingerprint(corpus.Train, corpus.Val),
		Memory:          g.MemoryEstimate() + eval.g.MemoryEstimate(),
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
	return train.Run(ctx, cfg.Config, job)
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
