package rlhf_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/rlhf"
)

// TestBestOfN: the kept reply is, for every prompt, the highest-scored of its n samples (checked
// against the scores of all samples), n = 1 keeps the only sample, and the kept replies become
// SFT demonstrations.
func TestBestOfN(t *testing.T) {
	words := testutil.Words(40, 3)
	_, ck, _, prompts := ppoSetup(t, words, 40)
	asst, err := chat.NewAssistant(ck.Model, ck.Tokenizer, 8)
	require.NoError(t, err)
	// An arbitrary but discriminating reward program: the sum of the reply's token IDs mod 7.
	scorer := rlhf.ScorerFunc(func(_ context.Context, seqs [][]int32) ([]float32, error) {
		out := make([]float32, len(seqs))
		for i, q := range seqs {
			sum := 0
			for _, t := range q {
				sum += int(t)
			}
			out[i] = float32(sum % 7)
		}
		return out, nil
	})
	sc := model.SampleConfig{MaxNewTokens: 8, Temperature: 1.5, NumSamples: 6, Seed: 3}
	best, err := rlhf.BestOfN(context.Background(), asst, scorer, prompts[:5], sc)
	require.NoError(t, err)
	require.Len(t, best, 5)
	all, err := asst.Replies(context.Background(), prompts[:5], sc) // the same samples again
	require.NoError(t, err)
	improved := 0
	for p, b := range best {
		require.Len(t, b.Scores, 6)
		require.Equal(t, all[p*6+b.Index].Text, b.Reply.Text)
		require.Equal(t, b.Scores[b.Index], b.Score)
		for i, s := range b.Scores {
			if all[p*6+i].Ended == b.Reply.Ended {
				require.LessOrEqual(t, s, b.Score, "prompt %d sample %d scores above the kept one", p, i)
			}
		}
		if b.Score > b.Scores[0] {
			improved++
		}
	}
	t.Logf("best-of-6 beat the first sample on %d of 5 prompts", improved)
	require.Greater(t, improved, 0, "the scores differ between samples, so keeping the best must help somewhere")

	one, err := rlhf.BestOfN(context.Background(), asst, scorer, prompts[:2], model.SampleConfig{MaxNewTokens: 8})
	require.NoError(t, err)
	require.Equal(t, 0, one[0].Index)
	require.Len(t, one[0].Scores, 1)

	demos := rlhf.Demonstrations(prompts[:5], best)
	for _, d := range demos {
		require.NoError(t, data.ValidateConversation(d.Messages))
	}
}
