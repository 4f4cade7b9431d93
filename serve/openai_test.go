package serve

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/internal/extools"
	"github.com/tinychat-go/tinychat/model"
)

// openaiScript drives the server with the official openai npm client: a chat completion whole
// and streamed, the model list, an error, and a text completion.
const openaiScript = `
import OpenAI from "openai";
const client = new OpenAI({ baseURL: process.env.BASE_URL + "/v1", apiKey: "sekret", maxRetries: 0 });
const messages = [{ role: "system", content: "be kind." }, { role: "user", content: "hello there" }];
const settings = { model: "tiny", messages, max_tokens: 20, temperature: 0.9, top_p: 0.95, seed: 7 };
const out = {};
const whole = await client.chat.completions.create(settings);
out.whole = whole.choices[0].message.content;
out.wholeFinish = whole.choices[0].finish_reason;
out.usage = whole.usage;
out.object = whole.object;
const stream = await client.chat.completions.create({ ...settings, stream: true, stream_options: { include_usage: true } });
out.streamed = "";
out.chunks = 0;
for await (const chunk of stream) {
  out.chunks++;
  for (const c of chunk.choices) {
    out.streamed += c.delta?.content ?? "";
    if (c.finish_reason) out.streamFinish = c.finish_reason;
  }
  if (chunk.usage) out.streamUsage = chunk.usage;
}
out.models = [];
for await (const m of client.models.list()) out.models.push(m.id);
try {
  await client.chat.completions.create({ ...settings, model: "nope" });
} catch (e) {
  out.errStatus = e.status;
  out.errCode = e.code;
  out.errParam = e.param;
}
try {
  await new OpenAI({ baseURL: process.env.BASE_URL + "/v1", apiKey: "wrong", maxRetries: 0 }).models.list();
} catch (e) {
  out.authStatus = e.status;
}
const comp = await client.completions.create({ model: "base", prompt: "once upon", max_tokens: 8, temperature: 0.5, seed: 3 });
out.completion = comp.choices[0].text;
console.log(JSON.stringify(out));
`

// TestOpenAIClient: the official client gets, streamed and whole, the reply the Go API gives
// with the same seed.
func TestOpenAIClient(t *testing.T) {
	nodeModules, node := extools.NodeModules(t, "openai")
	m := randomModel(t, "tiny", model.StageRLHF)
	base := randomModel(t, "base", model.StagePretrain)
	_, ts := newTestServer(t, Config{APIKey: "sekret"}, m, base)
	raw, err := extools.RunNode(t, node, nodeModules, openaiScript, []string{"BASE_URL=" + ts.URL})
	require.NoError(t, err)
	var out struct {
		Whole, Streamed, Object, WholeFinish, StreamFinish, ErrCode, ErrParam, Completion string
		Usage, StreamUsage                                                                usage
		Chunks, ErrStatus, AuthStatus                                                     int
		Models                                                                            []string
	}
	require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)

	msgs := []data.Message{{Role: data.RoleSystem, Content: "be kind."}, {Role: data.RoleUser, Content: "hello there"}}
	want := goReply(t, m, msgs, model.SampleConfig{MaxNewTokens: 20, Temperature: 0.9, TopP: 0.95, Seed: 7})
	require.NotEmpty(t, want.Text)
	assert.Equal(t, want.Text, out.Whole)
	assert.Equal(t, want.Text, out.Streamed)
	finish, count := outcome(want.Tokens)
	assert.Equal(t, finish, out.WholeFinish)
	assert.Equal(t, finish, out.StreamFinish)
	assert.Equal(t, "chat.completion", out.Object)
	assert.Equal(t, count, out.Usage.CompletionTokens)
	assert.Equal(t, out.Usage, out.StreamUsage)
	assert.Greater(t, out.Chunks, 3)
	assert.Equal(t, []string{"tiny", "base"}, out.Models)
	assert.Equal(t, 404, out.ErrStatus)
	assert.Equal(t, "model_not_found", out.ErrCode)
	assert.Equal(t, "model", out.ErrParam)
	assert.Equal(t, 401, out.AuthStatus)
	assert.NotEmpty(t, out.Completion)
}
