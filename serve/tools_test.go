package serve

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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
	tok := scriptTokenizer(t)
	seq, _, err := data.RenderChat(tok, conv)
	require.NoError(t, err)
	return scriptedSeqModel(t, name, 96, tok, seq)
}

// scriptTokenizer is the scripted models' character tokenizer.
func scriptTokenizer(t testing.TB) tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.NewCharFromAlphabet([]rune(scriptAlphabet))
	require.NoError(t, err)
	return tok
}

// scriptedSeqModel is scriptedModel for a token sequence seq and a block of block tokens.
func scriptedSeqModel(t testing.TB, name string, block int, tok tokenizer.Tokenizer, seq []int32) Model {
	t.Helper()
	require.LessOrEqual(t, len(seq), block)
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
	// Read: the prompt's 16 tokens and the inserted result, <|tool_result|> "84"
	// <|tool_result_end|>. Generated: <|tool_call|>, "calc 3*28", <|tool_call_end|>,
	// "it is 84", <|end|>.
	assert.Equal(t, usage{PromptTokens: 16 + 4, CompletionTokens: 1 + 9 + 1 + 8 + 1, TotalTokens: 20 + 20}, resp.Usage)
	assert.Equal(t, []string{"calc 3*28 = 84"}, calls, "Config.Tools.OnCall is called too")

	// Streamed: the call comes as a delta of its own before the answer's text.
	req["stream"] = true
	req["stream_options"] = map[string]any{"include_usage": true}
	status, _, b = post(t, url, req)
	require.Equal(t, http.StatusOK, status, "%s", b)
	events := readSSE(t, bytes.NewReader(b))
	r := parseStream(t, events)
	assert.Equal(t, "it is 84", r.texts[0])
	assert.Equal(t, "stop", r.finish[0])
	assert.True(t, r.done)
	assert.Equal(t, &resp.Usage, r.usage, "the streamed usage is the whole answer's")
	events = events[:len(events)-1] // the usage chunk
	delete(req, "stream_options")
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

// TestToolsFinishReason: a reply with tools says "stop" when the model ended it (with <|end|>,
// or with a special token out of place) and "length" when it was cut at max_tokens or at the
// model's block, whole and streamed alike.
func TestToolsFinishReason(t *testing.T) {
	tok := scriptTokenizer(t)
	ask := []data.Message{{Role: data.RoleUser, Content: "what is 3*28"}}
	prompt, err := data.RenderPrompt(tok, ask)
	require.NoError(t, err)
	enc := func(s string) []int32 {
		ids, err := tok.Encode(s)
		require.NoError(t, err)
		out := make([]int32, len(ids))
		for i, id := range ids {
			out[i] = int32(id)
		}
		return out
	}
	seq := func(parts ...[]int32) []int32 { return slices.Concat(append([][]int32{prompt}, parts...)...) }
	call := seq([]int32{tokenizer.ToolCall}, enc("calc 3*28"), []int32{tokenizer.ToolCallEnd})
	models := []Model{
		scriptedModel(t, "calc", calcConversation...),
		// "ab", then <|user|>: a special token out of place ends the reply, malformed.
		scriptedSeqModel(t, "malformed", 96, tok, seq(enc("ab"), []int32{tokenizer.User})),
		// A call that fills the block: no room for its result.
		scriptedSeqModel(t, "full", len(call), tok, call),
	}
	var calls []string
	_, ts := newTestServer(t, Config{Tools: toolsConfig(t, &calls)}, models...)
	url := ts.URL + "/v1/chat/completions"
	for _, c := range []struct {
		name, model string
		maxTokens   int
		content     string
		finish      string
	}{
		{"ended", "calc", 0, "it is 84", "stop"},
		{"malformed", "malformed", 0, "ab", "stop"},
		// The call's 11 tokens count toward max_tokens: 2 are left for the answer.
		{"max tokens after a call", "calc", 11 + 2, "it", "length"},
		{"max tokens in a call", "calc", 5, "", "length"},
		{"block full", "full", 0, "", "length"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := map[string]any{"model": c.model, "messages": ask, "temperature": 0}
			if c.maxTokens > 0 {
				req["max_tokens"] = c.maxTokens
			}
			status, _, b := post(t, url, req)
			require.Equal(t, http.StatusOK, status, "%s", b)
			var resp struct {
				Choices []struct {
					Message      struct{ Content string } `json:"message"`
					FinishReason string                   `json:"finish_reason"`
				} `json:"choices"`
			}
			require.NoError(t, json.Unmarshal(b, &resp), "%s", b)
			require.Len(t, resp.Choices, 1)
			assert.Equal(t, c.content, resp.Choices[0].Message.Content)
			assert.Equal(t, c.finish, resp.Choices[0].FinishReason)

			req["stream"] = true
			r := stream(t, url, req)
			assert.Equal(t, c.content, r.texts[0])
			assert.Equal(t, c.finish, r.finish[0])
			assert.True(t, r.done)
		})
	}
}

// TestToolsQueueFull: requests with tools wait for the model's tool slot in a queue bounded by
// Config.MaxQueue; past it they get 429 with Retry-After, and a waiting one is served when the
// slot frees.
func TestToolsQueueFull(t *testing.T) {
	var calls []string
	s, ts := newTestServer(t, Config{Tools: toolsConfig(t, &calls), MaxQueue: 1}, scriptedModel(t, "calc", calcConversation...))
	l := s.byName["calc"]
	url := ts.URL + "/v1/chat/completions"
	req := map[string]any{"messages": []map[string]string{{"role": "user", "content": "what is 3*28"}}, "temperature": 0}

	l.toolSlot <- struct{}{} // a request with tools is running
	type answer struct {
		status int
		body   []byte
	}
	waiting := make(chan answer, 1)
	go func() {
		status, _, b := post(t, url, req)
		waiting <- answer{status, b}
	}()
	require.Eventually(t, func() bool { return l.toolWaiting.Load() == 1 }, 10*time.Second, time.Millisecond)

	status, h, b := post(t, url, req)
	require.Equal(t, http.StatusTooManyRequests, status, "%s", b)
	assert.Equal(t, "1", h.Get("Retry-After"))
	e := decodeErr(t, b)
	assert.Equal(t, "rate_limit_exceeded", *e.Error.Code)
	assert.Equal(t, "rate_limit_error", e.Error.Type)
	req["stream"] = true
	status, _, b = post(t, url, req)
	assert.Equal(t, http.StatusTooManyRequests, status, "streamed: %s", b)

	<-l.toolSlot
	a := <-waiting
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	assert.Contains(t, string(a.body), "it is 84")
	assert.Zero(t, l.toolWaiting.Load())
	assert.Equal(t, []string{"calc 3*28 = 84"}, calls, "the refused requests ran nothing")
}
