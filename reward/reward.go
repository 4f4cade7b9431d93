package reward

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/train"
)

// Config configures reward-model training: the shared training configuration (promoted
// fields: cfg.Steps, cfg.LR, …; Batch is the number of replies per micro-batch, into which
// whole rankings are packed, so it must hold the largest ranking) and the reward stage's own
// settings. Start from DefaultConfig.
type Config struct {
	train.Config
	// Block is the row length (0: the model's block size; at most that); longer
	// conversations keep their last Block tokens.
	Block int
	// Epochs is the number of passes over the rankings that give Steps when Steps is 0.
	Epochs int
	// Unpacked gives each reply a row of its own, padded to Block. By default a micro-batch's
	// replies are packed one after another into as few rows as they fit (data.Pack), each
	// attending only to itself (model.GraphConfig.Packed): the same rankings and the same
	// loss, up to the order float32 sums the gradients in, on about half the rows when replies
	// fill half a block.
	Unpacked bool
}

// DefaultConfig returns the reward stage's defaults: one epoch (Steps 0) of batch 16 at LR
// 1e-4 decaying to 1e-5 after a 5% warm-up, AdamW β2 0.99 with weight decay 0.1, clipping at
// 1, seed train.DefaultSeed. Out must be set.
func DefaultConfig() Config {
	c := Config{Config: train.DefaultConfig(), Epochs: 1}
	c.Steps, c.Batch, c.LR = 0, 16, 1e-4
	return c
}

// Data is what the reward model trains on.
type Data struct {
	// Train and Val are rankings of replies, best first, each passing
	// [data.Ranking.Validate]. A reply may be text (Ranking.Responses) or an assistant turn
	// with tool calls and their results (Ranking.Turns); either way it is learned as the
	// prompt and the turn rendered with the chat template, and scored at the turn's closing
	// <|end|>.
	Train, Val []data.Ranking
	// Normalize are conversations ending with an assistant reply (the SFT data's own
	// replies): after training, the head's bias is shifted so their mean reward is 0.
	Normalize []data.Conversation
}

// Metadata keys of reward checkpoints.
const (
	MetaMean = "reward.mean" // mean reward of Data.Normalize before the shift
	MetaStd  = "reward.std"  // standard deviation of those rewards
)

// encoded is one ranking's replies as rows, with the position of each reply's last token.
type encoded struct {
	rows [][]int32 // each of length block, right-padded
	ends []int
}

// encode renders prompt+turn as a conversation and fits it into one right-padded row, keeping
// the last block tokens; it returns the row and the position of the last real token (the
// turn's closing <|end|>). turn must satisfy data.ValidateTurn; a plain reply is a turn of one
// assistant message.
func encode(tok tokenizer.Tokenizer, prompt, turn []data.Message, block int) ([]int32, int, error) {
	if err := data.ValidateTurn(turn); err != nil {
		return nil, 0, err
	}
	msgs := append(append([]data.Message(nil), prompt...), turn...)
	ids, _, err := data.RenderChat(tok, msgs)
	if err != nil {
		return nil, 0, err
	}
	return padRow(ids, block)
}

// replyTurn is a plain reply as a turn: one assistant message.
func replyTurn(reply string) []data.Message {
	return []data.Message{{Role: data.RoleAssistant, Content: reply}}
}

// padRow right-pads (or left-cuts) ids to block and returns the last real token's position.
func padRow(ids []int32, block int) ([]int32, int, error) {
	if len(ids) == 0 {
		return nil, 0, errors.New("empty sequence")
	}
	if len(ids) > block {
		ids = ids[len(ids)-block:]
	}
	row := make([]int32, block)
	copy(row, ids)
	return row, len(ids) - 1, nil
}

func encodeRankings(tok tokenizer.Tokenizer, rs []data.Ranking, block, batch int) ([]encoded, error) {
	out := make([]encoded, 0, len(rs))
	for _, r := range rs {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", r.Source, err)
		}
		if r.Len() > batch {
			return nil, fmt.Errorf("%s: %d ranked replies do not fit a batch of %d rows", r.Source, r.Len(), batch)
		}
		var e encoded
		for i := range r.Len() {
			row, end, err := encode(tok, r.Prompt, r.Turn(i), block)
			if err != nil {
				return nil, fmt.Errorf("%s: reply %d: %w", r.Source, i, err)
			}
			e.rows = append(e.rows, row)
			e.ends = append(e.ends, end)
		}
		out = append(out, e)
	}
	return out, nil
}

// NewModel makes a reward model from a chat model: the same transformer weights plus a scalar
// head initialised near 0 (weights N(0, 0.02)·0.1, bias 0).
func NewModel(chat *model.Model, seed uint64) (*model.Model, error) {
	cfg := chat.Config
	cfg.ScalarHead = true
	cfg.Dropout = 0
	m, err := model.New(cfg, seed)
	if err != nil {
		return nil, err
	}
	for _, p := range chat.Params {
		if q := m.Param(p.Name); q != nil {
			copy(q.Data, p.Data)
		}
	}
	for i := range m.Param("score.weight").Data {
		m.Param("score.weight").Data[i] *= 0.1
	}
	return m, nil
}

// TrainFile is Train with the SFT checkpoint read from the file at sftPath.
func TrainFile(ctx context.Context, cfg Config, sftPath string, d Data) (*train.Result, error) {
	parent, err := model.LoadStage(sftPath, model.StageSFT)
	if err != nil {
		return nil, fmt.Errorf("reward: %w", err)
	}
	return Train(ctx, cfg, parent, d)
}

// Train trains a reward model — parent's transformer with a new scalar head — on d and writes
// a checkpoint with stage "reward" whose Parent is parent's fingerprint. parent must be an SFT
// checkpoint. Metrics: "val_accuracy" (share of held-out pairs ranked right), "val_margin"
// (mean r(better) − r(worse)), "val_reward_mean" and "val_reward_std", "rows_per_step" (the
// rows a micro-batch took on average: Batch unpacked, fewer packed; over the steps this
// process ran).
func Train(ctx context.Context, cfg Config, parent *model.Checkpoint, d Data) (*train.Result, error) {
	if parent == nil || parent.Model == nil || parent.Tokenizer == nil {
		return nil, errors.New("reward: a parent checkpoint with a model and a tokenizer is required")
	}
	if parent.Stage != model.StageSFT {
		return nil, fmt.Errorf("reward: the parent checkpoint is from the %q stage; the reward model starts from an sft checkpoint", parent.Stage)
	}
	parentID, err := parent.Fingerprint()
	if err != nil {
		return nil, fmt.Errorf("reward: %w", err)
	}
	tok := parent.Tokenizer
	if cfg.Block == 0 {
		cfg.Block = parent.Model.Config.BlockSize
	}
	if cfg.Block < 1 || cfg.Block > parent.Model.Config.BlockSize {
		return nil, fmt.Errorf("reward: Block is %d, want 1..the model's block size (%d)", cfg.Block, parent.Model.Config.BlockSize)
	}
	if cfg.Batch <= 0 {
		return nil, fmt.Errorf("reward: %w: Batch is %d, want > 0", train.ErrConfig, cfg.Batch)
	}
	trainSet, err := encodeRankings(tok, d.Train, cfg.Block, cfg.Batch)
	if err != nil {
		return nil, fmt.Errorf("reward: training data: %w", err)
	}
	if len(trainSet) == 0 {
		return nil, errors.New("reward: no training rankings")
	}
	valSet, err := encodeRankings(tok, d.Val, cfg.Block, cfg.Batch)
	if err != nil {
		return nil, fmt.Errorf("reward: validation data: %w", err)
	}
	rows := 0
	for _, e := range trainSet {
		rows += len(e.rows)
	}
	if cfg.Steps == 0 {
		if cfg.Epochs <= 0 {
			return nil, fmt.Errorf("reward: Epochs is %d with Steps 0, want > 0", cfg.Epochs)
		}
		cfg.Steps = max(1, cfg.Epochs*rows/cfg.Batch)
	}
	if err := cfg.Config.Validate(); err != nil {
		return nil, fmt.Errorf("reward: %w", err)
	}
	fp, err := data.Fingerprint(d)
	if err != nil {
		return nil, fmt.Errorf("reward: %w", err)
	}
	m, err := NewModel(parent.Model, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("reward: %w", err)
	}

	B, T := cfg.Batch, cfg.Block
	var groups []Group
	used := 0                 // replies in the micro-batch
	ends := make([]int, B)    // each reply's last token in its row
	at := make([]int, B)      // where that token is in the graph
	lengths := make([]int, B) // the tokens each reply takes in the graph
	rowScores, rowGrad := make([]float32, B), make([]float32, B)
	loss := func(values, grad []float32) float64 {
		for r := range used {
			rowScores[r] = values[at[r]]
		}
		l := PairwiseLoss(rowScores[:used], groups, rowGrad[:used])
		clear(grad)
		for r := range used {
			grad[at[r]] = rowGrad[r]
		}
		return l
	}
	graphs, err := m.NewGraphs(model.GraphConfig{Batch: B, Block: T, Objective: model.Values, Loss: loss, Train: true,
		Recompute: cfg.Recompute, Precision: cfg.Precision, Packed: !cfg.Unpacked})
	if err != nil {
		return nil, fmt.Errorf("reward: %w", err)
	}
	pcg := rand.NewPCG(cfg.Seed, 0x7e3)
	rng := rand.New(pcg)
	replies := make([][]int32, B)
	places := make([]data.Place, B)
	var rowsRun, stepsRun int // since this process started (a resumed run counts from there)
	microStep := func(context.Context) (float64, int, error) {
		groups = groups[:0]
		used = 0
		for {
			e := trainSet[rng.IntN(len(trainSet))]
			if used+len(e.rows) > B {
				break
			}
			grp := Group{}
			for i, row := range e.rows {
				replies[used], ends[used], lengths[used] = row, e.ends[i], e.ends[i]+1
				grp.Rows = append(grp.Rows, used)
				used++
			}
			groups = append(groups, grp)
		}
		rows := B
		if cfg.Unpacked {
			for r := range used {
				places[r], lengths[r] = data.Place{Row: r}, T
			}
		} else {
			var err error
			if places, rows, err = data.Pack(lengths[:used], T); err != nil {
				return 0, 0, err
			}
		}
		g, err := graphs.Rows(rows)
		if err != nil {
			return 0, 0, err
		}
		rowsRun, stepsRun = rowsRun+rows, stepsRun+1
		clear(g.Tokens)
		for r := range used {
			base := places[r].Row*T + places[r].Col
			copy(g.Tokens[base:base+lengths[r]], replies[r])
			at[r] = base + ends[r]
		}
		if g.Positions != nil {
			data.PackPositions(g.Positions, places[:used], T)
		}
		if err := g.Run(); err != nil {
			return 0, 0, err
		}
		if cfg.Unpacked {
			rows = used
		}
		return g.Loss, rows * T, nil // the positions run (unpacked: the replies' rows), padding included
	}
	scorer, err := NewScorer(m, tok, B, T)
	if err != nil {
		return nil, err
	}
	job := train.Job{
		Model: m, Tokenizer: tok, Stage: model.StageReward, Parent: parentID,
		Settings: struct {
			Block, Epochs int
			Packed        bool
		}{cfg.Block, cfg.Epochs, !cfg.Unpacked},
		DataFingerprint: fp,
		Memory:          graphs.MemoryEstimate() + scorer.MemoryEstimate(),
		MicroStep:       microStep,
		Evaluate: func(ctx context.Context) (map[string]float64, error) {
			return evaluate(ctx, scorer, valSet)
		},
		Finish: func(ctx context.Context, metrics map[string]float64, extra map[string]string) error {
			mean, std, err := normalize(ctx, scorer, d.Normalize)
			if err != nil {
				return err
			}
			extra[MetaMean] = strconv.FormatFloat(mean, 'g', -1, 64)
			extra[MetaStd] = strconv.FormatFloat(std, 'g', -1, 64)
			metrics["reward_shift"] = -mean
			if stepsRun > 0 {
				metrics["rows_per_step"] = float64(rowsRun) / float64(stepsRun)
			}
			return nil
		},
	}
	job.SaveState, job.LoadState = train.BinaryState(pcg.MarshalBinary, pcg.UnmarshalBinary)
	return train.Run(ctx, cfg.Config, job)
}

// evaluate scores every held-out reply and compares every pair.
func evaluate(ctx context.Context, s *Scorer, set []encoded) (map[string]float64, error) {
	var rows [][]int32
	var ends []int
	for _, e := range set {
		rows = append(rows, e.rows...)
		ends = append(ends, e.ends...)
	}
	if len(rows) == 0 {
		return map[string]float64{}, nil
	}
	scores, err := s.scoreRows(ctx, rows, ends)
	if err != nil {
		return nil, err
	}
	var right, pairs int
	var margin float64
	i := 0
	for _, e := range set {
		k := len(e.rows)
		for a := 0; a < k; a++ {
			for b := a + 1; b < k; b++ {
				d := float64(scores[i+a] - scores[i+b])
				margin += d
				if d > 0 {
					right++
				}
				pairs++
			}
		}
		i += k
	}
	mean, std := meanStd(scores)
	return map[string]float64{
		"val_accuracy": float64(right) / float64(max(pairs, 1)), "val_margin": margin / float64(max(pairs, 1)),
		"val_reward_mean": mean, "val_reward_std": std,
	}, nil
}

// normalize shifts the head's bias so the rewards of convs' final replies have mean 0, and
// returns their mean (before) and standard deviation.
func normalize(ctx context.Context, s *Scorer, convs []data.Conversation) (mean, std float64, err error) {
	if len(convs) == 0 {
		return 0, 0, nil
	}
	var rows [][]int32
	var ends []int
	for _, c := range convs {
		ids, _, err := data.RenderChat(s.tok, c.Messages)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", c.Source, err)
		}
		row, end, err := padRow(ids, s.block)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", c.Source, err)
		}
		rows, ends = append(rows, row), append(ends, end)
	}
	scores, err := s.scoreRows(ctx, rows, ends)
	if err != nil {
		return 0, 0, err
	}
	mean, std = meanStd(scores)
	s.model.Param("score.bias").Data[0] -= float32(mean)
	return mean, std, nil
}

func meanStd(x []float32) (mean, std float64) {
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	for _, v := range x {
		std += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, math.Sqrt(std / float64(len(x)))
}
