package chat

import (
	"context"
	"fmt"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

// Assistant answers conversations with a chat model: it renders the prompt in the chat
// template, samples a reply with the KV-cache engine until <|end|>, and parses it.
type Assistant struct {
	eng *model.Engine
	tok tokenizer.Tokenizer
}

// Reply is one generated assistant turn.
type Reply struct {
	// Text is the reply up to <|end|>; Ended reports whether <|end|> was generated.
	Text  string
	Ended bool
	// Prompt and Tokens are the prompt's and the reply's token IDs (Tokens includes the final
	// <|end|> when Ended); LogProbs holds the sampling log-probability of each reply token at
	// temperature 1 when asked for (model.SampleConfig.ReturnLogProbs).
	Prompt, Tokens []int32
	LogProbs       []float32
}

// NewAssistant makes an Assistant over m's weights (read in place) that decodes up to batch
// sequences at once.
func NewAssistant(m *model.Model, tok tokenizer.Tokenizer, batch int) (*Assistant, error) {
	eng, err := model.NewEngine(m, batch)
	if err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	return &Assistant{eng: eng, tok: tok}, nil
}

// Reply generates one reply to msgs (which end with a user turn). sc's StopTokens default to
// <|end|> and MaxNewTokens to 64.
func (a *Assistant) Reply(ctx context.Context, msgs []data.Message, sc model.SampleConfig) (Reply, error) {
	rs, err := a.Replies(ctx, [][]data.Message{msgs}, sc)
	if err != nil {
		return Reply{}, err
	}
	return rs[0], nil
}

// Replies generates sc.NumSamples (default 1) replies to each conversation, in order: all the
// samples of the first conversation, then of the second, and so on.
func (a *Assistant) Replies(ctx context.Context, convs [][]data.Message, sc model.SampleConfig) ([]Reply, error) {
	if len(sc.StopTokens) == 0 {
		sc.StopTokens = []int32{tokenizer.End}
	}
	if sc.MaxNewTokens == 0 {
		sc.MaxNewTokens = 64
	}
	prompts := make([][]int32, len(convs))
	for i, msgs := range convs {
		p, err := data.RenderPrompt(a.tok, msgs)
		if err != nil {
			return nil, fmt.Errorf("chat: prompt %d: %w", i, err)
		}
		prompts[i] = p
	}
	samples, err := a.eng.GenerateBatch(ctx, prompts, sc)
	if err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	n := max(sc.NumSamples, 1)
	out := make([]Reply, len(samples))
	for i, s := range samples {
		text, ended, err := ParseReply(a.tok, s.Tokens)
		if err != nil {
			return nil, fmt.Errorf("chat: %w", err)
		}
		out[i] = Reply{Text: text, Ended: ended, Prompt: prompts[i/n], Tokens: s.Tokens, LogProbs: s.LogProbs}
	}
	return out, nil
}
