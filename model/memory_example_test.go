package model_test

import (
	"fmt"

	"github.com/tinychat-go/tinychat/model"
)

// Estimate a training graph's buffers before building it, and see what a shape that does not fit
// the budget gives.
func ExampleEstimateGraphMemory() {
	cfg := model.Config{VocabSize: 384, BlockSize: 96, Layers: 4, Heads: 4, Width: 128}
	gc := model.GraphConfig{Batch: 32, Block: 96, Train: true}
	fmt.Printf("%.1f MiB\n", float64(model.EstimateGraphMemory(cfg, gc))/(1<<20))

	m, _ := model.New(cfg, 1)
	old := model.MemoryBudget
	defer func() { model.MemoryBudget = old }()
	model.MemoryBudget = 64 << 20 // bytes
	_, err := m.NewGraph(gc)
	fmt.Println(err)
	// Output:
	// 302.2 MiB
	// model: a graph of batch 32 × block 96 (width 128, vocab 384, 4 layers, 4 heads) needs about 302.2 MiB for its buffers, more than the 64.0 MiB available (model.MemoryBudget): lower the batch or block size, or the model's width or vocabulary
}
