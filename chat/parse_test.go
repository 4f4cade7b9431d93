package chat

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
)

// chatTok is a char tokenizer with ' '=10, 'a'=11, 'b'=12, 'c'=13.
func chatTok(t *testing.T) tokenizer.Tokenizer {
	t.Helper()
	tok := tokenizer.NewChar("abc ")
	ids, err := tok.Encode(" abc")
	require.NoError(t, err)
	require.Equal(t, []int32{sp, ta, tb, tc}, ids)
	return tok
}

// Token IDs of the tests, for readable expectations.
const (
	bos, usr, ast, end = tokenizer.BOS, tokenizer.User, tokenizer.Assistant, tokenizer.End
	sp, ta, tb, tc     = 10, 11, 12, 13
)

func TestParseReply(t *testing.T) {
	tok := chatTok(t)
	for _, tc := range []struct {
		name      string
		generated []int32
		reply     string
		ended     bool
	}{
		{"ended", []int32{tc, ta, sp, tb, end}, "ca b", true},
		{"tokens after end ignored", []int32{ta, end, tb, usr, tc}, "a", true},
		{"empty reply", []int32{end, ta}, "", true},
		{"nothing generated", nil, "", false},
		{"no end (length limit)", []int32{ta, tb, tc}, "abc", false},
		{"user token before end", []int32{ta, tb, usr, tc, end}, "ab", false},
		{"assistant token", []int32{ta, ast, end}, "a", false},
		{"bos token", []int32{bos, ta, end}, "", false},
		{"pad token", []int32{tc, tokenizer.Pad, end}, "c", false},
		{"tool call token", []int32{ta, tokenizer.ToolCall, end}, "a", false},
		{"invalid id after end is ignored", []int32{ta, end, 1000}, "a", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reply, ended, err := ParseReply(tok, tc.generated)
			require.NoError(t, err)
			assert.Equal(t, tc.reply, reply)
			assert.Equal(t, tc.ended, ended)
		})
	}
	for _, bad := range [][]int32{{ta, 1000, end}, {-1, end}} {
		_, ended, err := ParseReply(tok, bad)
		assert.ErrorIs(t, err, tokenizer.ErrInvalidID, "%v", bad)
		assert.False(t, ended)
	}
	_, _, err := ParseReply(nil, []int32{end})
	assert.ErrorContains(t, err, "nil tokenizer")
}

// TestRenderParseRoundTrip renders a prompt, appends a reply as the model
// would generate it, and parses it back.
func TestRenderParseRoundTrip(t *testing.T) {
	tok := chatTok(t)
	conv := []data.Message{{Role: data.RoleUser, Content: "ab"}, {Role: data.RoleAssistant, Content: "c a"}}
	full, _, err := data.RenderChat(tok, conv)
	require.NoError(t, err)
	p, err := data.RenderPrompt(tok, conv[:1])
	require.NoError(t, err)
	reply, ended, err := ParseReply(tok, full[len(p):])
	require.NoError(t, err)
	assert.True(t, ended)
	assert.Equal(t, "c a", reply)
}

// TestParseReplyLegacy parses with a tokenizer written before the tool tokens, whose ordinary
// IDs start at 5: ID 5 is text there, not <|tool_call|>.
func TestParseReplyLegacy(t *testing.T) {
	tok, err := tokenizer.Unmarshal([]byte(`{"kind":"char","alphabet":" abc"}`))
	require.NoError(t, err)
	reply, ended, err := ParseReply(tok, []int32{8, 5, 6, end, 7})
	require.NoError(t, err)
	assert.Equal(t, "c a", reply)
	assert.True(t, ended)
}
