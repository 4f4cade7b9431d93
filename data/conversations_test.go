package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pqMsg is a message as a required Parquet STRUCT<role, content>.
type pqMsg struct {
	Role    string `parquet:"role"`
	Content string `parquet:"content"`
}

// pqOptMsg is a message as pyarrow writes it: nullable struct fields.
type pqOptMsg struct {
	Role    *string `parquet:"role,optional"`
	Content *string `parquet:"content,optional"`
}

// messagesRow is the HF "messages" layout with required fields.
type messagesRow struct {
	ID       int64   `parquet:"id"`
	Messages []pqMsg `parquet:"messages,list"`
}

// pyarrowMessagesRow is the HF layout as pyarrow writes it (ultrachat_200k:
// prompt, prompt_id, messages), everything nullable.
type pyarrowMessagesRow struct {
	Prompt   *string     `parquet:"prompt,optional"`
	PromptID *string     `parquet:"prompt_id,optional"`
	Messages []*pqOptMsg `parquet:"messages,optional,list"`
}

// promptCompletionRow is TRL's standard prompt-completion layout.
type promptCompletionRow struct {
	Prompt     string `parquet:"prompt"`
	Completion string `parquet:"completion"`
}

// convPromptCompletionRow is TRL's conversational prompt-completion layout.
type convPromptCompletionRow struct {
	Prompt     []pqMsg `parquet:"prompt,list"`
	Completion []pqMsg `parquet:"completion,list"`
}

func ptr[T any](v T) *T { return &v }

func u(s string) Message   { return Message{Role: RoleUser, Content: s} }
func a(s string) Message   { return Message{Role: RoleAssistant, Content: s} }
func sys(s string) Message { return Message{Role: RoleSystem, Content: s} }

func convSources(convs []Conversation) []string {
	out := make([]string, len(convs))
	for i, c := range convs {
		out[i] = c.Source
	}
	return out
}

func TestReadConversationsJSONL(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "chats.jsonl", strings.Join([]string{
		`{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], "id": 7}`,
		``,
		`{"prompt": "2+2?", "completion": "4"}`,
		`   `,
		`{"prompt": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}], "completion": [{"role": "assistant", "content": "d"}]}`,
		`{"prompt": "q", "completion": [{"role": "assistant", "content": "r", "name": "bot"}]}`,
		`{"prompt": "ignored", "prompt_id": "x", "messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "v"}]}`,
		`{"messages": [{"role": "user", "content": "<|end|> \u00e9\n"}, {"role": "assistant", "content": ""}]}`,
	}, "\n")) // no final newline
	convs, err := ReadConversations(p)
	require.NoError(t, err)
	want := []Conversation{
		{p + ":1", []Message{sys("be brief"), u("hi"), a("hello")}},
		{p + ":3", []Message{u("2+2?"), a("4")}},
		{p + ":5", []Message{u("a"), a("b"), u("c"), a("d")}},
		{p + ":6", []Message{u("q"), a("r")}},
		{p + ":7", []Message{u("u"), a("v")}},
		{p + ":8", []Message{u("<|end|> é\n"), a("")}},
	}
	assert.Equal(t, want, convs)
}

func TestReadConversationsParquetMessages(t *testing.T) {
	dir := t.TempDir()
	rows := []messagesRow{
		{ID: 1, Messages: []pqMsg{{"user", "hi"}, {"assistant", "hello"}}},
		{ID: 2, Messages: []pqMsg{{"system", "s"}, {"user", "x"}, {"assistant", "y"}, {"user", "z"}, {"assistant", ""}}},
	}
	p := writeParquet(t, dir, "train-00000-of-00001.parquet", rows, 10)
	convs, err := ReadConversations(p)
	require.NoError(t, err)
	assert.Equal(t, []Conversation{
		{p + ":row 0", []Message{u("hi"), a("hello")}},
		{p + ":row 1", []Message{sys("s"), u("x"), a("y"), u("z"), a("")}},
	}, convs)
}

func TestReadConversationsParquetPyarrowLayout(t *testing.T) {
	dir := t.TempDir()
	rows := []pyarrowMessagesRow{
		{Prompt: ptr("hi"), PromptID: ptr("id0"), Messages: []*pqOptMsg{{ptr("user"), ptr("hi")}, {ptr("assistant"), ptr("yo")}}},
		{Messages: []*pqOptMsg{{ptr("user"), ptr("")}, {ptr("assistant"), ptr("z")}}},
	}
	p := writeParquet(t, dir, "ultrachat.parquet", rows, 10)
	convs, err := ReadConversations(p)
	require.NoError(t, err)
	assert.Equal(t, []Conversation{
		{p + ":row 0", []Message{u("hi"), a("yo")}},
		{p + ":row 1", []Message{u(""), a("z")}},
	}, convs)
}

func TestReadConversationsParquetPromptCompletion(t *testing.T) {
	dir := t.TempDir()
	p1 := writeParquet(t, dir, "pc.parquet", []promptCompletionRow{{"p0", "c0"}, {"p1", "c1"}}, 10)
	p2 := writeParquet(t, dir, "cpc.parquet", []convPromptCompletionRow{
		{Prompt: []pqMsg{{"system", "s"}, {"user", "q"}}, Completion: []pqMsg{{"assistant", "r"}}},
	}, 10)
	convs, err := ReadConversations(p1, p2)
	require.NoError(t, err)
	assert.Equal(t, []Conversation{
		{p1 + ":row 0", []Message{u("p0"), a("c0")}},
		{p1 + ":row 1", []Message{u("p1"), a("c1")}},
		{p2 + ":row 0", []Message{sys("s"), u("q"), a("r")}},
	}, convs)
}

// TestReadConversationsParquetManyRows crosses read batches and row groups.
func TestReadConversationsParquetManyRows(t *testing.T) {
	dir := t.TempDir()
	n := 2*parquetReadBatch + 3
	rows := make([]messagesRow, n)
	for i := range rows {
		rows[i] = messagesRow{ID: int64(i), Messages: []pqMsg{{"user", fmt.Sprint("q", i)}, {"assistant", fmt.Sprint("a", i)}}}
	}
	p := writeParquet(t, dir, "many.parquet", rows, 100)
	convs, err := ReadConversations(p)
	require.NoError(t, err)
	require.Len(t, convs, n)
	for i, c := range convs {
		require.Equal(t, fmt.Sprintf("%s:row %d", p, i), c.Source)
		require.Equal(t, []Message{u(fmt.Sprint("q", i)), a(fmt.Sprint("a", i))}, c.Messages)
	}
}

func TestReadConversationsDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "b.jsonl", `{"prompt": "p", "completion": "c"}`+"\n")
	writeParquet(t, dir, "a.parquet", []promptCompletionRow{{"x", "y"}}, 10)
	writeFile(t, dir, "notes.txt", "not a dataset")
	writeFile(t, dir, ".hidden.jsonl", "garbage")
	require.NoError(t, os.Mkdir(filepath.Join(dir, "test"), 0o755))
	writeFile(t, filepath.Join(dir, "test"), "t.jsonl", "garbage")
	convs, err := ReadConversations(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "a.parquet") + ":row 0", filepath.Join(dir, "b.jsonl") + ":1"}, convSources(convs))

	_, err = ReadConversations(filepath.Join(dir, "test"))
	assert.ErrorContains(t, err, "t.jsonl:1: malformed JSON")
}

func TestReadConversationsErrors(t *testing.T) {
	dir := t.TempDir()
	jsonl := func(name string, lines ...string) func() string {
		return func() string { return writeFile(t, dir, name, strings.Join(lines, "\n")+"\n") }
	}
	good := `{"prompt": "p", "completion": "c"}`
	for _, tc := range []struct {
		name string
		path func() string
		want string // with %s for the path
	}{
		{"malformed JSON", jsonl("bad.jsonl", good, `{"messages": [`), "%s:2: malformed JSON"},
		{"not an object", jsonl("arr.jsonl", good, good, `["x"]`), "%s:3: line is a list, want a JSON object"},
		{"missing fields", jsonl("nofields.jsonl", `{"text": "hello"}`),
			`%s:1: missing field: want "messages", or "prompt" and "completion" (fields: text)`},
		{"missing completion", jsonl("nocomp.jsonl", good, `{"prompt": "p"}`), `%s:2: missing "completion" field`},
		{"missing prompt", jsonl("noprompt.jsonl", `{"completion": "c"}`), `%s:1: missing "prompt" field`},
		{"messages null", jsonl("null.jsonl", `{"messages": null}`), `%s:1: "messages" is null`},
		{"messages a string", jsonl("str.jsonl", `{"messages": "hi"}`), `%s:1: "messages" is a string, want a list of messages`},
		{"message not an object", jsonl("msgstr.jsonl", `{"messages": ["hi"]}`), `%s:1: messages[0] is a string, want an object with "role" and "content"`},
		{"content not a string", jsonl("content.jsonl", `{"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}`),
			`%s:1: messages[0]: "content" is a list, want a string`},
		{"role missing", jsonl("norole.jsonl", `{"messages": [{"content": "hi"}]}`), `%s:1: messages[0]: missing "role"`},
		{"prompt a number", jsonl("num.jsonl", `{"prompt": 3, "completion": "c"}`), `%s:1: "prompt" is a number, want a string or a list of messages`},
		{"unknown role", jsonl("role.jsonl", good, `{"messages": [{"role": "human", "content": "hi"}, {"role": "gpt", "content": "yo"}]}`),
			`%s:2: message 0 has unknown role "human"`},
		{"empty conversation", jsonl("empty.jsonl", `{"messages": []}`), "%s:1: empty conversation"},
		{"not ending with assistant", jsonl("end.jsonl", `{"messages": [{"role": "user", "content": "hi"}]}`),
			"%s:1: conversation must end with an assistant turn, but its last message (0) is user"},
		{"completion with user role", jsonl("comprole.jsonl", `{"prompt": "p", "completion": [{"role": "user", "content": "c"}]}`),
			"%s:1: conversation must end with an assistant turn, but its last message (1) is user"},
		{"late system", jsonl("sys.jsonl", `{"prompt": [{"role": "user", "content": "p"}, {"role": "system", "content": "s"}], "completion": "c"}`),
			"%s:1: message 1 is a system message"},
		{"no rows", jsonl("blank.jsonl", "", "  "), "%s: file contains no rows"},
		{"unsupported extension", func() string { return writeFile(t, dir, "chats.json", "[]") }, `%s: unsupported file extension ".json"`},
		{"missing file", func() string { return filepath.Join(dir, "nope.jsonl") }, "nope.jsonl: no such file"},
		{"empty directory", func() string {
			d := filepath.Join(dir, "emptydir")
			require.NoError(t, os.Mkdir(d, 0o755))
			return d
		}, "%s: directory has no .jsonl or .parquet files"},

		{"parquet missing columns", func() string { return writeParquet(t, dir, "text.parquet", []hfRow{{Text: "x"}}, 10) },
			`%s:row 0: missing field: want "messages", or "prompt" and "completion" (fields: id, text, url)`},
		{"parquet unknown role", func() string {
			return writeParquet(t, dir, "role.parquet", []messagesRow{
				{Messages: []pqMsg{{"user", "a"}, {"assistant", "b"}}},
				{Messages: []pqMsg{{"user", "a"}, {"assistant", "b"}}},
				{Messages: []pqMsg{{"user", "a"}, {"bot", "b"}}},
			}, 2)
		}, `%s:row 2: message 1 has unknown role "bot"`},
		{"parquet empty conversation", func() string {
			return writeParquet(t, dir, "emptyconv.parquet", []messagesRow{{Messages: []pqMsg{{"user", "a"}, {"assistant", "b"}}}, {}}, 10)
		}, "%s:row 1: empty conversation"},
		{"parquet not ending with assistant", func() string {
			return writeParquet(t, dir, "end.parquet", []messagesRow{{Messages: []pqMsg{{"user", "a"}, {"assistant", "b"}, {"user", "c"}}}}, 10)
		}, "%s:row 0: conversation must end with an assistant turn, but its last message (2) is user"},
		{"parquet null messages", func() string {
			return writeParquet(t, dir, "nullmsgs.parquet", []pyarrowMessagesRow{{Prompt: ptr("p")}}, 10)
		}, `%s:row 0: "messages" is null`},
		{"parquet null role", func() string {
			return writeParquet(t, dir, "nullrole.parquet", []pyarrowMessagesRow{{Messages: []*pqOptMsg{{nil, ptr("hi")}}}}, 10)
		}, `%s:row 0: messages[0]: "role" is null, want a string`},
		{"parquet null message", func() string {
			return writeParquet(t, dir, "nullmsg.parquet", []pyarrowMessagesRow{{Messages: []*pqOptMsg{{ptr("user"), ptr("hi")}, nil}}}, 10)
		}, `%s:row 0: messages[1] is null, want an object`},
		{"parquet int prompt", func() string {
			type row struct {
				Prompt     int64  `parquet:"prompt"`
				Completion string `parquet:"completion"`
			}
			return writeParquet(t, dir, "intprompt.parquet", []row{{1, "c"}}, 10)
		}, `%s:row 0: "prompt" is a number, want a string or a list of messages`},
		{"parquet no rows", func() string { return writeParquet(t, dir, "norows.parquet", []messagesRow{}, 10) }, "%s: file contains no rows"},
		{"corrupt parquet", func() string { return writeFile(t, dir, "corrupt.parquet", "PAR1 this is not parquet") }, "%s: reading parquet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.path()
			convs, err := ReadConversations(p)
			require.Error(t, err)
			assert.Nil(t, convs)
			want := tc.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, p)
			}
			assert.Contains(t, err.Error(), want)
			assert.True(t, strings.HasPrefix(err.Error(), "data: "), err.Error())
		})
	}
	_, err := ReadConversations()
	assert.ErrorContains(t, err, "no input paths")
}
