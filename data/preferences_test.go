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
)

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
	}, "\n"))
	rs, err := ReadPreferences(p)
	require.NoError(t, err)
	src := func(line int) string { return fmt.Sprintf("%s:%d", p, line) }
	assert.Equal(t, []Ranking{
		{src(1), []Message{u("sky?")}, []string{"blue", "green"}},
		{src(3), []Message{sys("s"), u("q")}, []string{"good", "bad"}},
		{src(4), []Message{u("q")}, []string{"y", "n"}},
		{src(5), []Message{u("q")}, []string{"y", "n"}},
		{src(6), []Message{u("a"), a("b"), u("c")}, []string{"d", "e"}},
		{src(7), []Message{u("rank")}, []string{"1st", "2nd", "3rd", "4th"}},
		{src(8), []Message{u("x")}, []string{"p", "q"}},
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
	rs, err := ReadPreferences(p1, p2, p3, p4, p5)
	require.NoError(t, err)
	assert.Equal(t, []Ranking{
		{p1 + ":row 0", []Message{u("q0")}, []string{"y0", "n0"}},
		{p1 + ":row 1", []Message{u("q1")}, []string{"y1", "n1"}},
		{p2 + ":row 0", []Message{u("q")}, []string{"y", "n"}},
		{p3 + ":row 0", []Message{u("hi")}, []string{"hello", "go away"}},
		{p4 + ":row 0", []Message{u("r")}, []string{"a", "b", "c"}},
		{p5 + ":row 0", []Message{u("r")}, []string{"x", "y"}},
	}, rs)

	// A directory of them.
	rs, err = ReadPreferences(dir)
	require.NoError(t, err)
	assert.Len(t, rs, 6)
}

func TestReadPreferencesErrors(t *testing.T) {
	dir := t.TempDir()
	good := `{"prompt": "p", "chosen": "c", "rejected": "r"}`
	jsonl := func(name string, lines ...string) func() string {
		return func() string { return writeFile(t, dir, name, strings.Join(lines, "\n")+"\n") }
	}
	msgs := func(roleContent ...string) string {
		var parts []string
		for i := 0; i < len(roleContent); i += 2 {
			parts = append(parts, fmt.Sprintf(`{"role": %q, "content": %q}`, roleContent[i], roleContent[i+1]))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
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
		{"responses not a list", jsonl("resstr.jsonl", `{"prompt": "p", "responses": "a"}`), `%s:1: "responses" is a string, want a list of strings`},
		{"response not a string", jsonl("resnum.jsonl", `{"prompt": "p", "responses": ["a", 2]}`), `%s:1: responses[1] is a number, want a string`},
		{"empty chosen", jsonl("emptyc.jsonl", `{"prompt": "p", "chosen": "", "rejected": "r"}`), "%s:1: response 0 is empty"},
		{"empty response", jsonl("emptyr.jsonl", `{"prompt": "p", "responses": ["a", "b", ""]}`), "%s:1: response 2 is empty"},
		{"chosen equals rejected", jsonl("same.jsonl", good, `{"prompt": "p", "chosen": "same", "rejected": "same"}`),
			"%s:2: responses 0 and 1 are identical"},
		{"repeated response", jsonl("rep.jsonl", `{"prompt": "p", "responses": ["a", "b", "a"]}`), "%s:1: responses 0 and 2 are identical"},
		{"chosen a number", jsonl("cnum.jsonl", `{"prompt": "p", "chosen": 1, "rejected": "r"}`),
			`%s:1: "chosen" is a number, want a string or a list of messages`},
		{"chosen not ending with assistant", jsonl("cend.jsonl", `{"prompt": "p", "chosen": `+msgs("user", "c")+`, "rejected": "r"}`),
			`%s:1: "chosen" ends with a "user" message, want the assistant reply`},
		{"rejected empty list", jsonl("rempty.jsonl", `{"prompt": "p", "chosen": "c", "rejected": []}`),
			`%s:1: "rejected" is an empty list`},
		{"different prompts", jsonl("diff.jsonl", `{"chosen": `+msgs("user", "a", "assistant", "c")+`, "rejected": `+msgs("user", "b", "assistant", "r")+`}`),
			`%s:1: "chosen" and "rejected" have different prompts`},
		{"prompt ending with assistant", jsonl("pend.jsonl", `{"prompt": `+msgs("user", "a", "assistant", "b")+`, "chosen": "c", "rejected": "r"}`),
			"%s:1: prompt: prompt must end with a user turn"},
		{"prompt unknown role", jsonl("prole.jsonl", `{"prompt": `+msgs("human", "a")+`, "responses": ["c", "r"]}`),
			`%s:1: prompt: message 0 has unknown role "human"`},
		{"prompt null", jsonl("pnull.jsonl", `{"prompt": null, "responses": ["c", "r"]}`),
			`%s:1: "prompt" is null, want a string or a list of messages`},
		{"malformed JSON", jsonl("bad.jsonl", good, "{"), "%s:2: malformed JSON"},
		{"no rows", jsonl("blank.jsonl", ""), "%s: file contains no rows"},

		{"parquet missing columns", func() string { return writeParquet(t, dir, "text.parquet", []hfRow{{Text: "x"}}, 10) },
			`%s:row 0: missing field: want "chosen" and "rejected", or "responses" (fields: id, text, url)`},
		{"parquet one response", func() string {
			return writeParquet(t, dir, "one.parquet", []rankRow{{"p", []string{"a", "b"}}, {"p", []string{"a"}}}, 10)
		}, "%s:row 1: 1 responses, want at least 2"},
		{"parquet null response", func() string {
			return writeParquet(t, dir, "nullresp.parquet", []optRankRow{{ptr("p"), []*string{ptr("a"), nil}}}, 10)
		}, "%s:row 0: responses[1] is null, want a string"},
		{"parquet chosen equals rejected", func() string {
			return writeParquet(t, dir, "same.parquet", []pairRow{{"p", "c", "r"}, {"p", "c", "r"}, {"p", "x", "x"}}, 2)
		}, "%s:row 2: responses 0 and 1 are identical"},
		{"parquet empty rejected", func() string {
			return writeParquet(t, dir, "empty.parquet", []pairRow{{"p", "c", ""}}, 2)
		}, "%s:row 0: response 1 is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.path()
			rs, err := ReadPreferences(p)
			require.Error(t, err)
			assert.Nil(t, rs)
			assert.Contains(t, err.Error(), fmt.Sprintf(tc.want, p))
			assert.True(t, strings.HasPrefix(err.Error(), "data: "), err.Error())
		})
	}
	_, err := ReadPreferences()
	assert.ErrorContains(t, err, "no input paths")
}
