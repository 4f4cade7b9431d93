package model_test

import (
	"fmt"

	"github.com/tinychat-go/tinychat/model"
)

// Feed a new prompt to one sequence and the next token to another in one forward pass, as a
// server admitting a request between two decoding steps does.
func ExampleEngine_Feed() {
	m, err := model.New(model.Config{VocabSize: 50, BlockSize: 16, Layers: 1, Heads: 2, Width: 16}, 1)
	if err != nil {
		panic(err)
	}
	eng, err := model.NewEngine(m, 2)
	if err != nil {
		panic(err)
	}
	if _, err := eng.Prefill(0, []int32{11, 12, 13}); err != nil { // sequence 0 is decoding
		panic(err)
	}
	logits, err := eng.Feed([][]int32{{14}, {20, 21, 22, 23}}) // its next token; a new prompt
	if err != nil {
		panic(err)
	}
	V := m.Config.VocabSize
	fmt.Println(eng.Len(0), eng.Len(1), len(logits) == 2*V)
	// Output: 4 4 true
}

// Prefill a prompt once and copy it to a second sequence, so that two samples of it go on
// from the same cache.
func ExampleEngine_CopySequence() {
	m, err := model.New(model.Config{VocabSize: 50, BlockSize: 16, Layers: 1, Heads: 2, Width: 16}, 1)
	if err != nil {
		panic(err)
	}
	eng, err := model.NewEngine(m, 2)
	if err != nil {
		panic(err)
	}
	if _, err := eng.Prefill(0, []int32{11, 12, 13}); err != nil {
		panic(err)
	}
	if err := eng.CopySequence(1, 0); err != nil {
		panic(err)
	}
	logits, err := eng.Feed([][]int32{{30}, {31}}) // each sample's own next token
	if err != nil {
		panic(err)
	}
	V := m.Config.VocabSize
	fmt.Println(eng.Len(0), eng.Len(1), logits[0] != logits[V])
	// Output: 4 4 true
}
