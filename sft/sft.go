package sft

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/train"
)

// Config configures fine-tuning: the shared training configuration (promoted fields:
// cfg.Steps, cfg.LR, …) and SFT's own settings. Start from DefaultConfig.
type Config struct {
	train.Config
	// Block is the row length (0: the model's block size; at most that).
	Block int
	// Epochs is the number of passes over the training rows that give Steps when Steps is 0
	// (> 0 then).
	Epochs int
	// PretrainMix is the share of rows per batch drawn from Data.Pretrain as plain next-token
	// windows, in [0, 1) (0: none).
	PretrainMix float64
	// FormatPrompts is the number of held-out conversations whose replies are generated
	// greedily at each evaluation to measure format adherence (0: none); MaxReplyTokens limits
	// each reply (below the model's block size, which bounds every reply; 0: 64, or the block
	// size − 1 when that is smaller).
	FormatPrompts, MaxReplyTokens int
	// Unpacked trains each conversation in a row of its own, padded to Block. By default a
	// step's conversations are packed one after another into as few rows as they fit
	// (data.Pack; the pretraining-mix windows take whole rows), each attending only to itself
	// (model.GraphConfig.Packed): the same samples and the same loss, up to the order
	// float32 sums the tokens' gradients in, on about half the rows when conversations fill
	// half a block.
	Unpacked bool
}

// DefaultConfig returns SFT's defaults: one epoch (Steps 0) of batch 16 at LR 3e-4 (lower
// than pretraining so the base model's knowledge survives) decaying to 3e-5 after a 5%
// warm-up, AdamW β2 0.99 with weight decay 0.1, clipping at 1, no pretraining mix, and a
// format evaluation on 100 held-out prompts with replies of up to 64 tokens (fewer when the
// block is shorter) at the end; seed train.DefaultSeed. Out must be set.
func DefaultConfig() Config {
	c := Config{Config: train.DefaultConfig(), Epochs: 1, FormatPrompts: 100}
	c.Steps, c.Batch, c.LR = 0, 16, 3e-4
	return c
}

// Data is what SFT trains and evaluates on.
type Data struct {
	// Train and Val are demonstration dialogues, each ending with an assistant turn.
	Train, Val []data.Conversation
	// Pretrain is an optional token stream mixed into batches (Config.PretrainMix).
	Pretrain []int32
}

// resolve derives Block and Steps from the model and the data and validates everything.
func (c Config) resolve(blockSize int, trainRows func(block int) int) (Config, error) {
	if c.Block == 0 {
		c.Block = blockSize
	}
	if c.MaxReplyTokens == 0 {
		c.MaxReplyTokens = min(64, blockSize-1)
	}
	if c.Block < 1 || c.Block > blockSize {
		return c, fmt.Errorf("Block is %d, want 1..the model's block size (%d)", c.Block, blockSize)
	}
	if c.Steps == 0 {
		if c.Epochs <= 0 {
			return c, fmt.Errorf("Epochs is %d with Steps 0, want > 0", c.Epochs)
		}
		if c.Batch <= 0 || c.Accumulation < 1 {
			return c, fmt.Errorf("%w: Batch (%d) and Accumulation (%d) must be positive to derive Steps", train.ErrConfig, c.Batch, c.Accumulation)
		}
		per := c.Batch * c.Accumulation
		c.Steps = max(1, (c.Epochs*trainRows(c.Block)+per-1)/per)
	}
	if err := c.Config.Validate(); err != nil {
		return c, err
	}
	switch {
	case !(c.PretrainMix >= 0 && c.PretrainMix < 1):
		return c, fmt.Errorf("PretrainMix is %v, want in [0, 1)", c.PretrainMix)
	case c.FormatPrompts < 0:
		return c, fmt.Errorf("FormatPrompts is %d, want ≥ 0", c.FormatPrompts)
	case c.FormatPrompts > 0 && (c.MaxReplyTokens < 0 || c.MaxReplyTokens >= blockSize):
		return c, fmt.Errorf("MaxReplyTokens is %d, want 1..%d (below the model's block size, which bounds every reply)", c.MaxReplyTokens, blockSize-1)
	}
	return c, nil
}

// ParentStages are the stages whose checkpoints SFT starts from: a pretrained model, or an
// SFT model to fine-tune further.
var ParentStages = []model.Stage{model.StagePretrain, model.StageSFT}

// TrainFile is Train with the parent checkpoint read from the file at parentPath.
func TrainFile(ctx context.Context, cfg Config, parentPath string, d Data) (*train.Result, error) {
	parent, err := model.LoadStage(parentPath, ParentStages...)
	if err != nil {
		return nil, fmt.Errorf("sft: %w", err)
	}
	return Train(ctx, cfg, parent, d)
}

// Train fine-tunes a copy of parent's model (a pretrain or SFT checkpoint, see ParentStages)
// on d and writes a checkpoint with stage "sft" whose Parent is parent's fingerprint. Metrics:
// "val_loss" (held-out assistant-token loss), "format_rate" (share of greedy replies to
// held-out prompts that end with <|end|> within MaxReplyTokens), "rows_per_step" (the rows a
// micro-batch took on average: Batch unpacked, fewer packed; over the steps this process
// ran), plus the loop's. The result's
// Checkpoint is the fine-tuned model in memory.
func Train(ctx context.Context, cfg Config, parent *model.Checkpoint, d Data) (*train.Result, error) {
	if parent == nil || parent.Model == nil || parent.Tokenizer == nil {
		return nil, errors.New("sft: a parent checkpoint with a model and a tokenizer is required")
	}
	if !slices.Contains(ParentStages, parent.Stage) {
		return nil, fmt.Errorf("sft: the parent checkpoint is from the %q stage; SFT starts from a %s checkpoint", parent.Stage, model.JoinStages(ParentStages, " or "))
	}
	tok := parent.Tokenizer
	if tok.VocabSize() <= tokenizer.NumSpecialOf(tok) {
		return nil, errors.New("sft: the parent's tokenizer has no ordinary tokens besides the chat tokens")
	}
	parentID, err := parent.Fingerprint()
	if err != nil {
		return nil, fmt.Errorf("sft: %w", err)
	}
	m := parent.Model.Clone()
	var rowsErr error
	cfg, err = cfg.resolve(m.Config.BlockSize, func(block int) int {
		rows, _, err := data.RenderRows(tok, d.Train, block)
		rowsErr = err
		return len(rows)
	})
	if err != nil {
		return nil, fmt.Errorf("sft: %w", err)
	}
	if rowsErr != nil {
		return nil, fmt.Errorf("sft: training conversations: %w", rowsErr)
	}
	trainRows, trainStats, err := data.RenderRows(tok, d.Train, cfg.Block)
	if err != nil {
		return nil, fmt.Errorf("sft: training conversations: %w", err)
	}
	if len(trainRows) == 0 {
		return nil, errors.New("sft: no training conversation fits the block")
	}
	valRows, valStats, err := data.RenderRows(tok, d.Val, cfg.Block)
	if err != nil {
		return nil, fmt.Errorf("sft: validation conversations: %w", err)
	}
	if cfg.PretrainMix > 0 && len(d.Pretrain) <= cfg.Block {
		return nil, errors.New("sft: PretrainMix needs a Data.Pretrain token stream longer than the block")
	}
	fp, err := data.Fingerprint(d.Train)
	if err != nil {
		return nil, fmt.Errorf("sft: %w", err)
	}

	// The training graphs and the evaluation's never run at the same time, and only their
	// losses are read: one arena, outputs included.
	arena := &model.Arena{SharedOutputs: true}
	graphs, err := m.NewGraphs(model.GraphConfig{Batch: cfg.Batch, Block: cfg.Block, Train: true, Seed: cfg.Seed,
		Recompute: cfg.Recompute, Precision: cfg.Precision, Packed: !cfg.Unpacked, Arena: arena})
	if err != nil {
		return nil, fmt.Errorf("sft: %w", err)
	}
	pcg := rand.NewPCG(cfg.Seed, 0x5f7)
	rng := rand.New(pcg)
	// A step's rows: a pretraining window (off ≥ 0) or a conversation (row).
	type sample struct {
		off int
		row data.Row
	}
	samples, lengths := make([]sample, cfg.Batch), make([]int, cfg.Batch)
	places := make([]data.Place, cfg.Batch)
	var rowsRun, stepsRun int // since this process started (a resumed run counts from there)
	microStep := func(context.Context) (float64, int, error) {
		for r := range samples {
			if cfg.PretrainMix > 0 && rng.Float64() < cfg.PretrainMix {
				samples[r] = sample{off: rng.IntN(len(d.Pretrain) - cfg.Block)}
				lengths[r] = cfg.Block
				continue
			}
			samples[r] = sample{off: -1, row: trainRows[rng.IntN(len(trainRows))]}
			lengths[r] = max(1, samples[r].row.Len())
		}
		rows := cfg.Batch
		if cfg.Unpacked {
			for r := range places {
				places[r], lengths[r] = data.Place{Row: r}, cfg.Block
			}
		} else {
			var err error
			if places, rows, err = data.Pack(lengths, cfg.Block); err != nil {
				return 0, 0, err
			}
		}
		g, err := graphs.Rows(rows)
		if err != nil {
			return 0, 0, err
		}
		rowsRun, stepsRun = rowsRun+rows, stepsRun+1
		fill(g.Tokens, tokenizer.Pad)
		fill(g.Targets, tokenizer.Pad)
		clear(g.Weights)
		for r, s := range samples {
			at, n := places[r].Row*cfg.Block+places[r].Col, lengths[r]
			if s.off >= 0 {
				copy(g.Tokens[at:at+n], d.Pretrain[s.off:s.off+n])
				copy(g.Targets[at:at+n], d.Pretrain[s.off+1:s.off+n+1])
				fill(g.Weights[at:at+n], 1)
				continue
			}
			copy(g.Tokens[at:at+n], s.row.Tokens)
			copy(g.Targets[at:at+n], s.row.Targets)
			copy(g.Weights[at:at+n], s.row.Weights)
		}
		if g.Positions != nil {
			data.PackPositions(g.Positions, places, cfg.Block)
		}
		if err := g.Run(); err != nil {
			return 0, 0, err
		}
		return g.Loss, rows * cfg.Block, nil // the positions run, padding included
	}
	evaluator, err := newEvaluator(m, tok, valRows, d.Val, cfg, arena)
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
		Model: m, Tokenizer: tok, Stage: model.StageSFT, Parent: parentID, Extra: extra,
		Settings: struct {
			Block, Epochs                 int
			PretrainMix                   float64
			FormatPrompts, MaxReplyTokens int
			Packed                        bool
		}{cfg.Block, cfg.Epochs, cfg.PretrainMix, cfg.FormatPrompts, cfg.MaxReplyTokens, !cfg.Unpacked},
		DataFingerprint: fp + "," + data.TokensFingerprint(d.Pretrain),
		Memory:          graphs.MemoryEstimate() + evaluator.memory(),
		MicroStep:       microStep,
		Evaluate:        evaluator.evaluate,
		Finish: func(_ context.Context, metrics map[string]float64, _ map[string]string) error {
			if stepsRun > 0 {
				metrics["rows_per_step"] = float64(rowsRun) / float64(stepsRun)
			}
			return nil
		},
	}
	job.SaveState, job.LoadState = train.BinaryState(pcg.MarshalBinary, pcg.UnmarshalBinary)
	return train.Run(ctx, cfg.Config, job)
}

// evaluator computes the held-out assistant-token loss and the format rate.
type evaluator struct {
	g     *model.Graph
	rows  []data.Row
	convs []data.Conversation
	asst  *chat.Assistant
	cfg   Config
}

func newEvaluator(m *model.Model, tok tokenizer.Tokenizer, rows []data.Row, convs []data.Conversation, cfg Config, arena *model.Arena) (*evaluator, error) {
	e := &evaluator{rows: rows, convs: convs, cfg: cfg}
	if len(rows) > 0 {
		g, err := m.NewGraph(model.GraphConfig{Batch: cfg.Batch, Block: cfg.Block, Arena: arena})
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

// memory is the estimated bytes of the evaluator's graph and engine.
func (e *evaluator) memory() int64 {
	var n int64
	if e.g != nil {
		n += e.g.MemoryEstimate()
	}
	if e.asst != nil {
		n += e.asst.MemoryEstimate()
	}
	return n
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

func fill[T int32 | float32](x []T, v T) {
	for i := range x {
		x[i] = v
	}
}
