package kernels

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkGELU is the forward GELU of one MLP at the shakespeare-char shape (768 rows × 512).
func BenchmarkGELU(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 768 * 512
	x, y, th := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	b.SetBytes(int64(4 * n))
	for b.Loop() {
		GELURange(y, th, x, 0, n)
	}
}
