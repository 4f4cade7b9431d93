package reward

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/internal/testutil"
)

func user(s string) data.Message      { return data.Message{Role: data.RoleUser, Content: s} }
func assistant(s string) data.Message { return data.Message{Role: data.RoleAssistant, Content: s} }
func toolCall(s string) data.Message  { return data.Message{Role: data.RoleToolCall, Content: s} }
func toolResult(s string) data.Message {
	return data.Message{Role: data.RoleToolResult, Content: s}
}

// TestEncodeToolTurn: a turn with a tool call is the prompt and the whole turn in the chat
// template's tokens, right-padded, scored at the turn's closing <|end|>; a longer sequence
// keeps its last block tokens.
func TestEncodeToolTurn(t *testing.T) {
	tok := testutil.Tokenizer() // 'a' is 10, ..., 'z' 35, ' ' 36, '.' 37, '?' 40
	const (
		bos, usr, asst, end                 = tokenizer.BOS, tokenizer.User, tokenizer.Assistant, tokenizer.End
		call, callEnd, result, resultEnd    = tokenizer.ToolCall, tokenizer.ToolCallEnd, tokenizer.ToolResult, tokenizer.ToolResultEnd
		k, i, b, o, l, r, d, sp, dot, qmark = 20, 18, 11, 24, 21, 27, 13, 36, 37, 40
	)
	ids := []int32{
		bos, usr, k, i, b, o, qmark, end, // <|bos|><|user|>kibo?<|end|>
		asst, call, l, o, o, k, sp, k, i, b, o, callEnd, // <|assistant|><|tool_call|>look kibo<|tool_call_end|>
		result, b, i, r, d, resultEnd, // <|tool_result|>bird<|tool_result_end|>
		b, i, r, d, dot, end, // bird.<|end|>
	}
	prompt := []data.Message{user("kibo?")}
	turn := []data.Message{toolCall("look kibo"), toolResult("bird"), assistant("bird.")}

	row, last, err := encode(tok, prompt, turn, 36)
	require.NoError(t, err)
	require.Equal(t, append(append([]int32(nil), ids...), 0, 0, 0, 0), row)
	require.Equal(t, 31, last)

	row, last, err = encode(tok, prompt, turn, 20)
	require.NoError(t, err)
	require.Equal(t, ids[12:], row)
	require.Equal(t, 19, last)

	// What is not one assistant turn is refused, not scored.
	_, _, err = encode(tok, prompt, []data.Message{toolCall("look kibo"), assistant("bird.")}, 36)
	require.EqualError(t, err, "message 0 is a tool call not followed by its tool result")
	_, _, err = encode(tok, prompt, []data.Message{assistant("a"), user("b"), assistant("c")}, 36)
	require.EqualError(t, err, `message 1 has role "user"; a turn holds only "assistant", "tool_call" and "tool_result" messages`)
}

// encodeBefore is encode as it was before rankings could hold turns: prompt and reply as
// one assistant message.
func encodeBefore(tok tokenizer.Tokenizer, prompt []data.Message, reply string, block int) ([]int32, int, error) {
	msgs := append(append([]data.Message(nil), prompt...), data.Message{Role: data.RoleAssistant, Content: reply})
	ids, _, err := data.RenderChat(tok, msgs)
	if err != nil {
		return nil, 0, err
	}
	return padRow(ids, block)
}

// TestEncodePlainRankingAsBefore: a ranking of texts encodes to the very rows it did before
// turns existed, and to the rows of the same replies given as one-message turns.
func TestEncodePlainRankingAsBefore(t *testing.T) {
	tok := testutil.Tokenizer()
	replies := []string{"kibo", "a word that runs past the block", ""}
	plain := data.Ranking{Source: "plain", Prompt: testutil.RepeatPrompt("kibo"), Responses: replies}
	turns := data.Ranking{Source: "turns", Prompt: plain.Prompt}
	for _, r := range replies {
		turns.Turns = append(turns.Turns, []data.Message{assistant(r)})
	}
	for _, block := range []int{40, 24} {
		got, err := encodeRankings(tok, []data.Ranking{plain, turns}, block, 3)
		require.NoError(t, err)
		require.Len(t, got, 2)
		for i, reply := range replies {
			row, last, err := encodeBefore(tok, plain.Prompt, reply, block)
			require.NoError(t, err)
			require.Equal(t, row, got[0].rows[i], "reply %d, block %d", i, block)
			require.Equal(t, last, got[0].ends[i], "reply %d, block %d", i, block)
			require.Equal(t, got[0].rows[i], got[1].rows[i])
			require.Equal(t, got[0].ends[i], got[1].ends[i])
		}
	}
}

func TestEncodeRankingsErrors(t *testing.T) {
	tok := testutil.Tokenizer()
	prompt := testutil.RepeatPrompt("kibo")
	tool := []data.Message{toolCall("look kibo"), toolResult("kibo"), assistant("kibo")}
	for _, tc := range []struct {
		r    data.Ranking
		want string
	}{
		{data.Ranking{Source: "s:1", Prompt: prompt, Responses: []string{"kibo", "kibo"}}, "s:1: responses 0 and 1 are identical"},
		{data.Ranking{Source: "s:2", Prompt: prompt, Responses: []string{"kibo"}}, "s:2: 1 responses, want at least 2"},
		{data.Ranking{Source: "s:3", Prompt: prompt, Turns: [][]data.Message{tool, {toolCall("look kibo")}}},
			"s:3: response 1: message 0 is a tool call not followed by its tool result"},
		{data.Ranking{Source: "s:4", Prompt: prompt, Turns: [][]data.Message{tool, {assistant("a")}, {assistant("b")}, {assistant("")}}},
			"s:4: 4 ranked replies do not fit a batch of 3 rows"},
		{data.Ranking{Source: "s:5", Prompt: prompt, Responses: []string{"kibo", "KIBO"}}, "s:5: reply 1: message 1 (assistant): encoding: tokenizer: unknown character 'K' (U+004B) at byte offset 0"},
	} {
		_, err := encodeRankings(tok, []data.Ranking{tc.r}, 40, 3)
		require.EqualError(t, err, tc.want, fmt.Sprint(tc.r))
	}
}
