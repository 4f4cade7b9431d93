package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// softmaxBackwardCausalRows is softmaxBackwardCausal a row at a time in plain Go: the
// reference its tests compare with.
func softmaxBackwardCausalRows(dp, p []float32, T int) {
	for t := 0; t < T; t++ {
		pr, dr := p[t*T:t*T+t+1], dp[t*T:(t+1)*T]
		var dot float32
		for j, pv := range pr {
			dot += pv * dr[j]
		}
		for j, pv := range pr {
			dr[j] = pv * (dr[j] - dot)
		}
		clear(dr[t+1:])
	}
}

// TestSoftmaxBackwardCausal: the interleaved rows and the AVX2 element-wise pass give the
// row-at-a-time loop's bits — T below, at and past the four-row groups, and values that
// include zeros of both signs, subnormals, infinities and NaN (any NaN for a NaN: which
// operand's sign and payload the x86 instruction keeps depends on the compiled operand order) — and never read above the
// diagonal (NaN there would show in the sums) while zeroing it.
func TestSoftmaxBackwardCausal(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 9))
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-40, -3e-39, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for _, avx := range []bool{false, haveAVX2} {
		setAVX2(t, avx)
		for _, T := range []int{1, 2, 3, 4, 5, 7, 8, 9, 13, 17, 64, 191, 192} {
			for _, spec := range []bool{false, true} {
				p := make([]float32, T*T)
				dp := make([]float32, T*T)
				for i := range T {
					for j := range T {
						if j > i {
							p[i*T+j], dp[i*T+j] = 0, float32(math.NaN())
							continue
						}
						p[i*T+j], dp[i*T+j] = r.Float32(), float32(r.NormFloat64())
						if spec && r.IntN(8) == 0 {
							dp[i*T+j] = special[r.IntN(len(special))]
						}
						if spec && r.IntN(8) == 0 {
							p[i*T+j] = special[r.IntN(len(special))]
						}
					}
				}
				want := append([]float32(nil), dp...)
				softmaxBackwardCausalRows(want, p, T)
				got := append([]float32(nil), dp...)
				softmaxBackwardCausal(got, p, T)
				for i := range got {
					if want[i] != want[i] { // NaN: which operand's payload x86 keeps is the compiler's choice
						require.True(t, got[i] != got[i], "avx %v T=%d special %v element (%d, %d): %v, want NaN", avx, T, spec, i/T, i%T, got[i])
						continue
					}
					require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "avx %v T=%d special %v element (%d, %d)", avx, T, spec, i/T, i%T)
				}
			}
		}
	}
}

// BenchmarkSoftmaxBackwardCausal is one head's softmax backward at tinychat's block (T = 192):
// the interleaved rows with the AVX2 pass ("interleaved") against the row-at-a-time loop
// ("rows").
//
//	go test -run '^$' -bench SoftmaxBackwardCausal ./internal/kernels/
func BenchmarkSoftmaxBackwardCausal(b *testing.B) {
	const T = 192
	r := rand.New(rand.NewPCG(1, 2))
	p, dp0 := make([]float32, T*T), make([]float32, T*T)
	for i := range T {
		for j := range i + 1 {
			p[i*T+j], dp0[i*T+j] = r.Float32(), float32(r.NormFloat64())
		}
	}
	dp := make([]float32, T*T)
	for _, v := range []struct {
		name string
		f    func(dp, p []float32, T int)
	}{{"interleaved", softmaxBackwardCausal}, {"rows", softmaxBackwardCausalRows}} {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				copy(dp, dp0)
				v.f(dp, p, T)
			}
		})
	}
}
