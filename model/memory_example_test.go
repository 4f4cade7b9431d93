package model_test

import (
	"fmt"

	"github.com/tinychat-go/tinychat/model"
)

// Estimate a training graph's buffers before building it, with and without recomputing
// activations, and see what a shape that does not fit the budget gives.
func ExampleEstimateGraphMemory() {
	cfg := model.Config{VocabSize: 384, BlockSize: 96, Layers: 4, Heads: 4, Width: 128}
	gc := model.GraphConfig{Batch: 32, Block: 96, Train: true}
	fmt.Printf("%.1f MiB\n", float64(model.EstimateGraphMemory(cfg, gc))/(1<<20))
	recomputed := gc
	recomputed.Recompute = true
	fmt.Printf("%.1f MiB recomputing activations\n", float64(model.EstimateGraphMemory(cfg, recomputed))/(1<<20))

	m, _ := model.New(cfg, 1)
	old := model.MemoryBudget
	defer func() { model.MemoryBudget = old }()
	model.MemoryBudget = 64 << 20 // bytes
	_, err := m.NewGraph(gc)
	fmt.Println(err)
	// Output:
	// 132.3 MiB
	// 48.3 MiB recomputing activations
	// model: a graph of batch 32 × block 96 (width 128, vocab 384, 4 layers, 4 heads) needs about 132.3 MiB for its buffers, more than the 64.0 MiB available (model.MemoryBudget): lower the batch or block size, or the model's width or vocabulary, or recompute activations (GraphConfig.Recompute, train.Config.Recompute: about 48.3 MiB)
}

// The memory a graph's plan gives its buffers: with every buffer in memory of its own, shared
// by lifetime (the default), and with each block's activations recomputed in the backward pass.
func ExampleGraph_PlannedBytes() {
	m, _ := model.New(model.Config{VocabSize: 384, BlockSize: 96, Layers: 4, Heads: 4, Width: 128}, 1)
	for _, gc := range []model.GraphConfig{
		{Batch: 32, Block: 96, Train: true, Memory: model.SeparateBuffers},
		{Batch: 32, Block: 96, Train: true},
		{Batch: 32, Block: 96, Train: true, Recompute: true},
		{Batch: 32, Block: 96}, // evaluation: no backward pass
	} {
		g, _ := m.NewGraph(gc)
		fmt.Printf("%-16s train %-5v recompute %-5v %6.1f MiB\n", gc.Memory, gc.Train, gc.Recompute, float64(g.PlannedBytes())/(1<<20))
	}
	// Output:
	// separate buffers train true  recompute false  267.2 MiB
	// shared buffers   train true  recompute false  127.7 MiB
	// shared buffers   train true  recompute true    45.0 MiB
	// shared buffers   train false recompute false   13.5 MiB
}
