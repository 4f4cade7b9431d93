package data

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRankingLenTurnPairs(t *testing.T) {
	plain := Ranking{Prompt: []Message{u("q")}, Responses: []string{"good", "", "bad"}}
	assert.Equal(t, 3, plain.Len())
	assert.Equal(t, []Message{a("good")}, plain.Turn(0))
	assert.Equal(t, []Message{a("")}, plain.Turn(1))
	assert.Equal(t, [][2]int{{0, 1}, {0, 2}, {1, 2}}, plain.Pairs())

	tool := []Message{toolCall("look q"), toolResult("r"), a("r.")}
	turns := Ranking{Prompt: []Message{u("q")}, Turns: [][]Message{tool, {a("no.")}}}
	assert.Equal(t, 2, turns.Len())
	assert.Equal(t, tool, turns.Turn(0))
	assert.Equal(t, []Message{a("no.")}, turns.Turn(1))
	assert.Equal(t, [][2]int{{0, 1}}, turns.Pairs())
	assert.Equal(t, 0, Ranking{}.Len())
}

func TestRankingValidate(t *testing.T) {
	q := []Message{u("q")}
	tool := []Message{toolCall("look q"), toolResult("r"), a("r.")}
	for _, r := range []Ranking{
		{Prompt: q, Responses: []string{"a", "b"}},
		{Prompt: q, Responses: []string{"a", ""}},
		{Prompt: q, Responses: []string{"", "a"}}, // an empty best reply is a ranking too (a file may not hold one)
		{Prompt: q, Turns: [][]Message{tool, {a("")}}},
		{Prompt: q, Turns: [][]Message{{a("")}, tool}},
		{Prompt: q, Turns: [][]Message{tool, {a("x"), toolCall("look q"), toolResult("r"), a("r.")}, {a("r.")}}},
	} {
		assert.NoError(t, r.Validate(), "%+v", r)
	}
	for _, tc := range []struct {
		r    Ranking
		want string
	}{
		{Ranking{Responses: []string{"a", "b"}}, "prompt: empty conversation (no messages)"},
		{Ranking{Prompt: []Message{u("q"), a("x")}, Responses: []string{"a", "b"}},
			"prompt: prompt must end with a user turn, but its last message (1) is assistant"},
		{Ranking{Prompt: q, Responses: []string{"a", "b"}, Turns: [][]Message{tool, {a("b")}}},
			"both Responses and Turns are set, want one of them"},
		{Ranking{Prompt: q, Responses: []string{"a"}}, "1 responses, want at least 2"},
		{Ranking{Prompt: q}, "0 responses, want at least 2"},
		{Ranking{Prompt: q, Turns: [][]Message{tool}}, "1 responses, want at least 2"},
		{Ranking{Prompt: q, Responses: []string{"a", "", "b", ""}}, "responses 1 and 3 are identical"},
		{Ranking{Prompt: q, Turns: [][]Message{tool, {a("r.")}, tool}}, "responses 0 and 2 are identical"},
		{Ranking{Prompt: q, Turns: [][]Message{tool, {}}}, "response 1: empty turn (no messages), want at least the assistant's reply"},
		{Ranking{Prompt: q, Turns: [][]Message{tool, {u("x"), a("y")}}},
			`response 1: message 0 has role "user"; a turn holds only "assistant", "tool_call" and "tool_result" messages`},
		{Ranking{Prompt: q, Turns: [][]Message{{toolCall("look q"), toolResult("r")}, {a("y")}}},
			"response 0: message 1 is a tool result not followed by the assistant (an assistant message or another tool call)"},
	} {
		assert.EqualError(t, tc.r.Validate(), tc.want, "%+v", tc.r)
	}
}

func TestValidateTurn(t *testing.T) {
	for _, turn := range [][]Message{
		{a("")},
		{a("x")},
		{toolCall("c"), toolResult("r"), a("")},
		{a("x"), toolCall("c"), toolResult("r"), toolCall("d"), toolResult("s"), a("y")},
	} {
		assert.NoError(t, ValidateTurn(turn), "%v", turn)
	}
	for _, tc := range []struct {
		turn []Message
		want string
	}{
		{nil, "empty turn (no messages), want at least the assistant's reply"},
		{[]Message{ContextMessage("p"), a("x")}, `message 0 has role "context"; a turn holds only "assistant", "tool_call" and "tool_result" messages`},
		{[]Message{{Role: "tool", Content: "x"}, a("x")}, `message 0 has role "tool"; a turn holds only "assistant", "tool_call" and "tool_result" messages`},
		{[]Message{toolResult("r"), a("x")}, "message 0 is a tool result that does not follow a tool call"},
		{[]Message{toolCall("c"), a("x")}, "message 0 is a tool call not followed by its tool result"},
		{[]Message{a("x"), toolCall("c"), toolResult("r")}, "message 2 is a tool result not followed by the assistant (an assistant message or another tool call)"},
		{[]Message{a("x"), a("y")}, "message 1 is an assistant message right after another, which would open a second turn"},
		{[]Message{toolCall("c"), toolResult("r"), a("x"), a("y")}, "message 3 is an assistant message right after another, which would open a second turn"},
	} {
		assert.EqualError(t, ValidateTurn(tc.turn), tc.want, "%v", tc.turn)
	}
}

func TestSplitTurn(t *testing.T) {
	for _, tc := range []struct {
		conv, prompt, turn []Message
	}{
		{[]Message{u("q"), a("x")}, []Message{u("q")}, []Message{a("x")}},
		{[]Message{u("q"), toolCall("c"), toolResult("r"), a("x")}, []Message{u("q")}, []Message{toolCall("c"), toolResult("r"), a("x")}},
		{[]Message{sys("s"), u("q"), a("t"), toolCall("c"), toolResult("r"), toolCall("d"), toolResult("s"), a("")},
			[]Message{sys("s"), u("q")}, []Message{a("t"), toolCall("c"), toolResult("r"), toolCall("d"), toolResult("s"), a("")}},
		// An assistant message right after another opens a new turn.
		{[]Message{u("q"), a("x"), a("y")}, []Message{u("q"), a("x")}, []Message{a("y")}},
		{[]Message{u("q"), toolCall("c"), toolResult("r"), a("x"), a("y")}, []Message{u("q"), toolCall("c"), toolResult("r"), a("x")}, []Message{a("y")}},
		// A tool call without its result does not continue the turn.
		{[]Message{u("q"), toolCall("c"), a("y")}, []Message{u("q"), toolCall("c")}, []Message{a("y")}},
		{[]Message{ContextMessage("p"), u("q"), toolCall("c"), toolResult("r"), a("x")}, []Message{ContextMessage("p"), u("q")}, []Message{toolCall("c"), toolResult("r"), a("x")}},
		{[]Message{a("x")}, []Message{}, []Message{a("x")}},
		{[]Message{u("q")}, []Message{u("q")}, nil},
		{[]Message{u("q"), toolCall("c"), toolResult("r")}, []Message{u("q"), toolCall("c"), toolResult("r")}, nil},
		{nil, nil, nil},
	} {
		prompt, turn := SplitTurn(tc.conv)
		assert.Equal(t, tc.prompt, prompt, "%v", tc.conv)
		assert.Equal(t, tc.turn, turn, "%v", tc.conv)
	}
	// Appending to the prompt leaves the conversation's turn as it was.
	conv := []Message{u("q"), toolCall("c"), toolResult("r"), a("x")}
	prompt, turn := SplitTurn(conv)
	_ = append(prompt, u("other"))
	assert.Equal(t, toolCall("c"), turn[0])
}

// TestRankingFingerprint: a ranking of texts fingerprints as it did before
// Turns existed (the hash was computed then), so a run resumed on the same
// data still finds its data unchanged; a ranking of turns fingerprints its
// turns.
func TestRankingFingerprint(t *testing.T) {
	plain := []Ranking{{Source: "s", Prompt: []Message{u("q")}, Responses: []string{"a", "b"}}}
	fp, err := Fingerprint(plain)
	require.NoError(t, err)
	assert.Equal(t, "1c5883b8e66083b945722834d5716469adf43439a80fed2c4a184c3f7c19f4f8", fp)
	turns := []Ranking{{Source: "s", Prompt: []Message{u("q")}, Turns: [][]Message{{a("a")}, {a("b")}}}}
	other, err := Fingerprint(turns)
	require.NoError(t, err)
	assert.NotEqual(t, fp, other)
}
