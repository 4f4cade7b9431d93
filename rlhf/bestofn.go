package rlhf

import (
	"context"
	"errors"
	"fmt"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/model"
)

// Best is the reply best-of-n kept for one prompt.
type Best struct {
	// Reply is the kept reply and Score its reward; Scores are the rewards of all n samples,
	// in sampling order (Scores[Index] == Score).
	Reply  chat.Reply
	Score  float32
	Index  int
	Scores []float32
}

// BestOfN is rejection sampling: for each prompt it samples sc.NumSamples replies (n) with
// asst (a chat.Assistant, or chat.Lanes of them to sample on several cores) and keeps the one scorer rates highest (the first among equals). Replies that did not
// end with <|end|> are kept only when no sample of the prompt ended. Used at inference time it
// trades n times the sampling for reward; its kept replies are also demonstrations for another
// round of SFT (expert iteration).
func BestOfN(ctx context.Context, asst chat.Replier, scorer Scorer, prompts [][]data.Message, sc model.SampleConfig) ([]Best, error) {
	if asst == nil || scorer == nil {
		return nil, errors.New("rlhf: BestOfN needs an assistant and a scorer")
	}
	n := max(sc.NumSamples, 1)
	replies, err := asst.Replies(ctx, prompts, sc)
	if err != nil {
		return nil, fmt.Errorf("rlhf: best-of-%d: %w", n, err)
	}
	seqs := make([][]int32, len(replies))
	for i, r := range replies {
		seqs[i] = append(append([]int32(nil), r.Prompt...), r.Tokens...)
	}
	scores, err := scorer.ScoreTokens(ctx, seqs)
	if err != nil {
		return nil, fmt.Errorf("rlhf: best-of-%d: scoring: %w", n, err)
	}
	if len(scores) != len(replies) {
		return nil, fmt.Errorf("rlhf: best-of-%d: %d scores for %d replies", n, len(scores), len(replies))
	}
	out := make([]Best, len(prompts))
	for p := range prompts {
		group := scores[p*n : (p+1)*n]
		best := -1
		for i, s := range group {
			r := replies[p*n+i]
			if best < 0 || (r.Ended && !replies[p*n+best].Ended) || (r.Ended == replies[p*n+best].Ended && s > group[best]) {
				best = i
			}
		}
		out[p] = Best{Reply: replies[p*n+best], Score: group[best], Index: best, Scores: append([]float32(nil), group...)}
	}
	return out, nil
}

// Demonstrations turns best-of-n results into SFT conversations (prompt + kept reply), leaving
// out replies that did not end with <|end|>: the data of an expert-iteration round.
func Demonstrations(prompts [][]data.Message, best []Best) []data.Conversation {
	var out []data.Conversation
	for i, b := range best {
		if i >= len(prompts) || !b.Reply.Ended {
			continue
		}
		msgs := append(append([]data.Message(nil), prompts[i]...), data.Message{Role: data.RoleAssistant, Content: b.Reply.Text})
		out = append(out, data.Conversation{Source: fmt.Sprintf("best-of-n:%d", i), Messages: msgs})
	}
	return out
}
