package export

import (
	"math/rand/v2"
	"testing"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

// gpt2SmallConfig is GPT-2 small (124M) as ReadHF imports it: 12 layers, 12 heads, width
// 768, 1024 positions, linear biases, and GPT-2's 50,000 merges and 256 bytes after this
// repository's special tokens (GPT-2's <|endoftext|> becomes <|end|>).
func gpt2SmallConfig() model.Config {
	return model.Config{VocabSize: tokenizer.NumSpecial + 256 + 50000, BlockSize: 1024, Layers: 12, Heads: 12, Width: 768, LinearBias: true}
}

// BenchmarkGPT2SmallStep measures one training forward and backward pass of GPT-2 small on
// one sequence of 512 tokens (the optimizer step is not included):
//
//	go test -run '^$' -bench GPT2SmallStep -benchtime 3x ./export/
//
// It needs about 3 GB of memory.
func BenchmarkGPT2SmallStep(b *testing.B) {
	const block = 512
	cfg := gpt2SmallConfig()
	m, err := model.New(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	g, err := m.NewGraph(model.GraphConfig{Batch: 1, Block: block, Train: true})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range g.Tokens {
		g.Tokens[i] = int32(tokenizer.NumSpecial + rng.IntN(cfg.VocabSize-tokenizer.NumSpecial))
		g.Targets[i] = int32(tokenizer.NumSpecial + rng.IntN(cfg.VocabSize-tokenizer.NumSpecial))
		g.Weights[i] = 1
	}
	b.ResetTimer()
	for range b.N {
		m.ZeroGrad()
		if err := g.Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(block*b.N)/b.Elapsed().Seconds(), "tokens/s")
}
