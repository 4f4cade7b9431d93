package model_test

import (
	"fmt"

	"github.com/tinychat-go/tinychat/model"
)

// Read a precision from a flag and train in bf16 mixed precision: the graph's linear-layer
// products round their operands to bfloat16, the weights and their gradients stay float32.
// model.HasBF16 says whether the CPU has the bf16 dot products that make it fast.
func ExampleParsePrecision() {
	for _, flagValue := range []string{"fp32", "bf16"} {
		p, err := model.ParsePrecision(flagValue)
		if err != nil {
			fmt.Println(err)
			return
		}
		m, _ := model.New(model.Config{VocabSize: 64, BlockSize: 16, Layers: 2, Heads: 2, Width: 64}, 1)
		g, err := m.NewGraph(model.GraphConfig{Batch: 4, Block: 16, Train: true, Precision: p})
		if err != nil {
			fmt.Println(err)
			return
		}
		for i := range g.Tokens {
			g.Tokens[i], g.Targets[i], g.Weights[i] = int32(i*7%64), int32((i*7+1)%64), 1
		}
		if err := g.Run(); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: loss %.3f\n", p, g.Loss)
	}
	_, err := model.ParsePrecision("fp16")
	fmt.Println(err)
	// Output:
	// fp32: loss 4.192
	// bf16: loss 4.192
	// unknown precision "fp16" (want fp32 or bf16)
}
