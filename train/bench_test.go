package train_test

import (
	"os"
	"testing"
	"time"

	"github.com/tinychat-go/tinychat/internal/blas"
	"github.com/tinychat-go/tinychat/internal/stepbench"
	"github.com/tinychat-go/tinychat/internal/workpool"
)

// BenchmarkTrainingStep is one whole optimizer step at nanoGPT's shakespeare-char CPU shape
// (4 layers, 4 heads, width 128, vocab 65, block 64, batch 12): zero the gradients, forward and
// backward, clip to norm 1, AdamW. It reports ms/step, tokens/s, the achieved GFLOP/s (counting
// 6·params·tokens for the matrices plus the attention products) and allocations per step.
// TINYCHAT_STEP_SHAPE=layers,heads,width,block,batch picks another shape (the vocabulary stays
// 65), e.g. 4,4,128,192,8, the shape of examples/tinychat's pretraining step. Other shapes,
// beside PyTorch: go run ./examples/speed.
//
//	go test -run '^$' -bench TrainingStep -count 5 ./train/
//	TINYCHAT_BLAS=go go test -run '^$' -bench TrainingStep -count 5 ./train/
//	TINYCHAT_STEP_SHAPE=4,4,128,192,8 go test -run '^$' -bench TrainingStep -count 5 ./train/
func BenchmarkTrainingStep(b *testing.B) {
	shape, step := benchStep(b)
	if err := step(); err != nil {
		b.Fatal(err)
	}
	b.Logf("BLAS: %s; shape %s", blas.Name(), shape)
	flops, tokens := shape.FLOPs(), float64(shape.Tokens()) // outside the count of allocations
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := step(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(sec*1000, "ms/step")
	b.ReportMetric(tokens/sec, "tokens/s")
	b.ReportMetric(flops/sec/1e9, "GFLOP/s")
}

// BenchmarkTrainingStepSpin is BenchmarkTrainingStep with the worker pool's idle workers
// sleeping at once (spin=0s, as before session 19) and looking for work for the default time
// while a graph runs (spin=1ms); with -count each round runs both, one after the other. At
// the tinychat pretraining shape on 2 cores:
//
//	TINYCHAT_STEP_SHAPE=4,4,128,192,8 go test -run '^$' -bench TrainingStepSpin -count 7 ./train/
func BenchmarkTrainingStepSpin(b *testing.B) {
	_, step := benchStep(b)
	for _, spin := range []time.Duration{0, workpool.DefaultSpin} {
		b.Run("spin="+spin.String(), func(b *testing.B) {
			defer workpool.SetSpin(workpool.SetSpin(spin))
			if err := step(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := step(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1000, "ms/step")
		})
	}
}

// benchStep is the step of the shape TINYCHAT_STEP_SHAPE names (nanoGPT's by default).
func benchStep(b *testing.B) (stepbench.Shape, func() error) {
	shape := stepbench.NanoGPT
	if s := os.Getenv("TINYCHAT_STEP_SHAPE"); s != "" {
		var err error
		if shape, err = stepbench.ParseShape(s); err != nil {
			b.Fatalf("TINYCHAT_STEP_SHAPE: %v", err)
		}
	}
	step, err := stepbench.New(shape, 1)
	if err != nil {
		b.Fatal(err)
	}
	return shape, step
}
