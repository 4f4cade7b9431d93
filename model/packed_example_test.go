package model_test

import (
	"fmt"
	"math"
	"slices"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/model"
)

// Pack three sequences into rows of 8 tokens (data.Pack), run them on a packed graph of the
// rows they need (Graphs builds it), and read each sequence's log-probabilities where it
// landed: those of the sequence alone in a row (the same bits on the pure-Go GEMM; within
// float32 rounding on any other).
func ExampleModel_NewGraphs() {
	m, _ := model.New(model.Config{VocabSize: 16, BlockSize: 8, Layers: 1, Heads: 2, Width: 16}, 1)
	seqs := [][]int32{{1, 2, 3, 4, 5}, {6, 7}, {8, 9, 10}}
	lengths := []int{5, 2, 3}
	places, rows, _ := data.Pack(lengths, 8)
	fmt.Println("places", places, "rows", rows)

	graphs, _ := m.NewGraphs(model.GraphConfig{Batch: 3, Block: 8, Objective: model.LogProbs, Packed: true})
	g, _ := graphs.Rows(rows)
	for i, s := range seqs {
		at := places[i].Row*8 + places[i].Col
		copy(g.Tokens[at:], s)
		copy(g.Targets[at:], s[1:]) // each token predicts the next; the last predicts token 0
	}
	data.PackPositions(g.Positions, places, 8)
	fmt.Println("positions", g.Positions)
	_ = g.Run()
	packed := slices.Clone(g.Output) // a set's outputs hold until another of its graphs runs

	alone, _ := graphs.Rows(1)
	for i, s := range seqs {
		clear(alone.Tokens)
		clear(alone.Targets)
		copy(alone.Tokens, s)
		copy(alone.Targets, s[1:])
		for j := range alone.Positions {
			alone.Positions[j] = int32(j)
		}
		_ = alone.Run()
		at := places[i].Row*8 + places[i].Col
		worst := 0.0
		for j := range s {
			worst = max(worst, math.Abs(float64(alone.Output[j]-packed[at+j])))
		}
		fmt.Printf("sequence %d: log-probabilities packed as alone: %v\n", i, worst < 1e-6)
	}
	// Output:
	// places [{0 0} {1 0} {0 5}] rows 2
	// positions [0 1 2 3 4 0 1 2 0 1 2 3 4 5 6 7]
	// sequence 0: log-probabilities packed as alone: true
	// sequence 1: log-probabilities packed as alone: true
	// sequence 2: log-probabilities packed as alone: true
}
