package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDotRows: every row's product with q, against the float64 reference, on both paths, with
// a stride wider than the row; out past n is left alone.
func TestDotRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, avx := range []bool{true, false} {
		setAVX2(t, avx)
		for _, d := range []int{8, 128, 5, 1} {
			for _, n := range []int{1, 3, 384} {
				ldk := d + 3
				q := make([]float32, d)
				k := make([]float32, n*ldk)
				for i := range q {
					q[i] = float32(rng.NormFloat64())
				}
				for i := range k {
					k[i] = float32(rng.NormFloat64())
				}
				out := make([]float32, n+1)
				out[n] = 42
				DotRows(out, q, k, ldk, n, d)
				for p := range n {
					var want, size float64
					for j := range d {
						want += float64(q[j]) * float64(k[p*ldk+j])
						size += math.Abs(float64(q[j]) * float64(k[p*ldk+j]))
					}
					require.InDelta(t, want, float64(out[p]), 1e-6*size+1e-7, "avx %v d %d n %d row %d", avx, d, n, p)
				}
				require.Equal(t, float32(42), out[n])
			}
		}
	}
}
