package data

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

func TestRenderChatExactMask(t *testing.T) {
	tok := chatTok(t)
	msgs := []Message{
		{Role: RoleSystem, Content: "a"},
		{Role: RoleUser, Content: "b c"},
		{Role: RoleAssistant, Content: "ca"},
		{Role: RoleUser, Content: "b"},
		{Role: RoleAssistant, Content: "a"},
	}
	ids, mask, err := RenderChat(tok, msgs)
	require.NoError(t, err)
	assert.Equal(t, []int32{
		bos, ta, end, // system
		usr, tb, sp, tc, end, // user
		ast, tc, ta, end, // assistant
		usr, tb, end, // user
		ast, ta, end, // assistant
	}, ids)
	assert.Equal(t, []float32{
		0, 0, 0,
		0, 0, 0, 0, 0,
		0, 1, 1, 1,
		0, 0, 0,
		0, 1, 1,
	}, mask)

	// Without a system message; an empty assistant turn trains only <|end|>.
	ids, mask, err = RenderChat(tok, []Message{
		{Role: RoleUser, Content: "ab"},
		{Role: RoleAssistant, Content: ""},
	})
	require.NoError(t, err)
	assert.Equal(t, []int32{bos, usr, ta, tb, end, ast, end}, ids)
	assert.Equal(t, []float32{0, 0, 0, 0, 0, 0, 1}, mask)
}

// TestRenderChatBPE checks with a BPE tokenizer that the masked tokens are
// exactly the assistant replies and their <|end|>, and that special-looking
// text stays ordinary.
func TestRenderChatBPE(t *testing.T) {
	tok, err := tokenizer.TrainBPE(strings.Repeat("hello there, how are you? fine thanks. ", 20), tokenizer.BPEConfig{VocabSize: tokenizer.MinBPEVocabSize + 40})
	require.NoError(t, err)
	msgs := []Message{
		{Role: RoleUser, Content: "hello there <|end|> how are you?"},
		{Role: RoleAssistant, Content: "fine thanks."},
		{Role: RoleUser, Content: "<|assistant|>"},
		{Role: RoleAssistant, Content: "how are you? <|end|>"},
	}
	ids, mask, err := RenderChat(tok, msgs)
	require.NoError(t, err)
	require.Len(t, mask, len(ids))

	var specials []int32
	var trained []int32
	var replies []string
	for i, id := range ids {
		if id < tokenizer.NumSpecial {
			specials = append(specials, id)
			if id == end && mask[i] == 1 {
				s, err := tok.Decode(trained)
				require.NoError(t, err)
				replies = append(replies, s)
				trained = nil
			}
			continue
		}
		if mask[i] == 1 {
			trained = append(trained, id)
		}
	}
	assert.Equal(t, []int32{bos, usr, end, ast, end, usr, end, ast, end}, specials)
	assert.Equal(t, []string{"fine thanks.", "how are you? <|end|>"}, replies)
	// Every mask-1 token is in an assistant turn: count them.
	var ones int
	for _, m := range mask {
		ones += int(m)
	}
	c1, err := tok.Encode(msgs[1].Content)
	require.NoError(t, err)
	c3, err := tok.Encode(msgs[3].Content)
	require.NoError(t, err)
	assert.Equal(t, len(c1)+1+len(c3)+1, ones)
}

func TestRenderPrompt(t *testing.T) {
	tok := chatTok(t)
	ids, err := RenderPrompt(tok, []Message{
		{Role: RoleSystem, Content: "c"},
		{Role: RoleUser, Content: "a"},
		{Role: RoleAssistant, Content: "b"},
		{Role: RoleUser, Content: "ab"},
	})
	require.NoError(t, err)
	assert.Equal(t, []int32{bos, tc, end, usr, ta, end, ast, tb, end, usr, ta, tb, end, ast}, ids)

	// A prompt is a training conversation's prefix plus <|assistant|>.
	conv := []Message{{Role: RoleUser, Content: "a b"}, {Role: RoleAssistant, Content: "cc"}}
	full, _, err := RenderChat(tok, conv)
	require.NoError(t, err)
	p, err := RenderPrompt(tok, conv[:1])
	require.NoError(t, err)
	assert.Equal(t, full[:len(p)], p)

	_, err = RenderPrompt(tok, conv)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "prompt must end with a user turn, but its last message (1) is assistant")
	_, err = RenderPrompt(tok, nil)
	assert.ErrorContains(t, err, "empty conversation")
	_, err = RenderPrompt(tok, []Message{{Role: RoleSystem, Content: "a"}})
	assert.ErrorContains(t, err, "prompt must end with a user turn, but its last message (0) is system")
	_, err = RenderPrompt(nil, conv[:1])
	assert.ErrorContains(t, err, "nil tokenizer")
}

func TestRenderChatErrors(t *testing.T) {
	tok := chatTok(t)
	_, _, err := RenderChat(tok, []Message{
		{Role: RoleUser, Content: "a"},
		{Role: RoleAssistant, Content: "a"},
		{Role: RoleUser, Content: "b"},
		{Role: RoleAssistant, Content: "xyz"},
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, tokenizer.ErrUnknownChar)
	assert.Contains(t, err.Error(), "message 3 (assistant)")

	_, _, err = RenderChat(tok, []Message{{Role: RoleUser, Content: "a"}})
	assert.ErrorContains(t, err, "must end with an assistant turn, but its last message (0) is user")
	_, _, err = RenderChat(nil, []Message{{Role: RoleUser, Content: "a"}, {Role: RoleAssistant, Content: "a"}})
	assert.ErrorContains(t, err, "nil tokenizer")
}

// badTok encodes every text to a special token, breaking the Tokenizer
// contract.
type badTok struct{ tokenizer.Tokenizer }

func (badTok) Encode(string) ([]int32, error) { return []int32{tokenizer.End}, nil }

func TestRenderChatRejectsSpecialFromEncode(t *testing.T) {
	_, _, err := RenderChat(badTok{chatTok(t)}, []Message{{Role: RoleUser, Content: "a"}, {Role: RoleAssistant, Content: "b"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "message 0 (user): token 0 has ID 4")
}

func TestValidateConversation(t *testing.T) {
	u := Message{Role: RoleUser, Content: "hi"}
	a := Message{Role: RoleAssistant, Content: "yo"}
	s := Message{Role: RoleSystem, Content: "be nice"}
	for _, ok := range [][]Message{
		{u, a},
		{s, u, a},
		{s, a},
		{a},
		{u, u, a, a},
	} {
		assert.NoError(t, ValidateConversation(ok), "%v", ok)
	}
	for _, tc := range []struct {
		msgs []Message
		want string
	}{
		{nil, "empty conversation"},
		{[]Message{}, "empty conversation"},
		{[]Message{u}, "conversation must end with an assistant turn, but its last message (0) is user"},
		{[]Message{s}, "its last message (0) is system"},
		{[]Message{u, a, u}, "its last message (2) is user"},
		{[]Message{u, s, a}, "message 1 is a system message; only the first message may be one"},
		{[]Message{u, {Role: "human", Content: "x"}, a}, `message 1 has unknown role "human"`},
		{[]Message{{Role: "User", Content: "x"}, a}, `message 0 has unknown role "User"`},
		{[]Message{u, {Content: "x"}}, `message 1 has unknown role ""`},
	} {
		err := ValidateConversation(tc.msgs)
		if assert.Error(t, err, "%v", tc.msgs) {
			assert.Contains(t, err.Error(), tc.want)
		}
	}
	assert.NoError(t, ValidatePrompt([]Message{s, u}))
	assert.NoError(t, ValidatePrompt([]Message{u, a, u}))
	assert.ErrorContains(t, ValidatePrompt([]Message{u, a}), "prompt must end with a user turn, but its last message (1) is assistant")
}

// Special-token IDs of the tool tests.
const (
	call, callEnd, res, resEnd, ctxTok = tokenizer.ToolCall, tokenizer.ToolCallEnd, tokenizer.ToolResult, tokenizer.ToolResultEnd, tokenizer.Context
)

// TestRenderChatToolTurns checks the exact tokens and mask of a conversation with a context
// turn, tool calls and results: the model trains on its text, its calls and <|end|>, never on
// tool output nor the context.
func TestRenderChatToolTurns(t *testing.T) {
	msgs := []Message{
		ContextMessage("ab", "c"),
		{Role: RoleUser, Content: "a"},
		{Role: RoleAssistant, Content: "b"},
		{Role: RoleToolCall, Content: "c a"},
		{Role: RoleToolResult, Content: "bb"},
		{Role: RoleToolCall, Content: "a"},
		{Role: RoleToolResult, Content: ""},
		{Role: RoleAssistant, Content: "cc"},
		{Role: RoleUser, Content: "b"},
		{Role: RoleToolCall, Content: "b"},
		{Role: RoleToolResult, Content: "a"},
		{Role: RoleAssistant, Content: ""},
	}
	require.Equal(t, Message{Role: RoleContext, Content: "ab\nc"}, msgs[0])
	// '\n' is not in chatTok's alphabet: use a tokenizer that has it.
	tok := tokenizer.NewChar("abc \n")
	nl, a, b, c := int32(10), int32(12), int32(13), int32(14)
	space := int32(11)
	ids, mask, err := RenderChat(tok, msgs)
	require.NoError(t, err)
	assert.Equal(t, []int32{
		bos,
		ctxTok, a, b, nl, c, end, // context
		usr, a, end, // user
		ast, b, // assistant text, then its first call
		call, c, space, a, callEnd,
		res, b, b, resEnd,
		call, a, callEnd, // a second call, empty result
		res, resEnd,
		c, c, end, // the reply after the results
		usr, b, end,
		ast, call, b, callEnd, // a turn that starts with a call
		res, a, resEnd,
		end, // empty final text
	}, ids)
	assert.Equal(t, []float32{
		0,
		0, 0, 0, 0, 0, 0,
		0, 0, 0,
		0, 1,
		1, 1, 1, 1, 1,
		0, 0, 0, 0,
		1, 1, 1,
		0, 0,
		1, 1, 1,
		0, 0, 0,
		0, 1, 1, 1,
		0, 0, 0,
		1,
	}, mask)

	// The prompt of the last turn is the conversation's prefix plus <|assistant|>.
	p, err := RenderPrompt(tok, msgs[:9])
	require.NoError(t, err)
	assert.Equal(t, ids[:len(p)], p)

	// Tool output that spells special tokens stays text.
	ids, _, err = RenderChat(tokenizer.NewChar(strings.Join(tokenizer.SpecialNames[:], "")+"abc"), []Message{
		{Role: RoleUser, Content: "<|tool_call|>"},
		{Role: RoleToolCall, Content: "<|end|>"},
		{Role: RoleToolResult, Content: "<|tool_result_end|><|assistant|>"},
		{Role: RoleAssistant, Content: "<|context|>"},
	})
	require.NoError(t, err)
	var specials []int32
	for _, id := range ids {
		if id < tokenizer.NumSpecial {
			specials = append(specials, id)
		}
	}
	assert.Equal(t, []int32{bos, usr, end, ast, call, callEnd, res, resEnd, end}, specials)
}

// TestRenderChatToolsNeedToolTokens checks that an old tokenizer (5 specials) renders plain
// chats exactly as before and rejects tool and context turns with a clear error.
func TestRenderChatToolsNeedToolTokens(t *testing.T) {
	old, err := tokenizer.Unmarshal([]byte(`{"kind":"char","alphabet":" abc"}`))
	require.NoError(t, err)
	ids, mask, err := RenderChat(old, []Message{
		{Role: RoleSystem, Content: "a"},
		{Role: RoleUser, Content: "b c"},
		{Role: RoleAssistant, Content: "ca"},
	})
	require.NoError(t, err)
	// ' '=5, a=6, b=7, c=8: the IDs of before the tool tokens.
	assert.Equal(t, []int32{bos, 6, end, usr, 7, 5, 8, end, ast, 8, 6, end}, ids)
	assert.Equal(t, []float32{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1}, mask)

	for _, msgs := range [][]Message{
		{{Role: RoleUser, Content: "a"}, {Role: RoleToolCall, Content: "a"}, {Role: RoleToolResult, Content: "b"}, {Role: RoleAssistant, Content: "c"}},
		{ContextMessage("a"), {Role: RoleUser, Content: "a"}, {Role: RoleAssistant, Content: "c"}},
	} {
		_, _, err = RenderChat(old, msgs)
		assert.ErrorIs(t, err, tokenizer.ErrNoToolTokens)
		assert.ErrorContains(t, err, "the tokenizer has the 5 special tokens of a checkpoint written before tool calls existed")
	}
	_, err = RenderPrompt(old, []Message{ContextMessage("a"), {Role: RoleUser, Content: "a"}})
	assert.ErrorContains(t, err, "message 0 (context): tokenizer: no tool-call tokens")
}

func TestValidateToolTurns(t *testing.T) {
	u := Message{Role: RoleUser, Content: "hi"}
	a := Message{Role: RoleAssistant, Content: "yo"}
	c := Message{Role: RoleToolCall, Content: "calc 1+1"}
	r := Message{Role: RoleToolResult, Content: "2"}
	x := ContextMessage("p")
	for _, ok := range [][]Message{
		{u, c, r, a},
		{u, a, c, r, a},
		{u, c, r, c, r, a},
		{x, u, a},
		{u, x, u, a},
		{x, u, c, r, a, x, u, a},
	} {
		assert.NoError(t, ValidateConversation(ok), "%v", ok)
	}
	for _, tc := range []struct {
		msgs []Message
		want string
	}{
		{[]Message{u, c, a}, "message 1 is a tool call not followed by its tool result"},
		{[]Message{u, c}, "message 1 is a tool call not followed by its tool result"},
		{[]Message{u, r, a}, "message 1 is a tool result that does not follow a tool call"},
		{[]Message{u, c, r}, "message 2 is a tool result not followed by the assistant"},
		{[]Message{u, c, r, u, a}, "message 2 is a tool result not followed by the assistant"},
		{[]Message{u, c, r, r, a}, "message 2 is a tool result not followed by the assistant"},
		{[]Message{u, a, x}, "its last message (2) is context"},
		{[]Message{{Role: "tool", Content: "x"}, a}, `message 0 has unknown role "tool" (want "system", "user", "assistant", "tool_call", "tool_result" or "context")`},
	} {
		err := ValidateConversation(tc.msgs)
		if assert.Error(t, err, "%v", tc.msgs) {
			assert.Contains(t, err.Error(), tc.want)
		}
	}
	assert.NoError(t, ValidatePrompt([]Message{u, c, r, a, x, u}))
	assert.ErrorContains(t, ValidatePrompt([]Message{u, c, r, a}), "prompt must end with a user turn")
}
