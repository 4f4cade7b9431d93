package model_test

import (
	"fmt"

	"github.com/tinychat-go/tinychat/model"
)

// Two trainings at once on a small machine: each runs its operations on one goroutine, and
// the results are the same bits as with the default split.
func ExampleSetThreads() {
	model.SetThreads(1)
	defer model.SetThreads(0) // back to one goroutine per core
	fmt.Println(model.Threads())
	// Output: 1
}

// Sample a batch of replies on a machine of one's own: the goroutines that take parts of each
// product stay awake between the decoding steps' operations, as they do through a graph's Run.
func ExampleKeepThreadsAwake() {
	m, err := model.New(model.Config{VocabSize: 50, BlockSize: 16, Layers: 1, Heads: 2, Width: 16}, 1)
	if err != nil {
		panic(err)
	}
	eng, err := model.NewEngine(m, 2)
	if err != nil {
		panic(err)
	}
	release := model.KeepThreadsAwake()
	defer release()
	for s, prompt := range [][]int32{{1, 2, 3}, {7, 8}} {
		if _, err := eng.Prefill(s, prompt); err != nil {
			panic(err)
		}
	}
	logits, err := eng.Step([]int32{4, 9}) // the next token of both
	if err != nil {
		panic(err)
	}
	fmt.Println(len(logits) == 2*m.Config.VocabSize, eng.Len(0), eng.Len(1))
	// Output: true 4 3
}
