package model

import (
	"math/rand/v2"
	"testing"

	"github.com/tinychat-go/tinychat/internal/blas"
)

// shakespeareConfig is nanoGPT's shakespeare-char CPU shape.
var shakespeareConfig = Config{VocabSize: 65, BlockSize: 64, Layers: 4, Heads: 4, Width: 128}

// BenchmarkTrainStep times one forward and backward pass (gradients accumulated into the
// parameters) at nanoGPT's shakespeare-char CPU shape: batch 12, block 64, 4 layers, 4 heads,
// width 128, vocab 65. Run: go test -bench TrainStep -benchtime 50x ./model/
func BenchmarkTrainStep(b *testing.B) {
	m, err := New(shakespeareConfig, 1)
	if err != nil {
		b.Fatal(err)
	}
	g, err := m.NewGraph(GraphConfig{Batch: 12, Block: 64, Train: true})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range g.Tokens {
		g.Tokens[i] = int32(rng.IntN(65))
		g.Targets[i] = int32(rng.IntN(65))
		g.Weights[i] = 1
	}
	b.Logf("BLAS: %s", blas.Name())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := g.Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/step")
	b.ReportMetric(float64(12*64*b.N)/b.Elapsed().Seconds(), "tokens/s")
}
