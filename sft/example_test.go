package sft_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/sft"
)

// Fine-tune a pretrained model on dialogues (here: the assistant repeats the word it is asked
// to), straight from the pretraining result in memory, then ask it something it never saw.
func Example() {
	dir, _ := os.MkdirTemp("", "sft-example")
	defer os.RemoveAll(dir)
	words := testutil.Words(160, 1)
	base := testutil.ExamplePretrained(dir, words, 400) // a pretrain.Train result's Checkpoint

	cfg := sft.DefaultConfig()
	cfg.Steps, cfg.LR, cfg.FormatPrompts = 300, 1e-3, 20
	cfg.Out = filepath.Join(dir, "sft.safetensors")
	res, err := sft.Train(context.Background(), cfg, base, sft.Data{
		Train: testutil.RepeatConversations(words[:140]),
		Val:   testutil.RepeatConversations(words[140:]),
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s, %d steps, format rate %.1f\n", res.Checkpoint.Stage, res.Steps, res.Metrics["format_rate"])

	asst, err := chat.NewAssistant(res.Checkpoint.Model, res.Checkpoint.Tokenizer, 1)
	if err != nil {
		panic(err)
	}
	r, err := asst.Reply(context.Background(), testutil.RepeatPrompt(words[150]), model.SampleConfig{MaxNewTokens: 12})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Text == words[150], r.Ended)
	// Output:
	// sft, 300 steps, format rate 1.0
	// true true
}
