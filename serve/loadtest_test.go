package serve

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/model"
)

// TestLoadTest: every request is counted, with the tokens the Go API generates for the same
// prompt and seed; failures are counted, not fatal.
func TestLoadTest(t *testing.T) {
	m := randomModel(t, "tiny", model.StageSFT)
	_, ts := newTestServer(t, Config{MaxBatch: 3}, m)
	prompts := []string{"hello", "how are you?", "tell me a story."}
	rep, err := LoadTest(context.Background(), LoadConfig{URL: ts.URL, Clients: 4, Requests: 10, Prompts: prompts, MaxTokens: 12, Temperature: 1})
	require.NoError(t, err)
	want := 0
	for i := range 10 {
		r := goReply(t, m, []data.Message{{Role: data.RoleUser, Content: prompts[i%3]}}, model.SampleConfig{MaxNewTokens: 12, Temperature: 1, Seed: uint64(i)})
		_, n := outcome(r.Tokens)
		want += n
	}
	assert.Equal(t, 10, rep.Requests)
	assert.Zero(t, rep.Errors, rep.FirstError)
	assert.Equal(t, want, rep.CompletionTokens)
	assert.Positive(t, rep.TTFT50)
	assert.GreaterOrEqual(t, rep.TTFT95, rep.TTFT50)
	assert.Positive(t, rep.TokensPerSecond)
	assert.Contains(t, rep.String(), "10 requests, 0 errors")

	rep, err = LoadTest(context.Background(), LoadConfig{URL: ts.URL, Model: "nope", Clients: 2, Requests: 3, Prompts: prompts})
	require.NoError(t, err)
	assert.Equal(t, 3, rep.Errors)
	assert.Contains(t, rep.FirstError, `status 404: the model "nope" does not exist`)

	_, err = LoadTest(context.Background(), LoadConfig{})
	assert.ErrorContains(t, err, "no URL")
}

func TestPercentile(t *testing.T) {
	assert.Zero(t, percentile(nil, 0.5))
	v := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	assert.Equal(t, time.Duration(5), percentile(v, 0.5))
	assert.Equal(t, time.Duration(10), percentile(v, 0.95))
	assert.Equal(t, time.Duration(1), percentile(v[:1], 0.95))
}
