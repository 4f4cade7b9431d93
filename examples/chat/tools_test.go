package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/retrieval"
)

// chatScript is a scripted chat checkpoint that writes conv's last assistant turn (its tool
// calls included) when prompted with the turns before it.
func chatScript(t *testing.T, conv ...data.Message) string {
	t.Helper()
	tok := scriptTokenizer(t)
	seq, _, err := data.RenderChat(tok, conv)
	require.NoError(t, err)
	return scriptedCheckpoint(t, model.StageSFT, tok, seq)
}

// baseScript is a scripted base checkpoint that continues text with continuation.
func baseScript(t *testing.T, text, continuation string) string {
	t.Helper()
	tok := scriptTokenizer(t)
	ids, err := tok.Encode(text + continuation)
	require.NoError(t, err)
	return scriptedCheckpoint(t, model.StagePretrain, tok, append([]int32{tokenizer.BOS}, ids...))
}

// writeFiles writes name → content files in a new folder and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	}
	return dir
}

// afterBanner is the REPL's output after its two banner lines.
func afterBanner(t *testing.T, out string) string {
	t.Helper()
	lines := strings.SplitN(out, "\n", 3)
	require.Len(t, lines, 3, out)
	return lines[2]
}

// TestTools: a model that calls the calculator; the REPL shows the call and its result, then
// the reply.
func TestTools(t *testing.T) {
	ckpt := chatScript(t,
		data.Message{Role: data.RoleUser, Content: "what is 3*28"},
		data.Message{Role: data.RoleToolCall, Content: "calc 3*28"},
		data.Message{Role: data.RoleToolResult, Content: "84"},
		data.Message{Role: data.RoleAssistant, Content: "it is 84"})

	r := runChat(t, "what is 3*28\n", "-ckpt", ckpt, "-temperature", "0")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	assert.Equal(t, "> [calc 3*28 → 84]\nit is 84\n> \n", afterBanner(t, r.stdout), "tools are on by default for a tokenizer with the tool tokens")

	// -prompt prints the reply alone; the call goes to stderr.
	r = runChat(t, "", "-ckpt", ckpt, "-tools", "-temperature", "0", "-prompt", "what is 3*28")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "it is 84\n", r.stdout)
	assert.Equal(t, "[calc 3*28 → 84]\n", r.stderr)

	// Without tools the model's call ends its turn at once: an empty reply.
	r = runChat(t, "", "-ckpt", ckpt, "-tools=false", "-temperature", "0", "-prompt", "what is 3*28")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "\n", r.stdout)
	assert.Empty(t, r.stderr)
}

// TestRAG: -docs and -rag put the best passages in a context turn and name them; the model
// also searches the passages with the search tool.
func TestRAG(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.txt":      "anna lives in oakton.\n\nben likes red.",
		"sub/b.md":   "the sky is blue.",
		"ignore.csv": "anna,oakton",
	})
	ckpt := chatScript(t,
		data.ContextMessage("anna lives in oakton."),
		data.Message{Role: data.RoleUser, Content: "where does anna live"},
		data.Message{Role: data.RoleToolCall, Content: "search ben"},
		data.Message{Role: data.RoleToolResult, Content: "ben likes red."},
		data.Message{Role: data.RoleAssistant, Content: "in oakton"})

	r := runChat(t, "where does anna live\n", "-ckpt", ckpt, "-temperature", "0", "-docs", dir, "-rag", "1")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	assert.Equal(t, "> [context: a.txt#0]\n[search ben → ben likes red.]\nin oakton\n> \n", afterBanner(t, r.stdout))

	// The same passages from a JSONL file, with -show-prompt.
	jsonl := filepath.Join(t.TempDir(), "passages.jsonl")
	require.NoError(t, os.WriteFile(jsonl, []byte(`{"doc": "people", "text": "anna lives in oakton."}`+"\n\n"+
		`{"text": "ben likes red."}`+"\n"+`{"doc": "sky", "text": "the sky is blue."}`+"\n"), 0o644))
	r = runChat(t, "", "-ckpt", ckpt, "-temperature", "0", "-docs", jsonl, "-rag", "1", "-show-prompt", "-prompt", "where does anna live")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "in oakton\n", r.stdout)
	assert.Equal(t, "[context: people#0]\n"+
		"<|bos|><|context|>anna lives in oakton.<|end|><|user|>where does anna live<|end|><|assistant|>\n"+
		"[search ben → ben likes red.]\n", r.stderr)
}

// TestEncoder: with -encoder, the passages are found by a retrieval encoder's vectors.
func TestEncoder(t *testing.T) {
	docs := writeFiles(t, map[string]string{"a.txt": "anna lives in oakton.\n\nben likes red.\n\nthe sky is blue."})
	enc, _, err := retrieval.TrainEncoder(context.Background(), []retrieval.Pair{
		{Query: "where does anna live", Passage: "anna lives in oakton."},
		{Query: "what does ben like", Passage: "ben likes red."},
		{Query: "what colour is the sky", Passage: "the sky is blue."},
	}, retrieval.EncoderConfig{Dim: 16, Width: 16, Buckets: 1 << 10, Steps: 50, Batch: 3, Seed: 1})
	require.NoError(t, err)
	encoder := filepath.Join(t.TempDir(), "encoder.safetensors")
	require.NoError(t, enc.Save(encoder))
	ckpt := chatScript(t,
		data.ContextMessage("anna lives in oakton."),
		data.Message{Role: data.RoleUser, Content: "where does anna live"},
		data.Message{Role: data.RoleAssistant, Content: "in oakton"})

	r := runChat(t, "where does anna live\n", "-ckpt", ckpt, "-temperature", "0", "-tools=false", "-docs", docs, "-encoder", encoder, "-rag", "1")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	assert.Equal(t, "> [context: a.txt#0]\nin oakton\n> \n", afterBanner(t, r.stdout))

	r = runChat(t, "", "-ckpt", ckpt, "-encoder", encoder)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "chat: -encoder needs -docs")
	missing := filepath.Join(t.TempDir(), "missing.safetensors")
	r = runChat(t, "", "-ckpt", ckpt, "-docs", docs, "-rag", "1", "-encoder", missing)
	assert.Equal(t, 2, r.code)
	assert.Equal(t, "chat: -encoder: retrieval: loading an encoder: safetensors: stat "+missing+": no such file or directory\n", r.stderr)
	r = runChat(t, "", "-ckpt", ckpt, "-docs", docs, "-rag", "1", "-encoder", ckpt)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "chat: -encoder: retrieval: "+ckpt+" is not a retrieval encoder")
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"))
}

// TestFewShot: with a base model, each message becomes a k-shot prompt of the examples nearest
// to it, and the continuation is cut where the examples' form ends an answer.
func TestFewShot(t *testing.T) {
	examples := filepath.Join(t.TempDir(), "shots.jsonl")
	require.NoError(t, os.WriteFile(examples, []byte(`{"question": "repeat kibo", "answer": "kibo"}
{"question": "repeat dana", "answer": "dana"}

{"question": "what is red", "answer": "a colour", "reasoning": ["red is seen."], "conclusion": "so a colour."}
`), 0o644))

	// The two nearest examples, the nearest (the first of a tie) right before the question.
	want := "question: repeat dana answer: dana\nquestion: repeat kibo answer: kibo\nquestion: repeat lomu answer:"
	ckpt := baseScript(t, want, " lomu\nquestion: repeat")
	r := runChat(t, "repeat lomu\n", "-ckpt", ckpt, "-temperature", "0", "-fewshot", examples, "-shots", "2", "-show-prompt")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "pretrain model")
	assert.Equal(t, "> lomu\n> \n", afterBanner(t, r.stdout))
	assert.Equal(t, want+"\n", r.stderr)

	// Chain of thought: the example shows its reasoning, and the answer runs to the line's end.
	want = "question: what is red answer: red is seen. so a colour.\nquestion: what is blue answer:"
	ckpt = baseScript(t, want, " blue is seen. so a colour.\nque")
	r = runChat(t, "", "-ckpt", ckpt, "-temperature", "0", "-fewshot", examples, "-shots", "1", "-cot", "-show-prompt", "-prompt", "what is blue")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "blue is seen. so a colour.\n", r.stdout)
	assert.Equal(t, want+"\n", r.stderr)

	r = runChat(t, "", "-ckpt", ckpt, "-fewshot", examples, "-system", "be brief.", "-prompt", "what is blue")
	assert.Equal(t, 2, r.code)
	assert.Equal(t, "chat: -system: "+ckpt+" is a base (pretrain) checkpoint: its -fewshot prompts are plain text, without a system message\n", r.stderr)

	// With a chat model, the examples are earlier turns.
	ckpt = chatScript(t,
		data.Message{Role: data.RoleUser, Content: "repeat kibo"},
		data.Message{Role: data.RoleAssistant, Content: "kibo"},
		data.Message{Role: data.RoleUser, Content: "repeat lomu"},
		data.Message{Role: data.RoleAssistant, Content: "lomu"})
	r = runChat(t, "", "-ckpt", ckpt, "-temperature", "0", "-fewshot", examples, "-shots", "1", "-prompt", "repeat lomu")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "lomu\n", r.stdout)
	assert.Empty(t, r.stderr)
}

// TestExtrasUsage: bad -tools, -docs, -rag, -fewshot, -shots and -cot flags and files give one
// line naming the flag and the file (and the line), and exit status 2.
func TestExtrasUsage(t *testing.T) {
	ckpt := chatScript(t, data.Message{Role: data.RoleUser, Content: "hi"}, data.Message{Role: data.RoleAssistant, Content: "hello"})
	dir := t.TempDir()
	docs := writeFiles(t, map[string]string{"a.txt": "anna lives in oakton."})
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
		return path
	}
	shots := write("shots.jsonl", `{"question": "q", "answer": "a"}`+"\n")
	legacyTok, err := tokenizer.Unmarshal([]byte(`{"kind":"char","alphabet":"abcdefghijklmnopqrstuvwxyz "}`))
	require.NoError(t, err)
	legacy := scriptedCheckpoint(t, model.StageSFT, legacyTok, []int32{tokenizer.BOS})
	missing := filepath.Join(dir, "missing")

	// Flag mistakes: the usage text follows.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-rag", "-1"}, "-rag must be >= 0, got -1"},
		{[]string{"-rag", "2"}, "-rag needs -docs"},
		{[]string{"-fewshot", shots, "-shots", "0"}, "-shots must be >= 1, got 0"},
		{[]string{"-cot"}, "-shots and -cot go with -fewshot"},
		{[]string{"-shots", "2"}, "-shots and -cot go with -fewshot"},
		{[]string{"-fewshot", shots, "-serve", "127.0.0.1:0"}, "-fewshot does not go with -serve or -load"},
		{[]string{"-fewshot", shots, "-tools"}, "-fewshot does not go with -tools, -docs or -rag"},
		{[]string{"-fewshot", shots, "-docs", docs, "-rag", "1"}, "-fewshot does not go with -tools, -docs or -rag"},
		{[]string{"-load", "2", "-docs", docs}, "-load does not go with -tools, -docs or -rag"},
		{[]string{"-rag", "x"}, `invalid value "x" for flag -rag`},
	} {
		r := runChat(t, "", append([]string{"-ckpt", ckpt}, tc.args...)...)
		assert.Equal(t, 2, r.code, tc.args)
		assert.Contains(t, r.stderr, tc.want, tc.args)
		assert.Contains(t, r.stderr, "usage: chat -ckpt PATH", tc.args)
		assert.Empty(t, r.stdout, tc.args)
	}

	// Bad files, and flags the checkpoint cannot honour: one line.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-docs", missing, "-rag", "1"}, "chat: -docs " + missing + ": stat " + missing + ": no such file or directory"},
		{[]string{"-docs", shots, "-rag", "1"}, "chat: -docs " + shots + ": line 1: json: unknown field \"question\""},
		{[]string{"-docs", writeFiles(t, map[string]string{"x.csv": "a,b"}), "-rag", "1"}, ": the folder has no .txt or .md files"},
		{[]string{"-docs", write("bad.jsonl", `{"text": "ok"}`+"\n"+`{"text": 3}`), "-rag", "1"}, "bad.jsonl: line 2: json: cannot unmarshal number"},
		{[]string{"-docs", write("notext.jsonl", `{"doc": "d"}`), "-rag", "1"}, `notext.jsonl: line 1: "text" is missing or empty`},
		{[]string{"-docs", write("empty.jsonl", "\n"), "-rag", "1"}, "empty.jsonl: no passages in the file"},
		{[]string{"-docs", write("blank.txt", " \n\n "), "-rag", "1"}, "blank.txt: no passages: the documents are empty"},
		{[]string{"-docs", write("data.csv", "a"), "-rag", "1"}, "data.csv: not a folder, a .txt or .md file or a .jsonl file"},
		{[]string{"-docs", docs, "-tools=false"}, "chat: -docs " + docs + ": nothing uses the passages: give -rag K, or -tools for the search tool"},
		{[]string{"-fewshot", missing}, "chat: -fewshot: open " + missing + ": no such file or directory"},
		{[]string{"-fewshot", write("bad-shots.jsonl", `{"question": "q", "answer": "a"}`+"\n"+`{"question": "q"}`)}, "bad-shots.jsonl: prompt: bad examples: line 2: question and answer are required"},
		{[]string{"-fewshot", write("no-shots.jsonl", "")}, "no-shots.jsonl: no examples"},
	} {
		r := runChat(t, "", append([]string{"-ckpt", ckpt}, tc.args...)...)
		assert.Equal(t, 2, r.code, tc.args)
		assert.Contains(t, r.stderr, tc.want, tc.args)
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
		assert.Empty(t, r.stdout, tc.args)
	}

	// A checkpoint from before the tool tokens: -tools and -rag are refused, and tools are off
	// by default.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-tools"}, "chat: -tools: tokenizer: no tool-call tokens"},
		{[]string{"-docs", docs, "-rag", "1"}, "chat: -rag: the model cannot read a context turn: tokenizer: no tool-call tokens"},
		{[]string{"-docs", docs}, "nothing uses the passages"},
	} {
		r := runChat(t, "", append([]string{"-ckpt", legacy, "-prompt", "hi"}, tc.args...)...)
		assert.Equal(t, 2, r.code, tc.args)
		assert.Contains(t, r.stderr, tc.want, tc.args)
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
	}
	r := runChat(t, "", "-ckpt", legacy, "-prompt", "hi")
	assert.Equal(t, 0, r.code, r.stderr)
}

// TestServeTools: -serve with -tools, -docs and -rag serves the tools and the context to the
// checkpoints with the tool tokens.
func TestServeTools(t *testing.T) {
	ckpt := chatScript(t, data.Message{Role: data.RoleUser, Content: "hi"}, data.Message{Role: data.RoleAssistant, Content: "hello"})
	base := testutil.Pretrained(t, testutil.Words(20, 1), 20)
	docs := writeFiles(t, map[string]string{"a.txt": "anna lives in oakton."})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve, then shut down at once
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"-serve", "127.0.0.1:0", "-ckpt", ckpt, "-ckpt", base, "-tools", "-docs", docs, "-rag", "2"}, strings.NewReader(""), &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	assert.Contains(t, errOut.String(), "name=sft stage=sft parameters=")
	assert.Contains(t, errOut.String(), "tools=true context=true")
	assert.Contains(t, errOut.String(), "name=pretrain stage=pretrain parameters=")
	assert.Contains(t, errOut.String(), "tools=false context=false")

	r := runChat(t, "", "-serve", "127.0.0.1:0", "-ckpt", base, "-tools")
	assert.Equal(t, 2, r.code)
	assert.Equal(t, "chat: -tools: no served chat (sft or rlhf) checkpoint's tokenizer has the tool tokens\n", r.stderr)
	r = runChat(t, "", "-serve", "127.0.0.1:0", "-ckpt", ckpt, "-tools=false", "-docs", docs)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "nothing uses the passages")
}
