package train_test

import (
	"math/rand/v2"
	"testing"

	"github.com/tinychat-go/tinychat/internal/blas"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/train"
)

// BenchmarkTrainingStep is one whole optimizer step at nanoGPT's shakespeare-char CPU shape
// (4 layers, 4 heads, width 128, vocab 65, block 64, batch 12): zero the gradients, forward and
// backward, clip to norm 1, AdamW. It reports ms/step, tokens/s, the achieved GFLOP/s (counting
// 6·params·tokens for the matrices plus the attention products) and allocations per step.
//
//	go test -run '^$' -bench TrainingStep -count 5 ./train/
//	TINYCHAT_BLAS=go go test -run '^$' -bench TrainingStep -count 5 ./train/
func BenchmarkTrainingStep(b *testing.B) {
	cfg := model.Config{VocabSize: 65, BlockSize: 64, Layers: 4, Heads: 4, Width: 128}
	const batch, block = 12, 64
	m, err := model.New(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	g, err := m.NewGraph(model.GraphConfig{Batch: batch, Block: block, Train: true})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range g.Tokens {
		g.Tokens[i], g.Targets[i], g.Weights[i] = int32(rng.IntN(65)), int32(rng.IntN(65)), 1
	}
	params := make([]*train.Param, len(m.Params))
	for i, p := range m.Params {
		params[i] = &train.Param{Name: p.Name, Shape: p.Shape, Data: p.Data, Grad: p.Grad}
	}
	opt, err := train.NewAdamW(params, train.AdamWConfig{Beta2: 0.99})
	if err != nil {
		b.Fatal(err)
	}
	step := func() {
		opt.ZeroGrad()
		if err := g.Run(); err != nil {
			b.Fatal(err)
		}
		train.ClipGradNorm(params, 1)
		opt.Step(1e-3)
	}
	step()
	b.Logf("BLAS: %s", blas.Name())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	tokens := float64(batch * block)
	// Matrices: 6 FLOPs per weight per token (forward 2, backward 4), LM head included via wte.
	// Attention: QKᵀ and P·V, 2·2·T·d per head per token forward, twice that backward.
	flops := 6*float64(cfg.NumParams()-cfg.BlockSize*cfg.Width)*tokens +
		3*4*float64(block*cfg.Width)*tokens*float64(cfg.Layers)
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(sec*1000, "ms/step")
	b.ReportMetric(tokens/sec, "tokens/s")
	b.ReportMetric(flops/sec/1e9, "GFLOP/s")
}
