package serve

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/internal/extools"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/retrieval"
	"github.com/tinychat-go/tinychat/tools"
)

// scriptAlphabet is the scripted models' characters: letters, digits and the calculator's
// operators.
const scriptAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789 .,?!*+-/()"

// scriptedModel is a chat checkpoint whose model, whatever the tokens it reads, predicts
// seq[p+1] at position p (and <|end|> past seq's end), where seq is conv rendered with the
// chat template: prompted greedily with conv's turns before its last assistant turn, it writes
// that turn, its tool calls included. Its blocks add nothing (zero output projections), its
// token embedding is zero, position p's embedding is the unit vector e_p, and the LM head reads
// the token scripted for each position off the final LayerNorm.
func scriptedModel(t testing.TB, name string, conv ...data.Message) Model {
	t.Helper()
	tok, err := tokenizer.NewCharFromAlphabet([]rune(scriptAlphabet))
	require.NoError(t, err)
	seq, _, err := data.RenderChat(tok, conv)
	require.NoError(t, err)
	const block = 96
	require.Less(t, len(seq), block)
	m, err := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: block, Layers: 1, Heads: 1, Width: block, UntiedHead: true}, 1)
	require.NoError(t, err)
	for _, p := range []string{"wte", "h.0.attn.c_proj.weight", "h.0.mlp.c_proj.weight", "wpe", "lm_head.weight"} {
		clear(m.Param(p).Data)
	}
	wpe, head := m.Param("wpe").Data, m.Param("lm_head.weight").Data
	for p := range block {
		wpe[p*block+p] = 1
		next := int32(tokenizer.End)
		if p+1 < len(seq) {
			next = seq[p+1]
		}
		head[int(next)*block+p] = 10
	}
	return Model{Name: name, Checkpoint: &model.Checkpoint{Stage: model.StageSFT, Model: m, Tokenizer: tok}}
}

// calcConversation: the user asks, the assistant calls the calculator and answers.
var calcConversation = []data.Message{
	{Role: data.RoleUser, Content: "what is 3*28"},
	{Role: data.RoleToolCall, Content: "calc 3*28"},
	{Role: data.RoleToolResult, Content: "84"},
	{Role: data.RoleAssistant, Content: "it is 84"},
}

// testPassages are the passages of the context tests: BM25 ranks the first best for "where
// does anna live".
var testPassages = []retrieval.Passage{
	{ID: 0, Doc: "people", Text: "anna lives in oakton."},
	{ID: 1, Doc: "people", Text: "ben likes red."},
	{ID: 2, Doc: "sky", Text: "the sky is blue."},
}

// toolsConfig runs the calculator, and records the calls.
func toolsConfig(t testing.TB, calls *[]string) *chat.ToolConfig {
	t.Helper()
	reg, err := tools.NewRegistry(tools.Calculator{})
	require.NoError(t, err)
	var mu sync.Mutex
	return &chat.ToolConfig{Tools: reg, OnCall: func(c chat.ToolCall) {
		mu.Lock()
		defer mu.Unlock()
		*calls = append(*calls, c.Text+" = "+c.Result)
	}}
}

// wantCall is the response's record of the calculator's call.
const wantCall = `{"index": 0, "id": "call_0", "type": "function", "function": {"name": "calc", "arguments": "3*28"}, "output": "84", "is_error": false}`

// TestTools: a model that calls the calculator, served with tools: the reply, whole and
// streamed, reports the call and its result, and the content is the answer.
func TestTools(t *testing.T) {
	var calls []string
	m := scriptedModel(t, "calc", calcConversation...)
	_, ts := newTestServer(t, Config{Tools: toolsConfig(t, &calls)}, m)
	url := ts.URL + "/v1/chat/completions"
	req := map[string]any{"messages": []map[string]string{{"role": "user", "content": "what is 3*28"}}, "temperature": 0}

	status, _, b := post(t, url, req)
	require.Equal(t, http.StatusOK, status, "%s", b)
	var resp struct {
		Choices []struct {
			Message      json.RawMessage `json:"message"`
			FinishReason string          `json:"finish_reason"`
		} `json:"choices"`
		Usage usage `json:"usage"`
	}
	require.NoError(t, json.Unmarshal(b, &resp), "%s", b)
	require.Len(t, resp.Choices, 1)
	assert.JSONEq(t, `{"role": "assistant", "content": "it is 84", "executed_tool_calls": [`+wantCall+`]}`, string(resp.Choices[0].Message))
	assert.Equal(t, "stop", resp.Choices[0].FinishReason)
	// Generated: <|tool_call|>, "calc 3*28", <|tool_call_end|>, "it is 84", <|end|>; the
	// result's 4 tokens were inserted, not generated.
	assert.Equal(t, usage{PromptTokens: 16, CompletionTokens: 1 + 9 + 1 + 8 + 1, TotalTokens: 16 + 20}, resp.Usage)
	assert.Equal(t, []string{"calc 3*28 = 84"}, calls, "Config.Tools.OnCall is called too")

	// Streamed: the call comes as a delta of its own before the answer's text.
	req["stream"] = true
	status, _, b = post(t, url, req)
	require.Equal(t, http.StatusOK, status, "%s", b)
	events := readSSE(t, bytes.NewReader(b))
	r := parseStream(t, events)
	assert.Equal(t, "it is 84", r.texts[0])
	assert.Equal(t, "stop", r.finish[0])
	assert.True(t, r.done)
	var deltas []string
	for _, ev := range events[:len(events)-1] {
		var c struct {
			Choices []struct {
				Delta json.RawMessage `json:"delta"`
			} `json:"choices"`
		}
		require.NoError(t, json.Unmarshal([]byte(ev), &c))
		deltas = append(deltas, string(c.Choices[0].Delta))
	}
	require.Len(t, deltas, 1+1+8+1, "%q", deltas) // role, the call, 8 characters, finish
	assert.JSONEq(t, `{"role": "assistant", "content": ""}`, deltas[0])
	assert.JSONEq(t, `{"executed_tool_calls": [`+wantCall+`]}`, deltas[1])
	assert.JSONEq(t, `{"content": "i"}`, deltas[2])

	// "tool_choice": "none" generates without tools: the call ends the reply at once.
	req["stream"], req["tool_choice"] = false, "none"
	status, _, b = post(t, url, req)
	require.Equal(t, http.StatusOK, status, "%s", b)
	require.NoError(t, json.Unmarshal(b, &resp), "%s", b)
	assert.JSONEq(t, `{"role": "assistant", "content": ""}`, string(resp.Choices[0].Message))

	// n > 1 does not go with tools.
	delete(req, "tool_choice")
	req["n"] = 2
	status, _, b = post(t, url, req)
	require.Equal(t, http.StatusBadRequest, status, "%s", b)
	e := decodeErr(t, b)
	assert.Equal(t, "n", *e.Error.Param)
	assert.Contains(t, e.Error.Message, "n must be 1 when the server runs the model's tools")

	// The model list says which models run tools.
	resp2, err := http.Get(ts.URL + "/v1/models/calc")
	require.NoError(t, err)
	defer resp2.Body.Close()
	var info modelInfo
	require.NoError(t, json.NewDecoder(resp2.Body).Decode(&info))
	assert.True(t, info.Tools)
}

// TestToolsOff: without Config.Tools, or for a checkpoint from before the tool tokens, the
// server runs no tools.
func TestToolsOff(t *testing.T) {
	m := scriptedModel(t, "calc", calcConversation...)
	_, ts := newTestServer(t, Config{}, m)
	status, _, b := post(t, ts.URL+"/v1/chat/completions", map[string]any{"messages": []map[string]string{{"role": "user", "content": "what is 3*28"}}, "temperature": 0})
	require.Equal(t, http.StatusOK, status, "%s", b)
	assert.Contains(t, string(b), `"message":{"content":"","role":"assistant"}`)

	old, err := tokenizer.Unmarshal([]byte(`{"kind":"char","alphabet":"abcdefghijklmnopqrstuvwxyz "}`))
	require.NoError(t, err)
	legacy := randomModel(t, "legacy", model.StageSFT)
	legacy.Checkpoint.Tokenizer = old
	mm, err := model.New(model.Config{VocabSize: old.VocabSize(), BlockSize: 48, Layers: 1, Heads: 1, Width: 8}, 1)
	require.NoError(t, err)
	legacy.Checkpoint.Model = mm
	var calls []string
	s, ts := newTestServer(t, Config{Tools: toolsConfig(t, &calls), Retriever: mustBM25(t), ContextPassages: 1}, legacy)
	assert.Nil(t, s.models[0].toolAsst)
	status, _, b = post(t, ts.URL+"/v1/chat/completions", map[string]any{"messages": []map[string]string{{"role": "user", "content": "where does anna live"}}, "max_tokens": 3})
	require.Equal(t, http.StatusOK, status, "%s", b)
	assert.NotContains(t, string(b), "context")

	_, err = New(Config{ContextPassages: 2}, m)
	assert.EqualError(t, err, "serve: invalid config: ContextPassages needs a Retriever")
}

func mustBM25(t testing.TB) retrieval.Retriever {
	t.Helper()
	bm, err := retrieval.NewBM25(testPassages, 0, 0)
	require.NoError(t, err)
	return bm
}

// TestContext: with a retriever, the best passages go before the question in a context turn,
// and the reply lists them.
func TestContext(t *testing.T) {
	m := scriptedModel(t, "rag",
		data.ContextMessage("anna lives in oakton."),
		data.Message{Role: data.RoleUser, Content: "where does anna live"},
		data.Message{Role: data.RoleAssistant, Content: "in oakton"})
	_, ts := newTestServer(t, Config{Retriever: mustBM25(t), ContextPassages: 1}, m)
	url := ts.URL + "/v1/chat/completions"
	req := map[string]any{"messages": []map[string]string{{"role": "user", "content": "where does anna live"}}, "temperature": 0}
	status, _, b := post(t, url, req)
	require.Equal(t, http.StatusOK, status, "%s", b)
	var resp struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
				Context []struct {
					Doc   string  `json:"doc"`
					ID    int     `json:"id"`
					Text  string  `json:"text"`
					Score float64 `json:"score"`
				} `json:"context"`
			} `json:"message"`
		} `json:"choices"`
	}
	require.NoError(t, json.Unmarshal(b, &resp), "%s", b)
	msg := resp.Choices[0].Message
	assert.Equal(t, "in oakton", msg.Content)
	require.Len(t, msg.Context, 1)
	assert.Equal(t, "people", msg.Context[0].Doc)
	assert.Equal(t, 0, msg.Context[0].ID)
	assert.Equal(t, "anna lives in oakton.", msg.Context[0].Text)
	assert.Greater(t, msg.Context[0].Score, 0.0)

	// Streamed, the passages come with the role.
	req["stream"] = true
	status, _, b = post(t, url, req)
	require.Equal(t, http.StatusOK, status, "%s", b)
	events := readSSE(t, bytes.NewReader(b))
	assert.Equal(t, "in oakton", parseStream(t, events).texts[0])
	assert.True(t, strings.Contains(events[0], `"context":[{"doc":"people","id":0,"score":`) &&
		strings.Contains(events[0], `"text":"anna lives in oakton."}],"role":"assistant"}`), events[0])
}

// toolsScript drives the official openai npm client against a server running tools: whole,
// streamed, and through the client's stream helper, which accumulates the deltas.
const toolsScript = `
import OpenAI from "openai";
const client = new OpenAI({ baseURL: process.env.BASE_URL + "/v1", apiKey: "none", maxRetries: 0 });
const settings = { model: "calc", messages: [{ role: "user", content: "what is 3*28" }], temperature: 0 };
const out = {};
const whole = await client.chat.completions.create(settings);
out.whole = whole.choices[0].message.content;
out.calls = whole.choices[0].message.executed_tool_calls;
out.streamed = "";
out.streamCalls = [];
for await (const chunk of await client.chat.completions.create({ ...settings, stream: true })) {
  for (const c of chunk.choices) {
    out.streamed += c.delta?.content ?? "";
    out.streamCalls.push(...(c.delta?.executed_tool_calls ?? []));
  }
}
const runner = client.chat.completions.stream(settings);
const final = await runner.finalChatCompletion();
out.helper = final.choices[0].message.content;
out.helperFinish = final.choices[0].finish_reason;
console.log(JSON.stringify(out));
`

// TestToolsOpenAIClient: the official client reads the replies of a server running tools,
// the calls included, and its stream helper does not choke on them.
func TestToolsOpenAIClient(t *testing.T) {
	nodeModules, node := extools.NodeModules(t, "openai")
	var calls []string
	_, ts := newTestServer(t, Config{Tools: toolsConfig(t, &calls)}, scriptedModel(t, "calc", calcConversation...))
	raw, err := extools.RunNode(t, node, nodeModules, toolsScript, []string{"BASE_URL=" + ts.URL})
	require.NoError(t, err)
	var out struct {
		Whole, Streamed, Helper, HelperFinish string
		Calls, StreamCalls                    []json.RawMessage
	}
	require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	assert.Equal(t, "it is 84", out.Whole)
	assert.Equal(t, "it is 84", out.Streamed)
	assert.Equal(t, "it is 84", out.Helper)
	assert.Equal(t, "stop", out.HelperFinish)
	require.Len(t, out.Calls, 1)
	assert.JSONEq(t, wantCall, string(out.Calls[0]))
	require.Len(t, out.StreamCalls, 1)
	assert.JSONEq(t, wantCall, string(out.StreamCalls[0]))
}
