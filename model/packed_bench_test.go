package model

import (
	"math/rand/v2"
	"testing"

	"github.com/tinychat-go/tinychat/data"
)

// BenchmarkPackedStep times one forward and backward pass of tinychat's SFT batch — 16
// conversations at its model's shape (4 layers × 128, vocab 512, rows of 96) — one per padded
// row (unpacked) and packed into as few rows as they fit (data.Pack, a graph of that many rows
// from Graphs), over 64 batches whose lengths (16 to 69 tokens, mean 42.5) are like the SFT
// mix's (mean 42.8, median 40, 90th percentile 71). It reports the rows per step.
//
//	go test -run '^$' -bench PackedStep -count 3 ./model/
func BenchmarkPackedStep(b *testing.B) {
	const batch, block, vocab = 16, 96, 512
	cfg := Config{VocabSize: vocab, BlockSize: 192, Layers: 4, Heads: 4, Width: 128}
	rng := rand.New(rand.NewPCG(1, 2))
	batches := make([][]int, 64)
	for i := range batches {
		for range batch {
			batches[i] = append(batches[i], 16+rng.IntN(30)+rng.IntN(25))
		}
	}
	for _, packed := range []bool{false, true} {
		name := "unpacked"
		if packed {
			name = "packed"
		}
		b.Run(name, func(b *testing.B) {
			m, err := New(cfg, 1)
			if err != nil {
				b.Fatal(err)
			}
			set, err := m.NewGraphs(GraphConfig{Batch: batch, Block: block, Train: true, Packed: packed})
			if err != nil {
				b.Fatal(err)
			}
			rows := 0
			b.ResetTimer()
			for i := range b.N {
				lengths := batches[i%len(batches)]
				places, n := make([]data.Place, batch), batch
				for r := range places {
					places[r] = data.Place{Row: r}
				}
				if packed {
					if places, n, err = data.Pack(lengths, block); err != nil {
						b.Fatal(err)
					}
				}
				g, err := set.Rows(n)
				if err != nil {
					b.Fatal(err)
				}
				clear(g.Weights)
				for r, p := range places {
					at := p.Row*block + p.Col
					for j := range lengths[r] {
						g.Tokens[at+j], g.Targets[at+j], g.Weights[at+j] = int32((r+j)%vocab), int32((r*j)%vocab), 1
					}
				}
				if packed {
					data.PackPositions(g.Positions, places, block)
				}
				if err := g.Run(); err != nil {
					b.Fatal(err)
				}
				rows += n
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/step")
			b.ReportMetric(float64(rows)/float64(b.N), "rows/step")
		})
	}
}
