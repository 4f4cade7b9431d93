package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

// goReply is what the Go API (chat.Assistant) replies with the same settings.
func goReply(t *testing.T, m Model, msgs []data.Message, sc model.SampleConfig) chat.Reply {
	t.Helper()
	a, err := chat.NewAssistant(m.Checkpoint.Model, m.Checkpoint.Tokenizer, 1)
	require.NoError(t, err)
	r, err := a.Reply(context.Background(), msgs, sc)
	require.NoError(t, err)
	return r
}

// outcome is how the server ends a reply the Go API generated: at its first special token
// (finish reason stop, that token counted), or at the length limit.
func outcome(tokens []int32) (finish string, count int) {
	for i, id := range tokens {
		if id < tokenizer.NumSpecial {
			return "stop", i + 1
		}
	}
	return "length", len(tokens)
}

// TestChatCompletion: the whole answer and the stream carry the Go API's reply for the same
// seed, in OpenAI's shapes, with the token counts.
func TestChatCompletion(t *testing.T) {
	m := randomModel(t, "tiny", model.StageRLHF)
	_, ts := newTestServer(t, Config{}, m)
	url := ts.URL + "/v1/chat/completions"
	msgs := []data.Message{{Role: data.RoleSystem, Content: "be kind."}, {Role: data.RoleUser, Content: "hello there"}}
	prompt, err := data.RenderPrompt(m.Checkpoint.Tokenizer, msgs)
	require.NoError(t, err)

	for _, seed := range []uint64{1, 2, 3} {
		want := goReply(t, m, msgs, model.SampleConfig{MaxNewTokens: 20, Temperature: 0.9, TopP: 0.95, Seed: seed})
		body := map[string]any{"model": "tiny", "messages": msgs, "max_tokens": 20, "temperature": 0.9, "top_p": 0.95, "seed": seed}

		status, h, b := post(t, url, body)
		require.Equal(t, http.StatusOK, status, "%s", b)
		assert.Equal(t, "application/json", h.Get("Content-Type"))
		var r chatResponse
		require.NoError(t, json.Unmarshal(b, &r))
		assert.Equal(t, "chat.completion", r.Object)
		assert.Equal(t, "tiny", r.Model)
		assert.True(t, strings.HasPrefix(r.ID, "chatcmpl-"), r.ID)
		assert.NotZero(t, r.Created)
		require.Len(t, r.Choices, 1)
		c := r.Choices[0]
		assert.Equal(t, "assistant", c.Message.Role)
		assert.Equal(t, want.Text, c.Message.Content, "seed %d", seed)
		wantFinish, count := outcome(want.Tokens)
		require.NotNil(t, c.FinishReason)
		assert.Equal(t, wantFinish, *c.FinishReason)
		assert.Equal(t, &usage{PromptTokens: len(prompt), CompletionTokens: count, TotalTokens: len(prompt) + count}, r.Usage)

		body["stream"] = true
		body["stream_options"] = map[string]any{"include_usage": true}
		s := stream(t, url, body)
		assert.True(t, s.done, "ends with [DONE]")
		assert.Equal(t, map[int]string{0: want.Text}, s.texts)
		assert.Equal(t, map[int]string{0: wantFinish}, s.finish)
		assert.Equal(t, map[int]int{0: 1}, s.roles, "one role delta")
		assert.Equal(t, r.Usage, s.usage)
		for _, c := range s.chunks {
			assert.Equal(t, "chat.completion.chunk", c.Object)
			assert.Equal(t, s.chunks[0].ID, c.ID)
			assert.Equal(t, "tiny", c.Model)
		}
		require.GreaterOrEqual(t, len(s.chunks), 3)
		// The first chunk gives the role with empty content; the last choice chunk has an empty
		// delta and the finish reason.
		first := s.chunks[0].Choices[0]
		assert.Equal(t, "", *first.Delta.Content)
		assert.Nil(t, first.FinishReason)
		last := s.chunks[len(s.chunks)-2].Choices[0]
		assert.Nil(t, last.Delta.Content)
		assert.Nil(t, last.Delta.Role)
	}

	// Without stream_options, no usage chunk; greedy decoding needs no seed.
	want := goReply(t, m, msgs, model.SampleConfig{MaxNewTokens: 12})
	s := stream(t, url, map[string]any{"messages": msgs, "max_tokens": 12, "temperature": 0, "stream": true})
	assert.Nil(t, s.usage)
	assert.Equal(t, want.Text, s.texts[0])
}

// TestSeveralChoices: n replies are the Go API's NumSamples replies, streamed interleaved.
func TestSeveralChoices(t *testing.T) {
	m := randomModel(t, "tiny", model.StageSFT)
	_, ts := newTestServer(t, Config{}, m)
	msgs := []data.Message{{Role: data.RoleUser, Content: "tell me a story"}}
	a, err := chat.NewAssistant(m.Checkpoint.Model, m.Checkpoint.Tokenizer, 1)
	require.NoError(t, err)
	want, err := a.Replies(context.Background(), [][]data.Message{msgs}, model.SampleConfig{MaxNewTokens: 15, Temperature: 1, Seed: 42, NumSamples: 3})
	require.NoError(t, err)
	body := map[string]any{"messages": msgs, "max_tokens": 15, "seed": 42, "n": 3}
	status, _, b := post(t, ts.URL+"/v1/chat/completions", body)
	require.Equal(t, http.StatusOK, status, "%s", b)
	var r chatResponse
	require.NoError(t, json.Unmarshal(b, &r))
	require.Len(t, r.Choices, 3)
	distinct := map[string]bool{}
	tokens := 0
	for i, c := range r.Choices {
		assert.Equal(t, i, c.Index)
		assert.Equal(t, want[i].Text, c.Message.Content, "choice %d", i)
		distinct[c.Message.Content] = true
		_, count := outcome(want[i].Tokens)
		tokens += count
	}
	assert.Greater(t, len(distinct), 1, "the choices are sampled independently")
	assert.Equal(t, tokens, r.Usage.CompletionTokens)

	body["stream"] = true
	s := stream(t, ts.URL+"/v1/chat/completions", body)
	for i := range 3 {
		assert.Equal(t, want[i].Text, s.texts[i], "choice %d", i)
		assert.Equal(t, 1, s.roles[i])
		assert.NotEmpty(t, s.finish[i])
	}
}

// TestStopAndLength: a stop sequence cuts the reply before it (streamed or not, even when it
// arrives over several tokens); max_tokens ends it with finish_reason length.
func TestStopAndLength(t *testing.T) {
	m := randomModel(t, "tiny", model.StageSFT)
	_, ts := newTestServer(t, Config{}, m)
	url := ts.URL + "/v1/chat/completions"
	msgs := []data.Message{{Role: data.RoleUser, Content: "go on"}}
	full := goReply(t, m, msgs, model.SampleConfig{MaxNewTokens: 40, Temperature: 1, Seed: 3})
	require.GreaterOrEqual(t, len(full.Text), 12, "a reply long enough to cut: %q", full.Text)
	stop := full.Text[6:9]
	cut := full.Text[:strings.Index(full.Text, stop)]

	body := map[string]any{"messages": msgs, "max_tokens": 40, "seed": 3, "stop": []string{"never there", stop}}
	status, _, b := post(t, url, body)
	require.Equal(t, http.StatusOK, status, "%s", b)
	var r chatResponse
	require.NoError(t, json.Unmarshal(b, &r))
	assert.Equal(t, cut, r.Choices[0].Message.Content)
	assert.Equal(t, "stop", *r.Choices[0].FinishReason)
	assert.Equal(t, len([]rune(cut))+len(stop), r.Usage.CompletionTokens, "generation ends at the stop sequence's last token")

	body["stop"] = stop // a string works too
	body["stream"] = true
	s := stream(t, url, body)
	assert.Equal(t, cut, s.texts[0])
	assert.Equal(t, "stop", s.finish[0])
	for _, c := range s.chunks {
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				assert.NotContains(t, *ch.Delta.Content, stop)
			}
		}
	}

	status, _, b = post(t, url, map[string]any{"messages": msgs, "max_tokens": 5, "seed": 3})
	require.Equal(t, http.StatusOK, status, "%s", b)
	require.NoError(t, json.Unmarshal(b, &r))
	want := goReply(t, m, msgs, model.SampleConfig{MaxNewTokens: 5, Temperature: 1, Seed: 3})
	require.False(t, want.Ended)
	assert.Equal(t, want.Text, r.Choices[0].Message.Content)
	assert.Equal(t, "length", *r.Choices[0].FinishReason)
	assert.Equal(t, 5, r.Usage.CompletionTokens)
}

// TestCompletions: base models continue text after <|bos|>, as GenerateBatch does; they
// refuse chat; several prompts give prompts × n choices.
func TestCompletions(t *testing.T) {
	base := randomModel(t, "base", model.StagePretrain)
	sft := randomModel(t, "sft", model.StageSFT)
	_, ts := newTestServer(t, Config{}, base, sft)
	url := ts.URL + "/v1/completions"
	eng, err := model.NewEngine(base.Checkpoint.Model, 1)
	require.NoError(t, err)
	encode := func(s string) []int32 {
		ids, err := base.Checkpoint.Tokenizer.Encode(s)
		require.NoError(t, err)
		p := []int32{tokenizer.BOS}
		for _, id := range ids {
			p = append(p, int32(id))
		}
		return p
	}
	prompts := []string{"once upon", "the cat"}
	want, err := eng.GenerateBatch(context.Background(), [][]int32{encode(prompts[0]), encode(prompts[1])},
		model.SampleConfig{MaxNewTokens: 16, Temperature: 0.8, Seed: 9, NumSamples: 2})
	require.NoError(t, err)
	texts := make([]string, len(want))
	for i, smp := range want {
		texts[i], _, err = chat.ParseReply(base.Checkpoint.Tokenizer, smp.Tokens)
		require.NoError(t, err)
	}

	body := map[string]any{"model": "base", "prompt": prompts, "n": 2, "temperature": 0.8, "seed": 9}
	status, _, b := post(t, url, body)
	require.Equal(t, http.StatusOK, status, "%s", b)
	var r chatResponse
	require.NoError(t, json.Unmarshal(b, &r))
	assert.Equal(t, "text_completion", r.Object)
	assert.True(t, strings.HasPrefix(r.ID, "cmpl-"))
	require.Len(t, r.Choices, 4)
	for i, c := range r.Choices {
		assert.Equal(t, texts[i], c.Text, "choice %d (16 tokens by default)", i)
	}
	assert.Equal(t, len(encode(prompts[0]))+len(encode(prompts[1])), r.Usage.PromptTokens)

	body["stream"] = true
	s := stream(t, url, body)
	for i := range 4 {
		assert.Equal(t, texts[i], s.texts[i])
	}
	assert.True(t, s.done)
	assert.Equal(t, "text_completion", s.chunks[0].Object)

	// A single string prompt; the chat model continues text too.
	status, _, b = post(t, url, map[string]any{"model": "sft", "prompt": "abc", "max_tokens": 3})
	require.Equal(t, http.StatusOK, status, "%s", b)

	// Base models do not chat.
	status, _, b = post(t, ts.URL+"/v1/chat/completions", map[string]any{"model": "base", "messages": []data.Message{{Role: "user", Content: "hi"}}})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, decodeErr(t, b).Error.Message, "use /v1/completions")
}

// TestModels lists the models; the first is the default.
func TestModels(t *testing.T) {
	_, ts := newTestServer(t, Config{}, randomModel(t, "one", model.StageRLHF), randomModel(t, "two", model.StagePretrain))
	resp, err := http.Get(ts.URL + "/v1/models")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var list struct {
		Object string      `json:"object"`
		Data   []modelInfo `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	assert.Equal(t, "list", list.Object)
	require.Len(t, list.Data, 2)
	params := randomModel(t, "x", model.StageSFT).Checkpoint.Model.Config.NumParams()
	assert.Equal(t, modelInfo{ID: "one", Object: "model", Created: list.Data[0].Created, OwnedBy: "tinychat", Stage: "rlhf", Chat: true, ContextLength: 48, Parameters: params}, list.Data[0])
	assert.Equal(t, "two", list.Data[1].ID)
	assert.False(t, list.Data[1].Chat)

	resp2, err := http.Get(ts.URL + "/v1/models/two")
	require.NoError(t, err)
	defer resp2.Body.Close()
	var one modelInfo
	require.NoError(t, json.NewDecoder(resp2.Body).Decode(&one))
	assert.Equal(t, list.Data[1], one)

	resp3, err := http.Get(ts.URL + "/v1/models/three")
	require.NoError(t, err)
	defer resp3.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp3.StatusCode)
	b, _ := io.ReadAll(resp3.Body)
	assert.Equal(t, "model_not_found", *decodeErr(t, b).Error.Code)

	// The model field picks the model; no model field means the first.
	for name, stage := range map[string]string{"": "rlhf", "one": "rlhf", "two": "pretrain"} {
		status, _, b := post(t, ts.URL+"/v1/completions", map[string]any{"model": name, "prompt": "a", "max_tokens": 1})
		require.Equal(t, http.StatusOK, status, "%s", b)
		var r chatResponse
		require.NoError(t, json.Unmarshal(b, &r))
		assert.Equal(t, map[string]string{"rlhf": "one", "pretrain": "two"}[stage], r.Model)
	}
}

// TestBadInput: every mistake gets a 4xx with OpenAI's error JSON naming it, and the server
// goes on serving.
func TestBadInput(t *testing.T) {
	_, ts := newTestServer(t, Config{MaxBodyBytes: 4096, MaxTokens: 100, MaxN: 4}, randomModel(t, "tiny", model.StageSFT))
	chatURL, complURL := ts.URL+"/v1/chat/completions", ts.URL+"/v1/completions"
	user := `[{"role":"user","content":"hi"}]`
	for _, tc := range []struct {
		name, url, body string
		status          int
		param, msg      string
	}{
		{"malformed JSON", chatURL, `{"messages": [`, 400, "", "malformed JSON"},
		{"syntax error", chatURL, `{"messages": x}`, 400, "", "malformed JSON"},
		{"empty body", chatURL, ``, 400, "", "body is empty"},
		{"not an object", chatURL, `[1, 2]`, 400, "", "must be a JSON object"},
		{"trailing data", chatURL, `{"messages": ` + user + `} {}`, 400, "", "one JSON object"},
		{"messages wrong type", chatURL, `{"messages": "hi"}`, 400, "messages", "messages must be an array"},
		{"temperature wrong type", chatURL, `{"messages": ` + user + `, "temperature": "hot"}`, 400, "temperature", "temperature must be a number"},
		{"max_tokens fraction", chatURL, `{"messages": ` + user + `, "max_tokens": 1.5}`, 400, "max_tokens", "max_tokens must be an integer"},
		{"stream wrong type", chatURL, `{"messages": ` + user + `, "stream": "yes"}`, 400, "stream", "stream must be a boolean"},
		{"role wrong type", chatURL, `{"messages": [{"role": 1, "content": "hi"}]}`, 400, "messages.role", "must be a string"},
		{"no messages", chatURL, `{"messages": []}`, 400, "messages", "at least one message"},
		{"messages missing", chatURL, `{"model": "tiny"}`, 400, "messages", "at least one message"},
		{"unknown role", chatURL, `{"messages": [{"role": "wizard", "content": "hi"}]}`, 400, "messages[0].role", `unknown role "wizard"`},
		{"no role", chatURL, `{"messages": [{"content": "hi"}]}`, 400, "messages[0].role", "has no role"},
		{"ends with assistant", chatURL, `{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}`, 400, "messages", "must end with a user turn"},
		{"system not first", chatURL, `{"messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": "x"}, {"role": "user", "content": "hi"}]}`, 400, "messages", "system"},
		{"image part", chatURL, `{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}`, 400, "messages[0].content[0]", "only text parts"},
		{"content wrong type", chatURL, `{"messages": [{"role": "user", "content": 5}]}`, 400, "messages[0].content", "string or an array of text parts"},
		{"cannot encode", chatURL, `{"messages": [{"role": "user", "content": "HELLO ✓"}]}`, 400, "messages", "cannot encode"},
		{"too long", chatURL, `{"messages": [{"role": "user", "content": "` + strings.Repeat("ab ", 20) + `"}]}`, 400, "messages", "context is 48 tokens"},
		{"temperature too high", chatURL, `{"messages": ` + user + `, "temperature": 3}`, 400, "temperature", "between 0 and 2"},
		{"top_p zero", chatURL, `{"messages": ` + user + `, "top_p": 0}`, 400, "top_p", "top_p must be in (0, 1]"},
		{"top_k negative", chatURL, `{"messages": ` + user + `, "top_k": -1}`, 400, "top_k", "top_k must be >= 0"},
		{"max_tokens over cap", chatURL, `{"messages": ` + user + `, "max_tokens": 101}`, 400, "max_tokens", "limit of 100"},
		{"max_tokens zero", chatURL, `{"messages": ` + user + `, "max_tokens": 0}`, 400, "max_tokens", "between 1 and"},
		{"max_completion_tokens", chatURL, `{"messages": ` + user + `, "max_completion_tokens": 500}`, 400, "max_completion_tokens", "limit of 100"},
		{"n too large", chatURL, `{"messages": ` + user + `, "n": 5}`, 400, "n", "limit of 4"},
		{"stop wrong type", chatURL, `{"messages": ` + user + `, "stop": 3}`, 400, "stop", "string or an array of strings"},
		{"too many stops", chatURL, `{"messages": ` + user + `, "stop": ["a","b","c","d","e"]}`, 400, "stop", "at most 4"},
		{"empty stop", chatURL, `{"messages": ` + user + `, "stop": [""]}`, 400, "stop", "must not be empty"},
		{"logprobs", chatURL, `{"messages": ` + user + `, "logprobs": true}`, 400, "logprobs", "not supported"},
		{"seed wrong type", chatURL, `{"messages": ` + user + `, "seed": "x"}`, 400, "seed", "seed must be an integer"},
		{"huge body", chatURL, `{"messages": [{"role": "user", "content": "` + strings.Repeat("a", 5000) + `"}]}`, 413, "", "limit of 4096 bytes"},
		{"unknown model", chatURL, `{"model": "gpt-4", "messages": ` + user + `}`, 404, "model", `"gpt-4" does not exist`},
		{"prompt missing", complURL, `{"max_tokens": 3}`, 400, "prompt", "prompt is required"},
		{"prompt tokens", complURL, `{"prompt": [1, 2, 3]}`, 400, "prompt", "string or an array of strings"},
		{"prompt empty list", complURL, `{"prompt": []}`, 400, "prompt", "at least one string"},
		{"prompts times n", complURL, `{"prompt": ["a", "b", "c"], "n": 2}`, 400, "n", "prompts × n"},
		{"echo", complURL, `{"prompt": "a", "echo": true}`, 400, "echo", "not supported"},
		{"completion too long", complURL, `{"prompt": "` + strings.Repeat("ab ", 20) + `"}`, 400, "prompt", "context is 48 tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, h, b := post(t, tc.url, tc.body)
			require.Equal(t, tc.status, status, "%s", b)
			assert.Equal(t, "application/json", h.Get("Content-Type"))
			e := decodeErr(t, b)
			assert.Equal(t, "invalid_request_error", e.Error.Type)
			assert.Contains(t, e.Error.Message, tc.msg)
			if tc.param == "" {
				assert.Nil(t, e.Error.Param)
			} else if assert.NotNil(t, e.Error.Param) {
				assert.Equal(t, tc.param, *e.Error.Param)
			}
		})
	}
	// Unknown fields are ignored (clients send many); null means absent.
	status, _, b := post(t, chatURL, `{"messages": `+user+`, "user": "me", "frequency_penalty": 0, "stop": null, "seed": null, "max_tokens": 2}`)
	assert.Equal(t, http.StatusOK, status, "%s", b)

	// Wrong methods and paths.
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/v1/chat/completions", 405},
		{http.MethodDelete, "/v1/models", 405},
		{http.MethodPost, "/v1/models", 405},
		{http.MethodPost, "/", 405},
		{http.MethodGet, "/v1/embeddings", 404},
		{http.MethodGet, "/v1/../etc/passwd", 404},
		{http.MethodGet, "/ui/index.html", 404},
		{http.MethodGet, "/serve.go", 404},
		{http.MethodGet, "/index.html", 404},
	} {
		req, err := http.NewRequest(tc.method, ts.URL+tc.path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, tc.status, resp.StatusCode, "%s %s: %s", tc.method, tc.path, b)
		decodeErr(t, b)
		if tc.status == 405 {
			assert.NotEmpty(t, resp.Header.Get("Allow"))
		}
	}
}

// TestAPIKey: with a key, /v1/ needs it; the page and /health do not.
func TestAPIKey(t *testing.T) {
	_, ts := newTestServer(t, Config{APIKey: "sekret"}, randomModel(t, "tiny", model.StageSFT))
	body := map[string]any{"messages": []data.Message{{Role: "user", Content: "hi"}}, "max_tokens": 2}
	for _, auth := range []string{"", "Bearer wrong", "sekret", "Basic sekret", "Bearer sekret2"} {
		status, _, b := post(t, ts.URL+"/v1/chat/completions", body, "Authorization", auth)
		assert.Equal(t, http.StatusUnauthorized, status, auth)
		assert.Equal(t, "invalid_api_key", *decodeErr(t, b).Error.Code)
	}
	status, _, b := post(t, ts.URL+"/v1/chat/completions", body, "Authorization", "Bearer sekret")
	assert.Equal(t, http.StatusOK, status, "%s", b)
	for _, path := range []string{"/", "/app.js", "/style.css", "/health"} {
		resp, err := http.Get(ts.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
	}
}

// TestPage serves the embedded page with a strict content security policy.
func TestPage(t *testing.T) {
	_, ts := newTestServer(t, Config{}, randomModel(t, "tiny", model.StageSFT))
	for path, typ := range map[string]string{"/": "text/html", "/app.js": "text/javascript", "/style.css": "text/css"} {
		resp, err := http.Get(ts.URL + path)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, resp.Header.Get("Content-Type"), typ)
		assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'self'")
		want, err := uiFiles.ReadFile(pageFiles[path].file)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(b))
		assert.NotContains(t, string(b), "http://", "no CDN")
		assert.NotContains(t, string(b), "https://", "no CDN")
	}
}

// TestNewErrors: models that cannot be served are refused clearly.
func TestNewErrors(t *testing.T) {
	m := randomModel(t, "a", model.StageSFT)
	reward := randomModel(t, "r", model.StageReward)
	for _, tc := range []struct {
		models []Model
		cfg    Config
		want   string
	}{
		{nil, Config{}, "no models"},
		{[]Model{{Name: "", Checkpoint: m.Checkpoint}}, Config{}, "has no name"},
		{[]Model{m, m}, Config{}, `two models are named "a"`},
		{[]Model{reward}, Config{}, "reward model: it scores replies and cannot generate"},
		{[]Model{{Name: "x"}}, Config{}, "has no checkpoint"},
		{[]Model{m}, Config{MaxTokens: -1}, "MaxTokens must be >= 0"},
	} {
		_, err := New(tc.cfg, tc.models...)
		assert.ErrorContains(t, err, tc.want)
	}
}

// firstEvents opens a stream and reads its first k events, returning the response to close.
func firstEvents(t *testing.T, ctx context.Context, url string, body any, k int) (*http.Response, *bufio.Reader) {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(raw)))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	br := bufio.NewReader(resp.Body)
	for got := 0; got < k; {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		if strings.HasPrefix(line, "data: ") {
			got++
		}
	}
	return resp, br
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:80": true, "[::1]:8080": true, "127.1.2.3:1": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:80": false, "192.168.1.2:8080": false, "example.com:80": false, "nonsense": false,
	} {
		assert.Equal(t, want, IsLoopback(addr), addr)
	}
}

func ExampleIsLoopback() {
	fmt.Println(IsLoopback("127.0.0.1:8080"), IsLoopback(":8080"))
	// Output: true false
}
