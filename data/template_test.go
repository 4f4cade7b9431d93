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
	require.Equal(t, []int{sp, ta, tb, tc}, ids)
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
	var trained []int
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
			trained = append(trained, int(id))
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

func (badTok) Encode(string) ([]int, error) { return []int{tokenizer.End}, nil }

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
