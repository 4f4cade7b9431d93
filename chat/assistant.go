package chat

import (
	"context"
	"fmt"
	"sync"

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

// Replier generates replies to conversations: an *Assistant, or Lanes of them.
type Replier interface {
	Replies(ctx context.Context, convs [][]data.Message, sc model.SampleConfig) ([]Reply, error)
}

// Lanes are assistants that answer together, each on a goroutine of its own (distinct
// Assistants, say one per core, over the same model).
type Lanes []*Assistant

// Replies is Assistant.Replies run on the lanes at once: the conversations are split into
// len(l) contiguous parts, and each part's seed streams are numbered from where one call's
// would be (model.SampleConfig.FirstIndex), so the replies are those of one Assistant.Replies
// call up to float32 round-off in the logits (see model.SampleConfig.Seed). sc.OnToken, when
// set, is called from every lane's goroutine, with the sequence's index in the whole result.
// The first error of a lane is returned.
func (lanes Lanes) Replies(ctx context.Context, convs [][]data.Message, sc model.SampleConfig) ([]Reply, error) {
	if len(lanes) == 0 {
		return nil, fmt.Errorf("chat: lanes: no assistants")
	}
	n := max(sc.NumSamples, 1)
	parts := min(len(lanes), len(convs))
	out := make([]Reply, len(convs)*n)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := i*len(convs)/parts, (i+1)*len(convs)/parts
		lsc := sc
		lsc.FirstIndex = sc.FirstIndex + lo*n
		if on := sc.OnToken; on != nil {
			lsc.OnToken = func(seq int, tok int32) bool { return on(lo*n+seq, tok) }
		}
		wg.Go(func() {
			rs, err := lanes[i].Replies(ctx, convs[lo:hi], lsc)
			copy(out[lo*n:], rs)
			if err != nil {
				errs[i] = fmt.Errorf("conversations %d to %d: %w", lo, hi-1, err)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
