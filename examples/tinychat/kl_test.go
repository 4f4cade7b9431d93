package main

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

// The report's KL to SFT: zero for replies sampled from the reference model itself, and for
// one-token replies the Monte-Carlo estimate matches the exact KL of the two next-token
// distributions, Σ p log p/q.
func TestKLToModel(t *testing.T) {
	ctx := context.Background()
	tok := tokenizer.NewChar("abcdefgh ?")
	cfg := model.Config{VocabSize: tok.VocabSize(), BlockSize: 32, Layers: 1, Heads: 2, Width: 16}
	policy, err := model.New(cfg, 3)
	require.NoError(t, err)
	ref, err := model.New(cfg, 4)
	require.NoError(t, err)
	for _, m := range []*model.Model{policy, ref} {
		for _, p := range m.Params { // sharper than the initialisation's near-uniform distributions
			for i := range p.Data {
				p.Data[i] *= 4
			}
		}
	}
	asst, err := chat.NewAssistant(policy, tok, 8)
	require.NoError(t, err)
	msgs := [][]data.Message{{{Role: data.RoleUser, Content: "abc?"}}}
	sample := func(msgs [][]data.Message, maxNew, n int) []chat.Reply {
		replies, err := asst.Replies(ctx, msgs, model.SampleConfig{MaxNewTokens: maxNew, Temperature: 1, NumSamples: n, Seed: 9})
		require.NoError(t, err)
		return replies
	}

	long := sample(msgs, 6, 64)
	self, err := klToModel(ctx, long, policy, policy)
	require.NoError(t, err)
	require.Equal(t, 0.0, self, "the KL of a model to itself")
	other, err := klToModel(ctx, long, policy, ref)
	require.NoError(t, err)
	require.Greater(t, other, 0.01)

	// A prompt that leaves less room than the reply takes (the sampler slides its window):
	// scored after the prompt's last tokens.
	full := sample([][]data.Message{{{Role: data.RoleUser, Content: "abcdefgh abcdefgh abcdefgh?"}}}, 8, 4)
	require.Greater(t, len(full[0].Prompt)+len(full[0].Tokens), cfg.BlockSize)
	_, err = klToModel(ctx, full, policy, ref)
	require.NoError(t, err)

	// One token per reply: the exact KL of the next-token distributions after the prompt.
	replies := sample(msgs, 1, 4000)
	got, err := klToModel(ctx, replies, policy, ref)
	require.NoError(t, err)
	prompt := replies[0].Prompt
	next := func(m *model.Model) []float64 {
		eng, err := model.NewEngine(m, 1)
		require.NoError(t, err)
		logits, err := eng.Prefill(0, prompt)
		require.NoError(t, err)
		out := make([]float64, len(logits))
		for i := range logits {
			out[i] = logSoftmaxAt(logits, int32(i))
		}
		return out
	}
	lp, lq := next(policy), next(ref)
	var exact float64
	for i := range lp {
		exact += math.Exp(lp[i]) * (lp[i] - lq[i])
	}
	t.Logf("exact KL %.4f, estimate %.4f; %d-token replies: %.4f", exact, got, 6, other)
	require.Greater(t, exact, 0.01)
	require.InDelta(t, exact, got, 0.15*exact, "the estimate of %d one-token replies against the exact KL", len(replies))
}
