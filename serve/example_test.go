package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/tools"
)

// exampleLoopModel is a tiny chat checkpoint (over the tests' character tokenizer) that writes
// char forever (see loopModel, which is it for the tests).
func exampleLoopModel(name string, char rune) (Model, error) {
	tok, err := tokenizer.NewCharFromAlphabet([]rune(testAlphabet))
	if err != nil {
		return Model{}, err
	}
	m, err := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: 16, Layers: 1, Heads: 1, Width: 8, UntiedHead: true}, 1)
	if err != nil {
		return Model{}, err
	}
	ids, err := tok.Encode(string(char))
	if err != nil {
		return Model{}, err
	}
	// The final LayerNorm outputs its bias, (1, 0, …), whatever the input, and the head maps
	// it to char's logit alone.
	clear(m.Param("ln_f.weight").Data)
	bias := m.Param("ln_f.bias").Data
	clear(bias)
	bias[0] = 1
	head := m.Param("lm_head.weight").Data
	clear(head)
	head[ids[0]*8] = 12
	return Model{Name: name, Checkpoint: &model.Checkpoint{Stage: model.StageSFT, Model: m, Tokenizer: tok}}, nil
}

// The API over an httptest server; in a program, Serve or ListenAndServe runs it.
func ExampleServer_Handler() {
	m, err := exampleLoopModel("loop", 'a') // a chat model that writes "aaa…"
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := New(Config{}, m)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model": "loop", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "temperature": 0}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var r struct {
		Choices []struct {
			Message      struct{ Content string }
			FinishReason string `json:"finish_reason"`
		}
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	json.NewDecoder(resp.Body).Decode(&r)
	fmt.Println(resp.StatusCode, r.Choices[0].Message.Content, r.Choices[0].FinishReason, r.Usage.CompletionTokens)
	// Output: 200 aaaa length 4
}

// Serve shuts down gracefully when its context ends (here at once).
func ExampleServer_Serve() {
	m, err := exampleLoopModel("loop", 'a')
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := New(Config{}, m)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	ctx, stop := context.WithCancel(context.Background())
	stop()
	fmt.Println(s.ListenAndServe(ctx, "127.0.0.1:0"))
	// Output: <nil>
}

// A load test of 8 concurrent streaming clients.
func ExampleLoadTest() {
	m, err := exampleLoopModel("loop", 'a')
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := New(Config{}, m)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	rep, err := LoadTest(context.Background(), LoadConfig{URL: ts.URL, Clients: 8, Requests: 16, MaxTokens: 5, Prompts: []string{"hi"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Requests, rep.Errors, rep.CompletionTokens)
	// Output: 16 0 80
}

// LoadModel names a checkpoint after its file.
func ExampleLoadModel() {
	_, err := LoadModel("runs/tinychat/missing.safetensors")
	fmt.Println(err != nil)
	// Output: true
}

// A server that runs the tools its models call. A chat model whose tokenizer has the tool
// tokens runs the calculator when it writes a call; GET /v1/models says so, and such a request
// takes n = 1. (A reply reports each call and its result in "executed_tool_calls", beside the
// answer in "content": see the package documentation.)
func ExampleConfig_tools() {
	reg, err := tools.NewRegistry(tools.Calculator{})
	if err != nil {
		fmt.Println(err)
		return
	}
	// An untrained chat model, for the example: a trained one comes from LoadModel.
	tok, err := tokenizer.NewCharFromAlphabet([]rune("abcdefghijklmnopqrstuvwxyz0123456789 *"))
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: 32, Layers: 1, Heads: 1, Width: 8}, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	ck := &model.Checkpoint{Stage: model.StageSFT, Model: m, Tokenizer: tok}
	s, err := New(Config{Tools: &chat.ToolConfig{Tools: reg}}, Model{Name: "calc", Checkpoint: ck})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()

	resp, err := http.Get(ts.URL + "/v1/models/calc")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var info struct {
		ID    string
		Tools bool
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s runs tools: %v\n", info.ID, info.Tools)

	resp, err = http.Post(ts.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"messages": [{"role": "user", "content": "what is 3*28"}], "n": 2}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var e struct{ Error struct{ Message string } }
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.StatusCode, e.Error.Message)
	// Output:
	// calc runs tools: true
	// 400 n must be 1 when the server runs the model's tools (or send "tool_choice": "none"), got 2
}
