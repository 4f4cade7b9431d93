package chat_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/model"
)

// Four callers share one model; their sequences are decoded together.
func ExampleBatcher() {
	m, err := model.New(model.Config{VocabSize: 20, BlockSize: 16, Layers: 1, Heads: 1, Width: 8}, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	b, err := chat.NewBatcher(m, chat.BatcherConfig{MaxBatch: 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	lens := make([]int, 4)
	var wg sync.WaitGroup
	for i := range lens {
		wg.Go(func() {
			out, err := b.Generate(context.Background(), [][]int32{{1, int32(2 + i)}}, model.SampleConfig{MaxNewTokens: 5 + i, Temperature: 1, Seed: uint64(i)})
			if err == nil {
				lens[i] = len(out[0].Tokens)
			}
		})
	}
	wg.Wait()
	fmt.Println(lens)
	// Output: [5 6 7 8]
}
