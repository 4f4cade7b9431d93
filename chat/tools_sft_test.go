package chat_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/sft"
	"github.com/tinychat-go/tinychat/tools"
)

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// reverseConversations: the user asks to reverse a word, the assistant calls the tool "rev"
// with it and answers with the result.
func reverseConversations(words []string) []data.Conversation {
	out := make([]data.Conversation, len(words))
	for i, w := range words {
		out[i] = data.Conversation{Source: fmt.Sprintf("rev:%d", i), Messages: []data.Message{
			{Role: data.RoleUser, Content: "reverse " + w},
			{Role: data.RoleToolCall, Content: "rev " + w},
			{Role: data.RoleToolResult, Content: reverse(w)},
			{Role: data.RoleAssistant, Content: reverse(w)},
		}}
	}
	return out
}

// TestToolUseLearned fine-tunes the tiny test model on conversations that call a tool, then
// asks about words never in them: the model writes the call itself, the loop runs it, and the
// model answers with the result, which it could not compute (a word reversed). With the tool
// failing, the same model cannot answer.
func TestToolUseLearned(t *testing.T) {
	words := testutil.Words(160, 1)
	train, held := words[:120], words[120:]
	base, err := model.LoadCheckpoint(testutil.Pretrained(t, words, 400))
	require.NoError(t, err)
	cfg := sft.DefaultConfig()
	cfg.Steps, cfg.LR, cfg.WarmupSteps, cfg.FormatPrompts, cfg.Seed = 400, 2e-3, 20, 0, 1
	cfg.Out = filepath.Join(t.TempDir(), "sft.safetensors")
	res, err := sft.Train(context.Background(), cfg, base, sft.Data{Train: reverseConversations(train)})
	require.NoError(t, err)
	ck := res.Checkpoint

	asst, err := chat.NewAssistant(ck.Model, ck.Tokenizer, 1)
	require.NoError(t, err)
	rev := tools.Func{ToolName: "rev", F: func(_ context.Context, s string) (string, error) { return reverse(s), nil }}
	withTool, err := tools.NewRegistry(rev)
	require.NoError(t, err)
	without, err := tools.NewRegistry(tools.Calculator{})
	require.NoError(t, err)
	ctx := context.Background()
	var calls, right, rightWithout int
	for _, w := range held {
		msgs := []data.Message{{Role: data.RoleUser, Content: "reverse " + w}}
		r, err := asst.ReplyWithTools(ctx, msgs, model.SampleConfig{MaxNewTokens: 30}, chat.ToolConfig{Tools: withTool})
		require.NoError(t, err)
		if len(r.Calls) == 1 && r.Calls[0].Text == "rev "+w {
			calls++
		}
		if r.Ended && r.Text == reverse(w) {
			right++
		}
		if w == held[0] || w == held[1] {
			t.Logf("%q: calls %+v, text %q, ended %v", w, r.Calls, r.Text, r.Ended)
		}
		r, err = asst.ReplyWithTools(ctx, msgs, model.SampleConfig{MaxNewTokens: 30}, chat.ToolConfig{Tools: without})
		require.NoError(t, err)
		if r.Ended && r.Text == reverse(w) {
			rightWithout++
		}
	}
	n := float64(len(held))
	t.Logf("held-out words: exact call %.2f, right answer with the tool %.2f, without it %.2f", float64(calls)/n, float64(right)/n, float64(rightWithout)/n)
	assert.GreaterOrEqual(t, float64(calls)/n, 0.8)
	assert.GreaterOrEqual(t, float64(right)/n, 0.8)
	assert.LessOrEqual(t, float64(rightWithout)/n, 0.1)
}
