package chat_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/pretrain"
	"github.com/tinychat-go/tinychat/retrieval"
)

// Ask a chat model (an SFT or RLHF checkpoint) and stream its reply as it is generated.
func ExampleAssistant() {
	dir, _ := os.MkdirTemp("", "chat-example")
	defer os.RemoveAll(dir)
	words := testutil.Words(150, 1)
	ck := testutil.ExampleFineTuned(dir, words, 300) // or model.LoadStage(path, model.StageSFT, model.StageRLHF)

	asst, err := chat.NewAssistant(ck.Model, ck.Tokenizer, 1)
	if err != nil {
		panic(err)
	}
	var shown strings.Builder
	st := chat.NewStreamer(ck.Tokenizer, &shown)
	msgs := []data.Message{{Role: data.RoleUser, Content: "repeat " + words[7]}}
	r, err := asst.Reply(context.Background(), msgs, model.SampleConfig{
		MaxNewTokens: 12, // greedy (Temperature 0), stopping at <|end|>
		OnToken:      func(_ int, tok int32) bool { return st.Add(tok) },
	})
	if err != nil {
		panic(err)
	}
	if err := st.Finish(r.Text); err != nil {
		panic(err)
	}
	fmt.Println(r.Text == words[7], shown.String() == r.Text, r.Ended)
	// Output: true true true
}

// Continue a text with a base (pretrained) model, outside the chat template.
func ExampleAssistant_Complete() {
	dir, _ := os.MkdirTemp("", "complete-example")
	defer os.RemoveAll(dir)
	text := strings.Repeat("the cat sat on the mat. the dog sat on the log. ", 300)
	tok := tokenizer.NewChar(text)
	corpus, err := pretrain.NewCorpus([]data.Document{{Source: "pets", Text: text}}, tok, 0.1)
	if err != nil {
		panic(err)
	}
	cfg := pretrain.DefaultConfig()
	cfg.Model = model.Config{Layers: 1, Heads: 2, Width: 32, BlockSize: 32}
	cfg.Steps, cfg.Batch, cfg.LR, cfg.EvalIters = 150, 8, 3e-3, 5
	cfg.Out = filepath.Join(dir, "pretrain.safetensors")
	res, err := pretrain.Train(context.Background(), cfg, corpus)
	if err != nil {
		panic(err)
	}
	asst, err := chat.NewAssistant(res.Checkpoint.Model, res.Checkpoint.Tokenizer, 1)
	if err != nil {
		panic(err)
	}
	more, err := asst.Complete(context.Background(), "the dog sat on the", model.SampleConfig{MaxNewTokens: 5})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", more)
	// Output: " log."
}

// Put retrieved passages before a question as a context turn.
func ExampleContextTurn() {
	ps := []retrieval.Passage{{ID: 0, Doc: "news", Text: "anna moved to oakton."}, {ID: 1, Doc: "news", Text: "ben is a baker now."}}
	bm, err := retrieval.NewBM25(ps, 0, 0)
	if err != nil {
		panic(err)
	}
	hits, err := bm.Search(context.Background(), "where does anna live?", 1)
	if err != nil {
		panic(err)
	}
	turn, ok := chat.ContextTurn(hits)
	msgs := []data.Message{turn, {Role: data.RoleUser, Content: "where does anna live?"}}
	fmt.Println(ok, msgs[0].Role, msgs[0].Content)
	// Output: true context anna moved to oakton.
}

// Show a reply with tools as it streams: its text, and its calls apart.
func ExampleCallTokens() {
	toks := []int32{100, tokenizer.ToolCall, 101, 102, tokenizer.ToolCallEnd, 103}
	var ct chat.CallTokens
	for _, tok := range toks {
		switch ct.Next(tok) {
		case chat.TextToken:
			fmt.Print("text ")
		case chat.CallOpen:
			fmt.Print("[ ")
		case chat.CallToken:
			fmt.Print("call ")
		case chat.CallClose:
			fmt.Print("] ")
		}
	}
	fmt.Println(ct.InCall())
	// Output: text [ call call ] text false
}

// Answer many conversations on two engines at once (one per core), with the replies one call
// on one engine gives.
func ExampleLanes() {
	dir, _ := os.MkdirTemp("", "chat-example")
	defer os.RemoveAll(dir)
	words := testutil.Words(150, 1)
	ck := testutil.ExampleFineTuned(dir, words, 300)

	lanes := make(chat.Lanes, 2)
	for i := range lanes {
		var err error
		if lanes[i], err = chat.NewAssistant(ck.Model, ck.Tokenizer, 8); err != nil {
			panic(err)
		}
	}
	var convs [][]data.Message
	for _, w := range words[:6] {
		convs = append(convs, []data.Message{{Role: data.RoleUser, Content: "repeat " + w}})
	}
	sc := model.SampleConfig{MaxNewTokens: 12, Temperature: 1, Seed: 3, NumSamples: 2}
	replies, err := chat.Lanes(lanes).Replies(context.Background(), convs, sc)
	if err != nil {
		panic(err)
	}
	one, err := lanes[0].Replies(context.Background(), convs, sc)
	if err != nil {
		panic(err)
	}
	same := true
	for i := range replies {
		same = same && replies[i].Text == one[i].Text
	}
	fmt.Println(len(replies), "replies, the same as one call:", same)
	// Output: 12 replies, the same as one call: true
}
