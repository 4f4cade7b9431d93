package chat

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

// Lanes give the replies of one Replies call, in order, with the seed streams of one
// call, on any number of lanes; OnToken sees indices in the whole result.
func TestLanes(t *testing.T) {
	tok, err := tokenizer.NewCharFromAlphabet([]rune("abcdefgh "))
	require.NoError(t, err)
	m := peakedModel(t, model.Config{VocabSize: tok.VocabSize(), BlockSize: 32, Layers: 2, Heads: 2, Width: 16})
	convs := make([][]data.Message, 7)
	for i := range convs {
		convs[i] = []data.Message{{Role: data.RoleUser, Content: string("abcdefgh"[i:i+1]) + " bad"}}
	}
	one, err := NewAssistant(m, tok, 4)
	require.NoError(t, err)
	for _, sc := range []model.SampleConfig{
		{MaxNewTokens: 10},
		{MaxNewTokens: 10, Temperature: 1, Seed: 9, NumSamples: 3, ReturnLogProbs: true},
	} {
		want, err := one.Replies(context.Background(), convs, sc)
		require.NoError(t, err)
		for _, n := range []int{1, 2, 3, 10} {
			lanes := make([]*Assistant, n)
			for i := range lanes {
				lanes[i], err = NewAssistant(m, tok, 2)
				require.NoError(t, err)
			}
			var mu sync.Mutex
			seen := make([]int, len(want))
			sc := sc
			sc.OnToken = func(seq int, _ int32) bool {
				mu.Lock()
				defer mu.Unlock()
				seen[seq]++
				return true
			}
			got, err := Lanes(lanes).Replies(context.Background(), convs, sc)
			require.NoError(t, err)
			require.Len(t, got, len(want))
			for i := range want {
				require.Equal(t, want[i].Tokens, got[i].Tokens, "%d lanes, reply %d", n, i)
				require.Equal(t, want[i].Prompt, got[i].Prompt, "%d lanes, reply %d", n, i)
				require.InDeltaSlice(t, want[i].LogProbs, got[i].LogProbs, 1e-5, "%d lanes, reply %d", n, i)
				require.Equal(t, len(got[i].Tokens), seen[i], "%d lanes, reply %d", n, i)
			}
		}
	}
	distinct := map[string]bool{}
	rs, err := Lanes{one}.Replies(context.Background(), convs[:1], model.SampleConfig{MaxNewTokens: 10, Temperature: 1, Seed: 9, NumSamples: 4})
	require.NoError(t, err)
	for _, r := range rs {
		distinct[r.Text] = true
	}
	require.Greater(t, len(distinct), 1, "the test needs samples that differ")

	_, err = Lanes(nil).Replies(context.Background(), convs, model.SampleConfig{})
	require.ErrorContains(t, err, "chat: lanes: no assistants")
	bad := append([][]data.Message{}, convs...)
	bad[5] = []data.Message{{Role: "wizard", Content: "a"}}
	other, err := NewAssistant(m, tok, 4)
	require.NoError(t, err)
	_, err = Lanes{one, other}.Replies(context.Background(), bad, model.SampleConfig{MaxNewTokens: 3})
	require.ErrorContains(t, err, "conversations 3 to 6: chat: prompt 2:")
}
