package serve

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

// testAlphabet is the test tokenizer's characters (IDs from tokenizer.NumSpecial on).
const testAlphabet = "abcdefghijklmnopqrstuvwxyz .,!?"

func testTokenizer(t testing.TB) tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.NewCharFromAlphabet([]rune(testAlphabet))
	require.NoError(t, err)
	return tok
}

// randomModel is a checkpoint of stage with random weights (large enough that sampling
// varies) over the test tokenizer: gibberish, but deterministic.
func randomModel[S ~string](t testing.TB, name string, stage S) Model {
	t.Helper()
	tok := testTokenizer(t)
	m, err := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: 48, Layers: 2, Heads: 2, Width: 32}, 7)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(7, 8))
	for _, p := range m.Params {
		for i := range p.Data {
			p.Data[i] += float32(rng.NormFloat64() * 0.2)
		}
	}
	ck := &model.Checkpoint{Model: m, Tokenizer: tok}
	switch string(stage) {
	case "pretrain":
		ck.Stage = model.StagePretrain
	case "sft":
		ck.Stage = model.StageSFT
	case "reward":
		ck.Stage = model.StageReward
	case "rlhf":
		ck.Stage = model.StageRLHF
	default:
		t.Fatalf("unknown stage %q", stage)
	}
	return Model{Name: name, Checkpoint: ck}
}

// loopModel is a chat checkpoint that writes char forever (greedy, and with probability
// 0.9998 per token when sampled): its final LayerNorm outputs a constant, which only char's
// row of its own LM head picks up.
func loopModel(t testing.TB, name string, char rune) Model {
	t.Helper()
	m, err := exampleLoopModel(name, char)
	require.NoError(t, err)
	return m
}

// newTestServer serves models with cfg on an httptest server.
func newTestServer(t testing.TB, cfg Config, models ...Model) (*Server, *httptest.Server) {
	t.Helper()
	s, err := New(cfg, models...)
	require.NoError(t, err)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return s, ts
}

// post sends body (a string as is, anything else as JSON) and returns the status, headers
// and body.
func post(t testing.TB, url string, body any, header ...string) (int, http.Header, []byte) {
	t.Helper()
	var raw []byte
	if s, ok := body.(string); ok {
		raw = []byte(s)
	} else {
		var err error
		raw, err = json.Marshal(body)
		require.NoError(t, err)
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b
}

// apiErr is the error JSON.
type apiErr struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func decodeErr(t testing.TB, b []byte) apiErr {
	t.Helper()
	var e apiErr
	require.NoError(t, json.Unmarshal(b, &e), "%s", b)
	require.NotEmpty(t, e.Error.Message, "%s", b)
	return e
}

// chatResponse is a chat.completion.
type chatResponse struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		Text         string  `json:"text"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *usage `json:"usage"`
}

// chunk is a chat.completion.chunk or a streamed text_completion.
type chunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta *struct {
			Role    *string `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		Text         *string `json:"text"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *usage          `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// readSSE reads a stream's events: the data of each, in order ("[DONE]" included).
func readSSE(t testing.TB, r io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	blank := true
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			blank = true
			continue
		}
		require.True(t, blank, "events are separated by a blank line")
		blank = false
		data, ok := strings.CutPrefix(line, "data: ")
		require.True(t, ok, "line %q", line)
		out = append(out, data)
	}
	require.NoError(t, sc.Err())
	return out
}

// streamResult is a parsed stream: per choice its text and finish reason, the chunks, the
// usage chunk and whether it ended with [DONE].
type streamResult struct {
	texts   map[int]string
	finish  map[int]string
	roles   map[int]int
	chunks  []chunk
	usage   *usage
	done    bool
	errData string
}

func parseStream(t testing.TB, events []string) streamResult {
	t.Helper()
	r := streamResult{texts: map[int]string{}, finish: map[int]string{}, roles: map[int]int{}}
	for i, ev := range events {
		if ev == "[DONE]" {
			require.Equal(t, len(events)-1, i, "[DONE] is the last event")
			r.done = true
			continue
		}
		var c chunk
		require.NoError(t, json.Unmarshal([]byte(ev), &c), ev)
		if c.Error != nil {
			r.errData = ev
			continue
		}
		r.chunks = append(r.chunks, c)
		if c.Usage != nil {
			require.Empty(t, c.Choices, "the usage chunk has no choices")
			r.usage = c.Usage
		}
		for _, ch := range c.Choices {
			require.Empty(t, r.finish[ch.Index], "chunk after choice %d finished: %s", ch.Index, ev)
			if ch.Delta != nil {
				if ch.Delta.Role != nil {
					require.Equal(t, "assistant", *ch.Delta.Role)
					r.roles[ch.Index]++
				}
				if ch.Delta.Content != nil {
					r.texts[ch.Index] += *ch.Delta.Content
				}
			}
			if ch.Text != nil {
				r.texts[ch.Index] += *ch.Text
			}
			if ch.FinishReason != nil {
				r.finish[ch.Index] = *ch.FinishReason
			}
		}
	}
	return r
}

// stream posts a streaming request and parses the answer, which must be a 200 event stream.
func stream(t testing.TB, url string, body any, header ...string) streamResult {
	t.Helper()
	status, h, b := post(t, url, body, header...)
	require.Equal(t, http.StatusOK, status, "%s", b)
	require.Equal(t, "text/event-stream", h.Get("Content-Type"))
	return parseStream(t, readSSE(t, bytes.NewReader(b)))
}
