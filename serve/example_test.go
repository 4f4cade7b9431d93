package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
