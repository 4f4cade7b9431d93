package rlhf

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/reward"
	"github.com/tinychat-go/tinychat/tools"
)

// TestRewardLandsOnEndToken: in a padded row, the reply tokens sit at consecutive target
// positions (the actions), the last of which predicts <|end|>; the score is added there and nowhere else, and
// positions after it (padding) get nothing.
func TestRewardLandsOnEndToken(t *testing.T) {
	const block = 12
	prompt := []int32{tokenizer.BOS, tokenizer.User, 20, 21, tokenizer.End, tokenizer.Assistant}
	replies := []chat.Reply{
		{Prompt: prompt, Tokens: []int32{30, 31, tokenizer.End}, Ended: true},
		{Prompt: prompt, Tokens: []int32{30, 31, 32, 33}, Ended: false}, // cut at the length limit
	}
	ro, err := buildRollouts(replies, nil, block)
	require.NoError(t, err)
	x := ro[0]
	require.Equal(t, []int{5, 6, 7}, x.act) // targets[5] = 30, the first reply token
	end := x.act[len(x.act)-1]
	require.Equal(t, int32(tokenizer.End), x.targets[end], "the last reply position predicts <|end|>")
	for p := end + 1; p < block; p++ {
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
	require.Equal(t, int32(33), y.targets[y.act[len(y.act)-1]])
	require.False(t, y.ended)

	// A prompt too long for the block is cut from the left; the reply stays whole.
	long := append(append([]int32(nil), prompt...), prompt...)
	ro, err = buildRollouts([]chat.Reply{{Prompt: long, Tokens: []int32{30, tokenizer.End}, Ended: true}}, nil, 8)
	require.NoError(t, err)
	require.Equal(t, []int{6, 7}, ro[0].act)
	require.Equal(t, int32(tokenizer.End), ro[0].targets[7])
	require.True(t, ro[0].cropped)
	require.False(t, x.cropped)
	require.InDelta(t, 0.5, croppedFrac([]*rollout{x, ro[0]}), 0)
}

// TestToolResultTokensAreNotActions: in a reply with a tool call, the tokens the runtime
// inserted (the result and its delimiters) are left out of the actions, so the policy loss, the
// value targets (both masked by actionMask) and the KL (summed over actions) never see them,
// and GAE runs over the generated tokens only.
func TestToolResultTokensAreNotActions(t *testing.T) {
	const block = 16
	prompt := []int32{tokenizer.BOS, tokenizer.User, 20, tokenizer.End, tokenizer.Assistant}
	// The model writes a call (40 41 42), the runtime inserts a result (50 51 52), the model
	// answers (43) and ends.
	reply := chat.Reply{Prompt: prompt, Tokens: []int32{40, 41, 42, 50, 51, 52, 43, tokenizer.End}, Ended: true}
	inserted := []bool{false, false, false, true, true, true, false, false}
	ro, err := buildRollouts([]chat.Reply{reply}, [][]bool{inserted}, block)
	require.NoError(t, err)
	x := ro[0]
	require.Equal(t, []int{4, 5, 6, 10, 11}, x.act, "positions 7..9 predict the inserted result")
	for _, p := range []int{7, 8, 9} {
		require.Contains(t, []int32{50, 51, 52}, x.targets[p])
	}
	mask := make([]float32, block)
	actionMask(mask, x)
	require.Equal(t, []float32{0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0}, mask)

	x.oldLogp, x.refLogp = make([]float32, block), make([]float32, block)
	for p := range x.oldLogp {
		x.oldLogp[p], x.refLogp[p] = -1, -1.5 // KL estimate 0.5 per token
	}
	for _, p := range []int{7, 8, 9} {
		x.oldLogp[p], x.refLogp[p] = -0.1, -9 // a large "KL" on inserted tokens, which must not count
	}
	rew, kl := tokenRewards(x, 2, 0.1)
	require.Len(t, rew, 5, "one reward per action")
	require.InDelta(t, 2.5, kl, 1e-6, "five actions of 0.5 each; the inserted tokens add nothing")
	require.InDelta(t, 2-0.05, rew[4], 1e-6)

	// The policy loss over the masked row has no gradient at the inserted positions.
	logp := append([]float32(nil), x.oldLogp...)
	adv := make([]float32, block)
	for _, p := range x.act {
		adv[p] = 1
	}
	grad := make([]float32, block)
	ClippedSurrogate(logp, x.oldLogp, adv, mask, 0.2, 0, grad)
	for _, p := range []int{7, 8, 9} {
		require.Zero(t, grad[p])
	}
	require.NotZero(t, grad[4])

	_, err = buildRollouts([]chat.Reply{reply}, [][]bool{inserted[:3]}, block)
	require.ErrorContains(t, err, "reply 0 has 8 tokens but 3 inserted-token flags")
}

// TestPPORunsToolsInRollouts: with Tools set, PPO's rollouts go through the tool-running
// generation loop (here with a calculator) and train; a tokenizer without the tool tokens is
// refused with the reason.
func TestPPORunsToolsInRollouts(t *testing.T) {
	words := testutil.Words(40, 3)
	sftPath := testutil.FineTuned(t, words, 40)
	ck, err := model.LoadStage(sftPath, model.StageSFT)
	require.NoError(t, err)
	value, err := reward.NewModel(ck.Model, 9)
	require.NoError(t, err)
	reg, err := tools.NewRegistry(tools.Calculator{})
	require.NoError(t, err)
	prompts := make([][]data.Message, len(words))
	for i, w := range words {
		prompts[i] = testutil.RepeatPrompt(w)
	}
	cfg := DefaultPPOConfig()
	cfg.Steps, cfg.Batch, cfg.MaxReplyTokens, cfg.Out = 2, 8, 6, filepath.Join(t.TempDir(), "ppo.safetensors")
	cfg.Tools = &chat.ToolConfig{Tools: reg}
	scorer := ScorerFunc(func(_ context.Context, seqs [][]int32) ([]float32, error) { return make([]float32, len(seqs)), nil })
	res, err := PPO(context.Background(), cfg, ck, value, scorer, "zero", prompts)
	require.NoError(t, err)
	require.Equal(t, 2, res.Steps)

	// A tokenizer from before the tool tokens (its JSON has no "specials").
	legacy, err := tokenizer.Unmarshal([]byte(`{"kind":"char","alphabet":"abc"}`))
	require.NoError(t, err)
	old := *ck
	old.Tokenizer = legacy
	_, err = PPO(context.Background(), cfg, &old, value, scorer, "zero", prompts)
	require.ErrorContains(t, err, "tool")
}

// TestRolloutTurnsFitTheRows: with tools, a turn's results do not count against
// MaxReplyTokens, so the sampler bounds each turn, generated and inserted tokens together, to
// the row's length (a turn longer than a row could not be laid out: buildRollouts crops only
// the prompt); a tighter bound of the caller's stays.
func TestRolloutTurnsFitTheRows(t *testing.T) {
	require.Equal(t, 136, rowToolConfig(chat.ToolConfig{}, 136).MaxTurnTokens)
	require.Equal(t, 136, rowToolConfig(chat.ToolConfig{MaxTurnTokens: 500}, 136).MaxTurnTokens)
	require.Equal(t, 40, rowToolConfig(chat.ToolConfig{MaxTurnTokens: 40, MaxCalls: 2}, 136).MaxTurnTokens)
	require.Equal(t, 2, rowToolConfig(chat.ToolConfig{MaxTurnTokens: 40, MaxCalls: 2}, 136).MaxCalls)

	// A turn of a full row fits; one token more does not.
	prompt := []int32{tokenizer.BOS, tokenizer.User, 20, tokenizer.End, tokenizer.Assistant}
	turn := make([]int32, 8)
	for i := range turn {
		turn[i] = 30
	}
	_, err := buildRollouts([]chat.Reply{{Prompt: prompt, Tokens: turn}}, nil, 8)
	require.NoError(t, err)
	_, err = buildRollouts([]chat.Reply{{Prompt: prompt, Tokens: append(turn, 30)}}, nil, 8)
	require.ErrorContains(t, err, "does not fit the block of 8")
}
