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
type Scorer struct {
	// Mean and Std are the reward statistics stored in the checkpoint (the mean before the
	// bias shift that made the SFT replies' mean 0).
	Mean, Std float64
	model     *model.Model
	tok       tokenizer.Tokenizer
	g         *model.Graph
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

// NewScorer makes a Scorer over m's weights (read in place), running batch rows of block
// tokens at a time.
func NewScorer(m *model.Model, tok tokenizer.Tokenizer, batch, block int) (*Scorer, error) {
	if !m.Config.ScalarHead {
		return nil, fmt.Errorf("reward: the model has no scalar head")
	}
	g, err := m.NewGraph(model.GraphConfig{Batch: batch, Block: block, Objective: model.Values})
	if err != nil {
		return nil, fmt.Errorf("reward: %w", err)
	}
	return &Scorer{model: m, tok: tok, g: g}, nil
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
		row, end, err := encode(s.tok, prompts[i], turns[i], s.g.Config.Block)
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
		row, end, err := padRow(q, s.g.Config.Block)
		if err != nil {
			return nil, fmt.Errorf("reward: sequence %d: %w", i, err)
		}
		rows[i], ends[i] = row, end
	}
	return s.scoreRows(ctx, rows, ends)
}

// scoreRows runs rows (block long) through the graph in batches and reads each row's value at
// its end position.
func (s *Scorer) scoreRows(ctx context.Context, rows [][]int32, ends []int) ([]float32, error) {
	B, T := s.g.Config.Batch, s.g.Config.Block
	out := make([]float32, len(rows))
	for i := 0; i < len(rows); i += B {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		clear(s.g.Tokens)
		for r := 0; r < B && i+r < len(rows); r++ {
			copy(s.g.Tokens[r*T:(r+1)*T], rows[i+r])
		}
		if err := s.g.Run(); err != nil {
			return nil, fmt.Errorf("reward: %w", err)
		}
		for r := 0; r < B && i+r < len(rows); r++ {
			out[i+r] = s.g.Output[r*T+ends[i+r]]
		}
	}
	return out, nil
}
