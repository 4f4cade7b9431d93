// Package tinyeval holds the tiny world's evaluation loops that more than one program runs:
// the gold-versus-proxy measurement of a policy behind the over-optimisation curves of
// examples/tinychat and examples/bakeoff.
package tinyeval

import (
	"context"
	"fmt"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tinyworld"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

// BatchScorer scores replies to prompts; *reward.Scorer is one.
type BatchScorer interface {
	ScoreBatch(ctx context.Context, prompts [][]data.Message, replies []string) ([]float32, error)
}

// GoldProxy returns an evaluation hook for the RL methods' Evaluate field: at each call it
// samples one reply per prompt from the policy with sample (its seed fixed, so that every call
// sees the same draws for the same weights), and returns "gold", the gold judge's mean score
// of the replies, and "proxy", the scorer's mean. The policy's assistant is built on the first
// call, with tok, and reused (the policy's weights change in place between calls).
func GoldProxy(w *tinyworld.World, prompts []tinyworld.Prompt, scorer BatchScorer, tok tokenizer.Tokenizer, sample model.SampleConfig) func(context.Context, *model.Model) (map[string]float64, error) {
	msgs := make([][]data.Message, len(prompts))
	for i, pr := range prompts {
		msgs[i] = pr.Messages
	}
	var asst *chat.Assistant
	return func(ctx context.Context, policy *model.Model) (map[string]float64, error) {
		if len(prompts) == 0 {
			return nil, fmt.Errorf("tinyeval: no prompts to measure gold and proxy on")
		}
		if asst == nil {
			a, err := chat.NewAssistant(policy, tok, len(msgs))
			if err != nil {
				return nil, err
			}
			asst = a
		}
		replies, err := asst.Replies(ctx, msgs, sample)
		if err != nil {
			return nil, err
		}
		texts := make([]string, len(replies))
		var gold float64
		for i, r := range replies {
			gold += w.Judge(prompts[i], r.Text, r.Ended).Score
			texts[i] = r.Text
		}
		scores, err := scorer.ScoreBatch(ctx, msgs, texts)
		if err != nil {
			return nil, err
		}
		var proxy float64
		for _, s := range scores {
			proxy += float64(s)
		}
		n := float64(len(replies))
		return map[string]float64{"gold": gold / n, "proxy": proxy / n}, nil
	}
}
