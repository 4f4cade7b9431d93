package train_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/train"
)

// Train a model with a job of your own: the loop runs accumulation, clipping, AdamW and the
// schedule, and owns checkpoints, resuming and the metrics log. Every stage is built this way.
func ExampleRun() {
	dir, _ := os.MkdirTemp("", "train-example")
	defer os.RemoveAll(dir)
	text := strings.Repeat("a job of your own. ", 100)
	tok := tokenizer.NewChar(text)
	stream, err := data.TokenStream([]data.Document{{Source: "t", Text: text}}, tok, -1)
	if err != nil {
		panic(err)
	}
	m, err := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: 16, Layers: 1, Heads: 2, Width: 16}, 1)
	if err != nil {
		panic(err)
	}
	cfg := train.DefaultConfig()
	cfg.Steps, cfg.Batch, cfg.LR = 50, 4, 1e-2
	cfg.Out = filepath.Join(dir, "mine.safetensors")
	g, err := m.NewGraph(model.GraphConfig{Batch: cfg.Batch, Block: 16, Train: true})
	if err != nil {
		panic(err)
	}
	for i := range g.Weights {
		g.Weights[i] = 1
	}
	batches, err := data.NewBatcher(stream, cfg.Batch, 16, cfg.Seed)
	if err != nil {
		panic(err)
	}
	job := train.Job{
		Model: m, Tokenizer: tok, Stage: model.StagePretrain,
		MicroStep: func(context.Context) (float64, int, error) {
			batches.Next(g.Tokens, g.Targets)
			err := g.Run() // forward and backward: gradients land in m.Params[i].Grad
			return g.Loss, len(g.Tokens), err
		},
	}
	job.SaveState, job.LoadState = train.BinaryState(batches.State, batches.SetState)
	res, err := train.Run(context.Background(), cfg, job)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Steps, "steps; loss below 1.5:", res.Metrics["loss"] < 1.5)

	again, err := train.Run(context.Background(), cfg, job) // the same run again: nothing to do
	if err != nil {
		panic(err)
	}
	fmt.Println("skipped:", again.Skipped)
	// Output:
	// 50 steps; loss below 1.5: true
	// skipped: true
}
