package chat

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/retrieval"
)

func TestContextTurn(t *testing.T) {
	_, ok := ContextTurn(nil)
	assert.False(t, ok)
	m, ok := ContextTurn([]retrieval.Hit{{Passage: retrieval.Passage{Text: "kibo lives in a tree."}}, {Passage: retrieval.Passage{Text: "mira likes tea."}}})
	assert.True(t, ok)
	assert.Equal(t, data.Message{Role: data.RoleContext, Content: "kibo lives in a tree.\nmira likes tea."}, m)
}

func TestCallTokens(t *testing.T) {
	const a, b = 40, 41
	toks := []int32{a, tokenizer.ToolCall, b, tokenizer.ToolCall, a, tokenizer.ToolCallEnd, b, tokenizer.ToolCallEnd, tokenizer.End, tokenizer.ToolCall, a}
	want := []TokenRole{TextToken, CallOpen, CallToken, CallToken, CallToken, CallClose, TextToken, TextToken, TextToken, CallOpen, CallToken}
	var c CallTokens
	assert.False(t, c.InCall())
	for i, tok := range toks {
		assert.Equal(t, want[i], c.Next(tok), "token %d", i)
	}
	assert.True(t, c.InCall())
}
