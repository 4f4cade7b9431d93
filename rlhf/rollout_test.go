package rlhf

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data/tokenizer"
)

// TestRewardLandsOnEndToken: in a padded row, the reply tokens sit at the target positions
// start..end, the last of which predicts <|end|>; the score is added there and nowhere else, and
// positions after it (padding) get nothing.
func TestRewardLandsOnEndToken(t *testing.T) {
	const block = 12
	prompt := []int32{tokenizer.BOS, tokenizer.User, 20, 21, tokenizer.End, tokenizer.Assistant}
	replies := []chat.Reply{
		{Prompt: prompt, Tokens: []int32{30, 31, tokenizer.End}, Ended: true},
		{Prompt: prompt, Tokens: []int32{30, 31, 32, 33}, Ended: false}, // cut at the length limit
	}
	ro, err := buildRollouts(replies, block)
	require.NoError(t, err)
	x := ro[0]
	require.Equal(t, 5, x.start) // targets[5] = 30, the first reply token
	require.Equal(t, 7, x.end)
	require.Equal(t, int32(tokenizer.End), x.targets[x.end], "the last reply position predicts <|end|>")
	for p := x.end + 1; p < block; p++ {
		require.Equal(t, int32(tokenizer.Pad), x.targets[p], "padding after the reply")
	}
	x.oldLogp, x.refLogp = make([]float32, block), make([]float32, block)
	for p := range x.oldLogp {
		x.oldLogp[p], x.refLogp[p] = -1, -1.5 // KL estimate 0.5 per token
	}
	rew, kl := tokenRewards(x, 2, 0.1)
	require.Len(t, rew, 3)
	require.InDelta(t, 1.5, kl, 1e-6)
	require.InDelta(t, -0.05, rew[0], 1e-6)
	require.InDelta(t, -0.05, rew[1], 1e-6)
	require.InDelta(t, 2-0.05, rew[2], 1e-6, "the score lands on the <|end|> position")

	// The cut reply's last token carries the score instead.
	y := ro[1]
	require.Equal(t, int32(33), y.targets[y.end])
	require.False(t, y.ended)

	// A prompt too long for the block is cut from the left; the reply stays whole.
	long := append(append([]int32(nil), prompt...), prompt...)
	ro, err = buildRollouts([]chat.Reply{{Prompt: long, Tokens: []int32{30, tokenizer.End}, Ended: true}}, 8)
	require.NoError(t, err)
	require.Equal(t, int32(tokenizer.End), ro[0].targets[ro[0].end])
	require.Equal(t, 7, ro[0].end)
}
