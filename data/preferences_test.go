package data

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRankingPairs(t *testing.T) {
	assert.Equal(t, [][2]int{{0, 1}}, Ranking{Responses: []string{"good", "bad"}}.Pairs())
	assert.Equal(t, [][2]int{{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}},
		Ranking{Responses: []string{"a", "b", "c", "d"}}.Pairs())
	assert.Len(t, Ranking{Responses: make([]string, 7)}.Pairs(), 21)
	assert.Nil(t, Ranking{Responses: []string{"a"}}.Pairs())
	assert.Nil(t, Ranking{}.Pairs())
}

// Parquet layouts of preference data.
type (
	pairRow struct {
		Prompt   string `parquet:"prompt"`
		Chosen   string `parquet:"chosen"`
		Rejected string `parquet:"rejected"`
	}
	convPairRow struct {
		Prompt   []pqMsg `parquet:"prompt,list"`
		Chosen   []pqMsg `parquet:"chosen,list"`
		Rejected []pqMsg `parquet:"rejected,list"`
	}
	// implicitPairRow is TRL's implicit-prompt conversational layout
	// (Anthropic HH style), nullable as pyarrow writes it.
	implicitPairRow struct {
		Chosen   []*pqOptMsg `parquet:"chosen,optional,list"`
		Rejected []*pqOptMsg `parquet:"rejected,optional,list"`
	}
	rankRow struct {
		Prompt    string   `parquet:"prompt"`
		Responses []string `parquet:"responses,list"`
	}
	optRankRow struct {
		Prompt    *string   `parquet:"prompt,optional"`
		Responses []*string `parquet:"responses,optional,list"`
	}
	// turnRankRow is a K-wise ranking of assistant turns: a LIST of LISTs
	// of STRUCT<role, content>.
	turnRankRow struct {
		Prompt    string    `parquet:"prompt"`
		Responses [][]pqMsg `parquet:"responses,list"`
	}
)

// Messages of assistant turns that call tools.
func toolCall(s string) Message   { return Message{Role: RoleToolCall, Content: s} }
func toolResult(s string) Message { return Message{Role: RoleToolResult, Content: s} }

// jsonMsgs writes messages as a JSON list, from role, content pairs.
func jsonMsgs(roleContent ...string) string {
	var parts []string
	for i := 0; i < len(roleContent); i += 2 {
		parts = append(parts, fmt.Sprintf(`{"role": %q, "content": %q}`, roleContent[i], roleContent[i+1]))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func TestReadPreferencesJSONL(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "prefs.jsonl", strings.Join([]string{
		// standard, explicit prompt
		`{"prompt": "sky?", "chosen": "blue", "rejected": "green"}`,
		``,
		// conversational, explicit prompt
		`{"prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "good"}], "rejected": [{"role": "assistant", "content": "bad"}]}`,
		// conversational, implicit prompt
		`{"chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "y"}], "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "n"}]}`,
		// ultrafeedback_binarized: string prompt, whole dialogue in chosen/rejected
		`{"prompt": "q", "prompt_id": "1", "chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "y"}], "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "n"}], "score_chosen": 8.0}`,
		// conversational continuation of an explicit prompt
		`{"prompt": [{"role": "user", "content": "a"}], "chosen": [{"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}], "rejected": [{"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}, {"role": "assistant", "content": "e"}]}`,
		// K-wise
		`{"prompt": "rank", "responses": ["1st", "2nd", "3rd", "4th"]}`,
		`{"prompt": [{"role": "user", "content": "x"}], "responses": ["p", "q"], "chosen": null}`,
		// K-wise with a tool turn, a plain reply and the empty reply last
		`{"prompt": "kibo?", "responses": [` + jsonMsgs("tool_call", "look kibo", "tool_result", "a bird", "assistant", "a bird.") + `, "a fish.", ""]}`,
		// K-wise turns, text before the call; a one-message list is a plain reply
		`{"prompt": "kibo?", "responses": [` + jsonMsgs("assistant", "let me look.", "tool_call", "look kibo", "tool_result", "a bird", "assistant", "") + `, ` + jsonMsgs("assistant", "no idea.") + `]}`,
		// K-wise lists without tool calls: plain replies
		`{"prompt": "kibo?", "responses": [` + jsonMsgs("assistant", "a bird.") + `, "a fish."]}`,
		// pairwise: a tool turn beats the empty reply
		`{"prompt": "kibo?", "chosen": ` + jsonMsgs("tool_call", "look kibo", "tool_result", "a bird", "assistant", "a bird.") + `, "rejected": ""}`,
		// pairwise, implicit prompt: the turn starts after the user message
		`{"chosen": ` + jsonMsgs("user", "q", "tool_call", "look q", "tool_result", "r", "assistant", "r.") + `, "rejected": ` + jsonMsgs("user", "q", "assistant", "no.") + `}`,
		// pairwise continuation: an earlier tool turn is part of the prompt
		`{"prompt": "a", "chosen": ` + jsonMsgs("tool_call", "look a", "tool_result", "b", "assistant", "b.", "user", "c", "tool_call", "look c", "tool_result", "d", "assistant", "d.") + `, "rejected": ` + jsonMsgs("tool_call", "look a", "tool_result", "b", "assistant", "b.", "user", "c", "assistant", "e.") + `}`,
		// plain pairwise with an empty rejected reply
		`{"prompt": "sky?", "chosen": "blue", "rejected": ""}`,
	}, "\n"))
	rs, err := ReadPreferences(p)
	require.NoError(t, err)
	src := func(line int) string { return fmt.Sprintf("%s:%d", p, line) }
	assert.Equal(t, []Ranking{
		{src(1), []Message{u("sky?")}, []string{"blue", "green"}, nil},
		{src(3), []Message{sys("s"), u("q")}, []string{"good", "bad"}, nil},
		{src(4), []Message{u("q")}, []string{"y", "n"}, nil},
		{src(5), []Message{u("q")}, []string{"y", "n"}, nil},
		{src(6), []Message{u("a"), a("b"), u("c")}, []string{"d", "e"}, nil},
		{src(7), []Message{u("rank")}, []string{"1st", "2nd", "3rd", "4th"}, nil},
		{src(8), []Message{u("x")}, []string{"p", "q"}, nil},
		{src(9), []Message{u("kibo?")}, nil, [][]Message{
			{toolCall("look kibo"), toolResult("a bird"), a("a bird.")}, {a("a fish.")}, {a("")},
		}},
		{src(10), []Message{u("kibo?")}, nil, [][]Message{
			{a("let me look."), toolCall("look kibo"), toolResult("a bird"), a("")}, {a("no idea.")},
		}},
		{src(11), []Message{u("kibo?")}, []string{"a bird.", "a fish."}, nil},
		{src(12), []Message{u("kibo?")}, nil, [][]Message{{toolCall("look kibo"), toolResult("a bird"), a("a bird.")}, {a("")}}},
		{src(13), []Message{u("q")}, nil, [][]Message{{toolCall("look q"), toolResult("r"), a("r.")}, {a("no.")}}},
		{src(14), []Message{u("a"), toolCall("look a"), toolResult("b"), a("b."), u("c")}, nil, [][]Message{
			{toolCall("look c"), toolResult("d"), a("d.")}, {a("e.")},
		}},
		{src(15), []Message{u("sky?")}, []string{"blue", ""}, nil},
	}, rs)
}

func TestReadPreferencesParquet(t *testing.T) {
	dir := t.TempDir()
	p1 := writeParquet(t, dir, "pairs.parquet", []pairRow{{"q0", "y0", "n0"}, {"q1", "y1", "n1"}}, 10)
	p2 := writeParquet(t, dir, "conv.parquet", []convPairRow{{
		Prompt:   []pqMsg{{"user", "q"}},
		Chosen:   []pqMsg{{"assistant", "y"}},
		Rejected: []pqMsg{{"assistant", "n"}},
	}}, 10)
	p3 := writeParquet(t, dir, "hh.parquet", []implicitPairRow{{
		Chosen:   []*pqOptMsg{{ptr("user"), ptr("hi")}, {ptr("assistant"), ptr("hello")}},
		Rejected: []*pqOptMsg{{ptr("user"), ptr("hi")}, {ptr("assistant"), ptr("go away")}},
	}}, 10)
	p4 := writeParquet(t, dir, "rank.parquet", []rankRow{{"r", []string{"a", "b", "c"}}}, 10)
	p5 := writeParquet(t, dir, "optrank.parquet", []optRankRow{{ptr("r"), []*string{ptr("x"), ptr("y")}}}, 10)
	p6 := writeParquet(t, dir, "turns.parquet", []turnRankRow{
		{"t", [][]pqMsg{{{"tool_call", "look t"}, {"tool_result", "u"}, {"assistant", "u."}}, {{"assistant", "v."}}, {{"assistant", ""}}}},
		{"w", [][]pqMsg{{{"assistant", "x."}}, {{"assistant", "y."}}}},
	}, 10)
	p7 := writeParquet(t, dir, "toolpair.parquet", []convPairRow{{
		Prompt:   []pqMsg{{"user", "q"}},
		Chosen:   []pqMsg{{"assistant", "let me see."}, {"tool_call", "look q"}, {"tool_result", "r"}, {"assistant", "r."}},
		Rejected: []pqMsg{{"assistant", "no."}},
	}}, 10)
	rs, err := ReadPreferences(p1, p2, p3, p4, p5, p6, p7)
	require.NoError(t, err)
	assert.Equal(t, []Ranking{
		{p1 + ":row 0", []Message{u("q0")}, []string{"y0", "n0"}, nil},
		{p1 + ":row 1", []Message{u("q1")}, []string{"y1", "n1"}, nil},
		{p2 + ":row 0", []Message{u("q")}, []string{"y", "n"}, nil},
		{p3 + ":row 0", []Message{u("hi")}, []string{"hello", "go away"}, nil},
		{p4 + ":row 0", []Message{u("r")}, []string{"a", "b", "c"}, nil},
		{p5 + ":row 0", []Message{u("r")}, []string{"x", "y"}, nil},
		{p6 + ":row 0", []Message{u("t")}, nil, [][]Message{{toolCall("look t"), toolResult("u"), a("u.")}, {a("v.")}, {a("")}}},
		{p6 + ":row 1", []Message{u("w")}, []string{"x.", "y."}, nil},
		{p7 + ":row 0", []Message{u("q")}, nil, [][]Message{{a("let me see."), toolCall("look q"), toolResult("r"), a("r.")}, {a("no.")}}},
	}, rs)

	// A directory of them.
	rs, err = ReadPreferences(dir)
	require.NoError(t, err)
	assert.Len(t, rs, 9)
}

func TestReadPreferencesErrors(t *testing.T) {
	dir := t.TempDir()
	good := `{"prompt": "p", "chosen": "c", "rejected": "r"}`
	jsonl := func(name string, lines ...string) func() string {
		return func() string { return writeFile(t, dir, name, strings.Join(lines, "\n")+"\n") }
	}
	msgs := jsonMsgs
	toolTurn := jsonMsgs("tool_call", "look p", "tool_result", "q", "assistant", "q.")
	for _, tc := range []struct {
		name string
		path func() string
		want string
	}{
		{"missing fields", jsonl("nofields.jsonl", good, `{"prompt": "p"}`),
			`%s:2: missing field: want "chosen" and "rejected", or "responses" (fields: prompt)`},
		{"missing rejected", jsonl("norej.jsonl", `{"prompt": "p", "chosen": "c"}`), `%s:1: missing "rejected" field`},
		{"missing prompt for strings", jsonl("noprompt.jsonl", `{"chosen": "c", "rejected": "r"}`),
			`%s:1: missing "prompt" field (needed when "chosen" is a string)`},
		{"missing prompt, reply-only lists", jsonl("noprompt2.jsonl", `{"chosen": `+msgs("assistant", "c")+`, "rejected": `+msgs("assistant", "r")+`}`),
			`%s:1: missing "prompt" field (chosen and rejected hold only the reply)`},
		{"missing prompt for responses", jsonl("norankprompt.jsonl", `{"responses": ["a", "b"]}`), `%s:1: missing "prompt" field`},
		{"one response", jsonl("one.jsonl", good, good, `{"prompt": "p", "responses": ["a"]}`), "%s:3: 1 responses, want at least 2"},
		{"no responses", jsonl("zero.jsonl", `{"prompt": "p", "responses": []}`), "%s:1: 0 responses, want at least 2"},
		{"responses not a list", jsonl("resstr.jsonl", `{"prompt": "p", "responses": "a"}`), `%s:1: "responses" is a string, want a list of replies (strings or lists of messages)`},
		{"response not a string", jsonl("resnum.jsonl", `{"prompt": "p", "responses": ["a", 2]}`), `%s:1: responses[1] is a number, want a string or a list of messages`},
		{"empty chosen", jsonl("emptyc.jsonl", `{"prompt": "p", "chosen": "", "rejected": "r"}`), "%s:1: response 0, the best, is empty (only a worse reply may be empty)"},
		{"empty best response", jsonl("emptyr.jsonl", `{"prompt": "p", "responses": ["", "a", "b"]}`),
			"%s:1: response 0, the best, is empty (only a worse reply may be empty)"},
		{"empty best turn", jsonl("emptyt.jsonl", `{"prompt": "p", "responses": [`+msgs("assistant", "")+`, `+toolTurn+`]}`),
			"%s:1: response 0, the best, is empty (only a worse reply may be empty)"},
		{"two empty replies", jsonl("empty2.jsonl", `{"prompt": "p", "responses": ["a", "", ""]}`), "%s:1: responses 1 and 2 are identical"},
		{"repeated tool turn", jsonl("reptool.jsonl", `{"prompt": "p", "responses": [`+toolTurn+`, "x", `+toolTurn+`]}`),
			"%s:1: responses 0 and 2 are identical"},
		{"turn with a user message", jsonl("turnuser.jsonl", `{"prompt": "p", "responses": ["a", `+msgs("assistant", "b", "user", "c", "assistant", "d")+`]}`),
			`%s:1: responses[1]: message 1 has role "user"; a turn holds only "assistant", "tool_call" and "tool_result" messages`},
		{"turn ending with a tool result", jsonl("turnres.jsonl", `{"prompt": "p", "responses": [`+msgs("tool_call", "look p", "tool_result", "q")+`, "a"]}`),
			"%s:1: responses[0]: message 1 is a tool result not followed by the assistant (an assistant message or another tool call)"},
		{"turn with a call without result", jsonl("turncall.jsonl", `{"prompt": "p", "responses": [`+msgs("tool_call", "look p", "assistant", "q")+`, "a"]}`),
			"%s:1: responses[0]: message 0 is a tool call not followed by its tool result"},
		{"turn of two assistant messages", jsonl("turn2.jsonl", `{"prompt": "p", "responses": ["a", `+msgs("assistant", "b", "assistant", "c")+`]}`),
			"%s:1: responses[1]: message 1 is an assistant message right after another, which would open a second turn"},
		{"empty turn", jsonl("turn0.jsonl", `{"prompt": "p", "responses": ["a", []]}`),
			"%s:1: responses[1]: empty turn (no messages), want at least the assistant's reply"},
		{"turn message without content", jsonl("turnnc.jsonl", `{"prompt": "p", "responses": ["a", [{"role": "assistant"}]]}`),
			`%s:1: responses[1][0]: missing "content"`},
		{"turn message not an object", jsonl("turnobj.jsonl", `{"prompt": "p", "responses": ["a", ["b"]]}`),
			`%s:1: responses[1][0] is a string, want an object with "role" and "content"`},
		{"chosen turn starting with a tool result", jsonl("cres.jsonl", `{"prompt": "p", "chosen": `+msgs("tool_result", "q", "assistant", "q.")+`, "rejected": "r"}`),
			`%s:1: "chosen": message 0 is a tool result that does not follow a tool call`},
		{"chosen equals rejected", jsonl("same.jsonl", good, `{"prompt": "p", "chosen": "same", "rejected": "same"}`),
			"%s:2: responses 0 and 1 are identical"},
		{"repeated response", jsonl("rep.jsonl", `{"prompt": "p", "responses": ["a", "b", "a"]}`), "%s:1: responses 0 and 2 are identical"},
		{"chosen a number", jsonl("cnum.jsonl", `{"prompt": "p", "chosen": 1, "rejected": "r"}`),
			`%s:1: "chosen" is a number, want a string or a list of messages`},
		{"chosen not ending with assistant", jsonl("cend.jsonl", `{"prompt": "p", "chosen": `+msgs("user", "c")+`, "rejected": "r"}`),
			`%s:1: "chosen" ends with a "user" message, want the assistant reply`},
		{"rejected empty list", jsonl("rempty.jsonl", `{"prompt": "p", "chosen": "c", "rejected": []}`),
			`%s:1: "rejected" is an empty list, want messages ending with the assistant reply`},
		{"different prompts", jsonl("diff.jsonl", `{"chosen": `+msgs("user", "a", "assistant", "c")+`, "rejected": `+msgs("user", "b", "assistant", "r")+`}`),
			`%s:1: "chosen" and "rejected" have different prompts`},
		{"prompt ending with assistant", jsonl("pend.jsonl", `{"prompt": `+msgs("user", "a", "assistant", "b")+`, "chosen": "c", "rejected": "r"}`),
			"%s:1: prompt: prompt must end with a user turn, but its last message (1) is assistant"},
		{"prompt unknown role", jsonl("prole.jsonl", `{"prompt": `+msgs("human", "a")+`, "responses": ["c", "r"]}`),
			`%s:1: prompt: message 0 has unknown role "human" (want "system", "user", "assistant", "tool_call", "tool_result" or "context")`},
		{"prompt null", jsonl("pnull.jsonl", `{"prompt": null, "responses": ["c", "r"]}`),
			`%s:1: "prompt" is null, want a string or a list of messages`},
		{"malformed JSON", jsonl("bad.jsonl", good, "{"), "%s:2: malformed JSON: unexpected end of JSON input"},
		{"no rows", jsonl("blank.jsonl", ""), "%s: file contains no rows"},

		{"parquet missing columns", func() string { return writeParquet(t, dir, "text.parquet", []hfRow{{Text: "x"}}, 10) },
			`%s:row 0: missing field: want "chosen" and "rejected", or "responses" (fields: id, text, url)`},
		{"parquet one response", func() string {
			return writeParquet(t, dir, "one.parquet", []rankRow{{"p", []string{"a", "b"}}, {"p", []string{"a"}}}, 10)
		}, "%s:row 1: 1 responses, want at least 2"},
		{"parquet null response", func() string {
			return writeParquet(t, dir, "nullresp.parquet", []optRankRow{{ptr("p"), []*string{ptr("a"), nil}}}, 10)
		}, "%s:row 0: responses[1] is null, want a string or a list of messages"},
		{"parquet chosen equals rejected", func() string {
			return writeParquet(t, dir, "same.parquet", []pairRow{{"p", "c", "r"}, {"p", "c", "r"}, {"p", "x", "x"}}, 2)
		}, "%s:row 2: responses 0 and 1 are identical"},
		{"parquet empty chosen", func() string {
			return writeParquet(t, dir, "empty.parquet", []pairRow{{"p", "c", ""}, {"p", "", "r"}}, 2)
		}, "%s:row 1: response 0, the best, is empty (only a worse reply may be empty)"},
		{"parquet turn with a system message", func() string {
			return writeParquet(t, dir, "turnsys.parquet", []turnRankRow{{"p", [][]pqMsg{{{"assistant", "a"}}, {{"system", "s"}, {"assistant", "b"}}}}}, 2)
		}, `%s:row 0: responses[1]: message 0 has role "system"; a turn holds only "assistant", "tool_call" and "tool_result" messages`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.path()
			rs, err := ReadPreferences(p)
			require.Error(t, err)
			assert.Nil(t, rs)
			assert.Equal(t, "data: "+fmt.Sprintf(tc.want, p), err.Error())
		})
	}
	_, err := ReadPreferences()
	assert.ErrorContains(t, err, "no input paths")
}
