package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/tools"
)

// The API over an httptest server; in a program, Serve or ListenAndServe runs it.
func ExampleServer_Handler() {
	s, err := New(Config{}, loopModel(&testing.T{}, "loop", 'a')) // a chat model that writes "aaa…"
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
	s, err := New(Config{}, loopModel(&testing.T{}, "loop", 'a'))
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
	s, err := New(Config{}, loopModel(&testing.T{}, "loop", 'a'))
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

// A server that runs the tools its models call: the reply reports each call and its result in
// "executed_tool_calls", beside the answer in "content".
func ExampleConfig_tools() {
	reg, err := tools.NewRegistry(tools.Calculator{})
	if err != nil {
		fmt.Println(err)
		return
	}
	// A chat model scripted to call "calc 3*28" and then answer "it is 84".
	m := scriptedModel(&testing.T{}, "calc", calcConversation...)
	s, err := New(Config{Tools: &chat.ToolConfig{Tools: reg}}, m)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"messages": [{"role": "user", "content": "what is 3*28"}], "temperature": 0}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var r struct {
		Choices []struct {
			Message struct {
				Content           string
				ExecutedToolCalls []struct {
					Function struct{ Name, Arguments string }
					Output   string
				} `json:"executed_tool_calls"`
			}
		}
	}
	json.NewDecoder(resp.Body).Decode(&r)
	msg := r.Choices[0].Message
	for _, c := range msg.ExecutedToolCalls {
		fmt.Printf("%s %s → %s\n", c.Function.Name, c.Function.Arguments, c.Output)
	}
	fmt.Println(msg.Content)
	// Output:
	// calc 3*28 → 84
	// it is 84
}
