// Package sft is the second stage: supervised fine-tuning of a pretrained model on dialogues,
// with the loss on the assistant's tokens only, so the model learns to hold a conversation in
// the chat template.
package sft

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/train"
)

// Config configures fine-tuning. The zero value of every optional field means its default.
type Config struct {
	// Batch is the number of rows per micro-batch (default 16); Block the row length (default:
	// the model's block size).
	Batch, Block int
	// Steps is the number of optimizer steps; when 0, Epochs passes over the training rows
	// (Epochs defaults to 1).
	Steps, Epochs int
	// Accumulation is the number of micro-batches per step (default 1).
	Accumulation int
	// LR is the peak learning rate (default 3e-4, lower than pretraining so the base model's
	// knowledge survives), MinLR the end of the cosine decay (default LR/10), Warmup the
	// warm-up steps (default 5% of the steps).
	LR, MinLR float64
	Warmup    int
	// WeightDecay (default 0.1; negative for none), Beta1 (0.9) and Beta2 (0.99) configure AdamW.
	WeightDecay, Beta1, Beta2 float64
	// Clip is the gradient-norm limit (default 1).
	Clip float64
	// PretrainMix is the share of rows per batch drawn from Data.Pretrain as plain next-token
	// windows (default 0: none).
	PretrainMix float64
	// EvalInterval evaluates every so many steps (default: at the end only).
	EvalInterval int
	// CheckpointInterval writes a resumable checkpoint every so many steps (default: at the end).
	CheckpointInterval int
	// FormatPrompts is the number of held-out conversations whose replies are generated
	// (greedily) to measure format adherence (default 100; negative: none); MaxReplyTokens limits each reply
	// (default 64).
	FormatPrompts, MaxReplyTokens int
	// Seed seeds the batches (default 1).
	Seed uint64
	// Out is the checkpoint path (required).
	Out string
	// Progress selects the progress display.
	Progress train.ProgressMode
}

// Data is what SFT trains and evaluates on.
type Data struct {
	// Train and Val are demonstration dialogues, each ending with an assistant turn.
	Train, Val []data.Conversation
	// Pretrain is an optional token stream mixed into batches (Config.PretrainMix).
	Pretrain []int32
}

func (c Config) withDefaults(blockSize, trainRows int) Config {
	if c.Batch <= 0 {
		c.Batch = 16
	}
	if c.Block <= 0 || c.Block > blockSize {
		c.Block = blockSize
	}
	if c.Epochs <= 0 {
		c.Epochs = 1
	}
	if c.Steps <= 0 {
		c.Steps = max(1, (c.Epochs*trainRows+c.Batch*max(c.Accumulation, 1)-1)/(c.Batch*max(c.Accumulation, 1)))
	}
	if c.LR == 0 {
		c.LR = 3e-4
	}
	if c.Warmup == 0 {
		c.Warmup = c.Steps / 20
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.99
	}
	if c.FormatPrompts == 0 {
		c.FormatPrompts = 100
	}
	if c.MaxReplyTokens == 0 {
		c.MaxReplyTokens = 64
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	return c
}

// Train fine-tunes the pretrained checkpoint at fromPath on d and writes a checkpoint with stage
// "sft" whose Parent is the SHA-256 of fromPath. Metrics: "val_loss" (held-out assistant-token
// loss), "format_rate" (share of greedy replies to held-out prompts that end with <|end|>
// within MaxReplyTokens), plus the loop's.
func Train(ctx context.Context, cfg Config, fromPath string, d Data) (*train.Result, error) {
	parent, err := model.LoadStage(fromPath, model.StagePretrain)
	if err != nil {
		return nil, fmt.Errorf("sft: %w", err)
	}
	tok := parent.Tokenizer
	if tok.VocabSize() <= tokenizer.NumSpecial {
		return nil, fmt.Errorf("sft: the tokenizer of %s has no ordinary tokens besides the chat tokens", fromPath)
	}
	parentSum, err := model.FileSHA256(fromPath)
	if err != nil {
		return nil, fmt.Errorf("sft: %w", err)
	}
	m := parent.Model
	block := cfg.Block
	if block <= 0 || block > m.Config.BlockSize {
		block = m.Config.BlockSize
	}
	trainRows, trainStats, err := data.RenderRows(tok, d.Train, block)
	if err != nil {
		return nil, fmt.Errorf("sft: training conversations: %w", err)
	}
	if len(trainRows) == 0 {
		return nil, errors.New("sft: no training conversation fits the block")
	}
	valRows, valStats, err := data.RenderRows(tok, d.Val, block)
	if err != nil {
		return nil, fmt.Errorf("sft: validation conversations: %w", err)
	}
	cfg = cfg.withDefaults(m.Config.BlockSize, len(trainRows))
	if cfg.PretrainMix > 0 && len(d.Pretrain) <= cfg.Block {
		return nil, errors.New("sft: PretrainMix needs a Data.Pretrain token stream longer than the block")
	}

	g, err := m.NewGraph(model.GraphConfig{Batch: cfg.Batch, Block: cfg.Block, Train: true, Seed: cfg.Seed})
	if err != nil {
		return nil, fmt.Errorf("sft: %w", err)
	}
	pcg := rand.NewPCG(cfg.Seed, 0x5f7)
	rng := rand.New(pcg)
	microStep := func(context.Context) (float64, int, error) {
		tokens := 0
		for r := 0; r < cfg.Batch; r++ {
			lo, hi := r*cfg.Block, (r+1)*cfg.Block
			if cfg.PretrainMix > 0 && rng.Float64() < cfg.PretrainMix {
				off := rng.IntN(len(d.Pretrain) - cfg.Block)
				copy(g.Tokens[lo:hi], d.Pretrain[off:off+cfg.Block])
				copy(g.Targets[lo:hi], d.Pretrain[off+1:off+cfg.Block+1])
				fill(g.Weights[lo:hi], 1)
				tokens += cfg.Block
				continue
			}
			row := trainRows[rng.IntN(len(trainRows))]
			copy(g.Tokens[lo:hi], row.Tokens)
			copy(g.Targets[lo:hi], row.Targets)
			copy(g.Weights[lo:hi], row.Weights)
			tokens += cfg.Block
		}
		if err := g.Run(); err != nil {
			return 0, 0, err
		}
		return g.Loss, tokens, nil
	}
	evaluator, err := newEvaluator(m, tok, valRows, d.Val, cfg)
	if err != nil {
		return nil, err
	}
	extra := map[string]string{
		"sft.train_conversations": fmt.Sprint(trainStats.Total),
		"sft.train_truncated":     fmt.Sprint(trainStats.Truncated),
		"sft.train_skipped":       fmt.Sprint(trainStats.Skipped),
		"sft.val_skipped":         fmt.Sprint(valStats.Skipped),
	}
	job := train.Job{
		Model: m, Tokenizer: tok, Stage: model.StageSFT, Parent: parentSum, Extra: extra,
		MicroStep: microStep,
		Evaluate:  evaluator.evaluate,
	}
	job.SaveState, job.LoadState = train.BinaryState(pcg.MarshalBinary, pcg.UnmarshalBinary)
	tc := train.Config{
		Steps: cfg.Steps, Accumulation: cfg.Accumulation, LR: cfg.LR, MinLR: cfg.MinLR, Warmup: cfg.Warmup,
		AdamW: train.AdamWConfig{Beta1: cfg.Beta1, Beta2: cfg.Beta2, WeightDecay: max(cfg.WeightDecay, 0),
			NoWeightDecay: cfg.WeightDecay < 0},
		Clip: cfg.Clip, EvalInterval: cfg.EvalInterval, CheckpointInterval: cfg.CheckpointInterval,
		Out: cfg.Out, Name: "sft", Progress: cfg.Progress,
	}
	res, err := train.Run(ctx, tc, job)
	if err != nil {
		return nil, fmt.Errorf("sft: %w", err)
	}
	return res, nil
}

// evaluator computes the held-out assistant-token loss and the format rate.
type evaluator struct {
	g     *model.Graph
	rows  []data.Row
	convs []data.Conversation
	asst  *chat.Assistant
	cfg   Config
}

func newEvaluator(m *model.Model, tok tokenizer.Tokenizer, rows []data.Row, convs []data.Conversation, cfg Config) (*evaluator, error) {
	e := &evaluator{rows: rows, convs: convs, cfg: cfg}
	if len(rows) > 0 {
		g, err := m.NewGraph(model.GraphConfig{Batch: cfg.Batch, Block: cfg.Block})
		if err != nil {
			return nil, fmt.Errorf("sft: %w", err)
		}
		e.g = g
	}
	if len(convs) > 0 && cfg.FormatPrompts > 0 {
		a, err := chat.NewAssistant(m, tok, 1)
		if err != nil {
			return nil, err
		}
		e.asst = a
	}
	return e, nil
}

func (e *evaluator) evaluate(ctx context.Context) (map[string]float64, error) {
	out := map[string]float64{}
	if e.g != nil {
		loss, err := RowsLoss(ctx, e.g, e.rows)
		if err != nil {
			return nil, err
		}
		out["val_loss"] = loss
	}
	if e.asst != nil {
		n, ended := 0, 0
		for _, c := range e.convs {
			if n == e.cfg.FormatPrompts {
				break
			}
			prompt := c.Messages[:len(c.Messages)-1]
			r, err := e.asst.Reply(ctx, prompt, model.SampleConfig{MaxNewTokens: e.cfg.MaxReplyTokens})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.Source, err)
			}
			n++
			if r.Ended {
				ended++
			}
		}
		if n > 0 {
			out["format_rate"] = float64(ended) / float64(n)
		}
	}
	return out, nil
}

// RowsLoss returns the weighted mean loss of g (a LanguageModel graph) over rows, padding the
// last batch with zero-weight rows.
func RowsLoss(ctx context.Context, g *model.Graph, rows []data.Row) (float64, error) {
	B, T := g.Config.Batch, g.Config.Block
	var sum, wsum float64
	for i := 0; i < len(rows); i += B {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		for r := 0; r < B; r++ {
			lo, hi := r*T, (r+1)*T
			if i+r < len(rows) {
				copy(g.Tokens[lo:hi], rows[i+r].Tokens)
				copy(g.Targets[lo:hi], rows[i+r].Targets)
				copy(g.Weights[lo:hi], rows[i+r].Weights)
			} else {
				clear(g.Tokens[lo:hi])
				clear(g.Targets[lo:hi])
				clear(g.Weights[lo:hi])
			}
		}
		if err := g.Run(); err != nil {
			return 0, err
		}
		var w float64
		for _, x := range g.Weights {
			w += float64(x)
		}
		sum += g.Loss * w
		wsum += w
	}
	if wsum == 0 {
		return 0, nil
	}
	return sum / wsum, nil
}

func fill(x []float32, v float32) {
	for i := range x {
		x[i] = v
	}
}
