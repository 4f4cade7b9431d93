package pretrain_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/pretrain"
)

// Pretrain a small GPT on a small text: the corpus, the default configuration with a few
// fields changed, and the run, which writes a checkpoint and returns it in memory too.
func Example() {
	dir, _ := os.MkdirTemp("", "pretrain-example")
	defer os.RemoveAll(dir)

	text := strings.Repeat("the cat sat on the mat. the dog sat on the log. ", 300)
	tok := tokenizer.NewChar(text)
	corpus, err := pretrain.NewCorpus([]data.Document{{Source: "pets", Text: text}}, tok, 0.1)
	if err != nil {
		panic(err)
	}
	cfg := pretrain.DefaultConfig()
	cfg.Model = model.Config{Layers: 1, Heads: 2, Width: 32, BlockSize: 32}
	cfg.Steps, cfg.Batch, cfg.LR, cfg.EvalIters = 100, 8, 3e-3, 5
	cfg.Out = filepath.Join(dir, "pretrain.safetensors")
	res, err := pretrain.Train(context.Background(), cfg, corpus)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Checkpoint.Stage, res.Steps, "steps; validation loss below 1.5 (from 2.9):", res.Metrics["val_loss"] < 1.5)
	// Output: pretrain 100 steps; validation loss below 1.5 (from 2.9): true
}
