package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTanhAccuracy(t *testing.T) {
	for x := -12.0; x <= 12.0; x += 0.0007 {
		got, want := float64(Tanh(float32(x))), math.Tanh(x)
		require.InDelta(t, want, got, 5e-7, "tanh(%g)", x) // a few float32 ulp
	}
	require.Equal(t, float32(1), Tanh(100))
	require.Equal(t, float32(-1), Tanh(-100))
}

func TestExpAccuracy(t *testing.T) {
	for x := -87.0; x <= 88.0; x += 0.0013 {
		got, want := float64(Exp(float32(x))), math.Exp(float64(float32(x)))
		require.InEpsilon(t, want, got, 4e-7, "exp(%g)", x)
	}
	require.Equal(t, float32(0), Exp(-200))
	require.True(t, math.IsInf(float64(Exp(200)), 1))
	require.Equal(t, float32(1), Exp(0))
}

// TestSoftmaxLargeLogits checks the cross-entropy does not overflow on huge logits (each row
// starts from its own maximum, unlike tensor's SoftMax).
func TestSoftmaxLargeLogits(t *testing.T) {
	logits := []float32{1000, 999, 998, -1000, -1e30, 5e4}
	probs, nll := make([]float32, 6), make([]float32, 2)
	loss, wsum := CrossEntropyForward(probs, nll, logits, []int32{0, 0}, nil, 2, 3)
	want0 := math.Log(1 + math.Exp(-1) + math.Exp(-2))
	require.InDelta(t, want0, float64(nll[0]), 1e-5)
	require.InDelta(t, 5e4+1000, float64(nll[1]), 1e-1)
	require.Equal(t, 2.0, wsum)
	require.False(t, math.IsNaN(loss) || math.IsInf(loss, 0))
}

// TestAttentionForwardReference compares the fused attention with a direct float64
// implementation of softmax(causal(q·kᵀ/√d))·v.
func TestAttentionForwardReference(t *testing.T) {
	s := AttentionShape{Batch: 2, Block: 7, Heads: 3, HeadDim: 5}
	C := s.Width()
	rng := rand.New(rand.NewPCG(1, 2))
	qkv := make([]float32, s.Batch*s.Block*3*C)
	for i := range qkv {
		qkv[i] = float32(rng.NormFloat64())
	}
	y := make([]float32, s.Batch*s.Block*C)
	probs := make([]float32, s.ProbsLen())
	AttentionForward(y, probs, qkv, nil, s)
	at := func(b, t, part, h, i int) float64 { return float64(qkv[(b*s.Block+t)*3*C+part*C+h*s.HeadDim+i]) }
	for b := 0; b < s.Batch; b++ {
		for h := 0; h < s.Heads; h++ {
			for t1 := 0; t1 < s.Block; t1++ {
				w := make([]float64, t1+1)
				var mx, sum float64 = math.Inf(-1), 0
				for t2 := 0; t2 <= t1; t2++ {
					for i := 0; i < s.HeadDim; i++ {
						w[t2] += at(b, t1, 0, h, i) * at(b, t2, 1, h, i)
					}
					w[t2] /= math.Sqrt(float64(s.HeadDim))
					mx = math.Max(mx, w[t2])
				}
				for t2 := range w {
					w[t2] = math.Exp(w[t2] - mx)
					sum += w[t2]
				}
				for i := 0; i < s.HeadDim; i++ {
					var want float64
					for t2 := range w {
						want += w[t2] / sum * at(b, t2, 2, h, i)
					}
					require.InDelta(t, want, float64(y[(b*s.Block+t1)*C+h*s.HeadDim+i]), 1e-5)
				}
			}
		}
	}
}

// AttendRow against a float64 reference, on the assembly path (head widths that are multiples
// of 8, with and without a 32-column block) and the Go loops (any width, and AVX2 off), for
// one to many positions, padded row strides and large scores.
func TestAttendRowReference(t *testing.T) {
	for _, avx := range []bool{true, false} {
		setAVX2(t, avx)
		for _, hd := range [][2]int{{4, 32}, {2, 8}, {3, 16}, {1, 40}, {2, 64}, {3, 5}, {1, 1}} {
			heads, d := hd[0], hd[1]
			for _, n := range []int{1, 2, 3, 7, 31, 96} {
				w := heads * d
				ld := 3*w + n%3 // the engine's caches have ld = w; qkv rows 3w
				rng := rand.New(rand.NewPCG(uint64(n), uint64(w)))
				rnd := func(size int, sd float64) []float32 {
					x := make([]float32, size)
					for i := range x {
						x[i] = float32(rng.NormFloat64() * sd)
					}
					return x
				}
				q, k, v := rnd(w, 2), rnd((n-1)*ld+w, 2), rnd((n-1)*ld+w, 1)
				scale := float32(1 / math.Sqrt(float64(d)))
				out, scores := make([]float32, w), rnd(n+3, 1)
				AttendRow(out, q, k, v, scores, ld, n, heads, d, scale)
				for h := range heads {
					c := h * d
					s := make([]float64, n)
					mx := math.Inf(-1)
					for p := range n {
						for j := range d {
							s[p] += float64(q[c+j]) * float64(k[p*ld+c+j])
						}
						s[p] *= float64(scale)
						mx = math.Max(mx, s[p])
					}
					var sum float64
					for p := range s {
						s[p] = math.Exp(s[p] - mx)
						sum += s[p]
					}
					for j := range d {
						var want float64
						for p := range n {
							want += s[p] / sum * float64(v[p*ld+c+j])
						}
						require.InDelta(t, want, float64(out[c+j]), 2e-5, "avx2=%v heads=%d d=%d n=%d: out[%d]", avx, heads, d, n, c+j)
					}
				}
			}
		}
	}
}
