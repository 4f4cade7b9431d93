package reward

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

// Scorer scores replies with a reward model: the scalar head on the final hidden state at the
// last token of prompt+reply (the reply's closing <|end|>). A reply is text ([Scorer.Score]) or
// an assistant turn with tool calls and their results ([Scorer.ScoreTurn]), rendered after
// the prompt with the chat template. Rows are right-padded, so padding never reaches the
// scored position (attention is causal).
//
// It runs the model forward in a KV-cache engine (model.Engine.Score), over each sequence's
// own tokens only: the same numbers as the training graph's Values objective up to float32
// round-off, at the cost of the tokens scored rather than of whole rows (on the default run's
// reward model, 32 rollouts of 40–70 tokens take about 90 ms, against 300 ms through a graph of
// 16 rows of 192).
type Scorer struct {
	// Mean and Std are the reward statistics stored in the checkpoint (the mean before the
	// bias shift that made the SFT replies' mean 0).
	Mean, Std float64
	model     *model.Model
	tok       tokenizer.Tokenizer
	eng       *model.Engine
	block     int
	feeds     [][]int32
}

// Load opens a reward checkpoint file as a Scorer (see FromCheckpoint).
func Load(path string) (*Scorer, error) {
	ck, err := model.LoadStage(path, model.StageReward)
	if err != nil {
		return nil, fmt.Errorf("reward: %w", err)
	}
	return FromCheckpoint(ck)
}

// FromCheckpoint makes a Scorer that scores up to 16 replies per run from a reward checkpoint
// in memory (reward.Train's Result.Checkpoint, say), with its stored reward statistics.
func FromCheckpoint(ck *model.Checkpoint) (*Scorer, error) {
	if ck == nil || ck.Stage != model.StageReward {
		return nil, errors.New("reward: FromCheckpoint needs a reward checkpoint")
	}
	s, err := NewScorer(ck.Model, ck.Tokenizer, 16, ck.Model.Config.BlockSize)
	if err != nil {
		return nil, err
	}
	s.Mean, _ = strconv.ParseFloat(ck.Extra[MetaMean], 64)
	s.Std, _ = strconv.ParseFloat(ck.Extra[MetaStd], 64)
	return s, nil
}

// NewScorer makes a Scorer over m's weights (read in place) that scores up to batch sequences
// in one forward pass, each cut to its last block tokens (at most the model's block size).
func NewScorer(m *model.Model, tok tokenizer.Tokenizer, batch, block int) (*Scorer, error) {
	if !m.Config.ScalarHead {
		return nil, fmt.Errorf("reward: the model has no scalar head")
	}
	if block < 1 || block > m.Config.BlockSize {
		return nil, fmt.Errorf("reward: scorer block %d, want 1..%d (the model's block size)", block, m.Config.BlockSize)
	}
	e, err := model.NewEngine(m, batch)
	if err != nil {
		return nil, fmt.Errorf("reward: %w", err)
	}
	return &Scorer{model: m, tok: tok, eng: e, block: block, feeds: make([][]int32, batch)}, nil
}

// MemoryEstimate is the bytes the scorer's engine holds (model.EstimateEngineMemory).
func (s *Scorer) MemoryEstimate() int64 {
	return model.EstimateEngineMemory(s.model.Config, s.eng.Batch())
}

// Model returns the reward model.
func (s *Scorer) Model() *model.Model { return s.model }

// Tokenizer returns the reward model's tokenizer.
func (s *Scorer) Tokenizer() tokenizer.Tokenizer { return s.tok }

// Score returns the reward of reply as the assistant's answer to prompt (which ends with a
// user turn).
func (s *Scorer) Score(prompt []data.Message, reply string) (float32, error) {
	r, err := s.ScoreBatch(context.Background(), [][]data.Message{prompt}, []string{reply})
	if err != nil {
		return 0, err
	}
	return r[0], nil
}

// ScoreBatch scores replies[i] as the answer to prompts[i]. A reply may be empty: the model
// ends its turn at once.
func (s *Scorer) ScoreBatch(ctx context.Context, prompts [][]data.Message, replies []string) ([]float32, error) {
	if len(prompts) != len(replies) {
		return nil, fmt.Errorf("reward: %d prompts but %d replies", len(prompts), len(replies))
	}
	turns := make([][]data.Message, len(replies))
	for i, reply := range replies {
		turns[i] = replyTurn(reply)
	}
	return s.ScoreTurnBatch(ctx, prompts, turns)
}

// ScoreTurn returns the reward of turn as the assistant's answer to prompt (which ends with a
// user turn): turn is the assistant turn's messages — texts, tool calls and their results —
// ending with the final reply, as data.ValidateTurn requires. A turn of one assistant message
// scores exactly as that reply does with Score.
func (s *Scorer) ScoreTurn(prompt, turn []data.Message) (float32, error) {
	r, err := s.ScoreTurnBatch(context.Background(), [][]data.Message{prompt}, [][]data.Message{turn})
	if err != nil {
		return 0, err
	}
	return r[0], nil
}

// ScoreTurnBatch scores turns[i] as the answer to prompts[i] (see ScoreTurn).
func (s *Scorer) ScoreTurnBatch(ctx context.Context, prompts, turns [][]data.Message) ([]float32, error) {
	if len(prompts) != len(turns) {
		return nil, fmt.Errorf("reward: %d prompts but %d turns", len(prompts), len(turns))
	}
	rows := make([][]int32, len(turns))
	ends := make([]int, len(turns))
	for i := range turns {
		row, end, err := encode(s.tok, prompts[i], turns[i], s.block)
		if err != nil {
			return nil, fmt.Errorf("reward: reply %d: %w", i, err)
		}
		rows[i], ends[i] = row, end
	}
	return s.scoreRows(ctx, rows, ends)
}

// ScoreTokens scores token sequences (prompt and reply IDs), each at its last token; a
// sequence longer than the block keeps its last tokens.
func (s *Scorer) ScoreTokens(ctx context.Context, seqs [][]int32) ([]float32, error) {
	rows := make([][]int32, len(seqs))
	ends := make([]int, len(seqs))
	for i, q := range seqs {
		row, end, err := padRow(q, s.block)
		if err != nil {
			return nil, fmt.Errorf("reward: sequence %d: %w", i, err)
		}
		rows[i], ends[i] = row, end
	}
	return s.scoreRows(ctx, rows, ends)
}

// scoreRows scores each row's tokens up to its end position: the rows go through the engine
// in passes of up to Batch sequences and MaxRows tokens, each scored at its last token.
func (s *Scorer) scoreRows(ctx context.Context, rows [][]int32, ends []int) ([]float32, error) {
	out := make([]float32, len(rows))
	B, R := s.eng.Batch(), s.eng.MaxRows()
	for lo := 0; lo < len(rows); {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s.eng.Reset()
		clear(s.feeds)
		hi, fed := lo, 0
		for hi < len(rows) && hi-lo < B && fed+ends[hi]+1 <= R {
			s.feeds[hi-lo] = rows[hi][:ends[hi]+1]
			fed += ends[hi] + 1
			hi++
		}
		if _, err := s.eng.Feed(s.feeds); err != nil {
			return nil, fmt.Errorf("reward: %w", err)
		}
		for i := lo; i < hi; i++ {
			v, err := s.eng.Score(i-lo, ends[i])
			if err != nil {
				return nil, fmt.Errorf("reward: %w", err)
			}
			out[i] = v
		}
		lo = hi
	}
	return out, nil
}
