package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchPaths runs fn as sub-benchmarks "scalar" (the Go loops) and, where the CPU has AVX2
// and FMA, "avx2" (the assembly kernels; for LayerNorm and GELU their 8-lane versions) and,
// where it has AVX-512, "avx512" (the 16-lane LayerNorm and GELU kernels; the others as in
// "avx2"), reporting ns per element for elems elements per call.
func benchPaths(b *testing.B, elems int, fn func()) {
	paths := []struct {
		name        string
		vec, avx512 bool
	}{{"scalar", false, false}, {"avx2", true, false}, {"avx512", true, true}}
	for _, p := range paths {
		if (p.vec && !haveAVX2) || (p.avx512 && !haveAVX512) {
			continue
		}
		b.Run(p.name, func(b *testing.B) {
			setAVX2(b, p.vec)
			old := useAVX512
			useAVX512 = p.avx512
			defer func() { useAVX512 = old }()
			for b.Loop() {
				fn()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(elems), "ns/elem")
		})
	}
}

// BenchmarkGELU is the forward GELU of one MLP at the shakespeare-char shape (768 rows × 512),
// on one goroutine, saving the tanh terms.
func BenchmarkGELU(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 768 * 512
	x, y, th := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	b.SetBytes(int64(4 * n))
	benchPaths(b, n, func() { GELURange(y, th, x, 0, n) })
}

// BenchmarkGELUBackward is the backward GELU of one MLP at the same shape, on one goroutine.
func BenchmarkGELUBackward(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 768 * 512
	x, y, th, dy, dx := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], dy[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	geluScalar(y, th, x)
	b.SetBytes(int64(4 * n))
	benchPaths(b, n, func() { geluBackwardRange(dx, dy, x, th, 0, n) })
}

// BenchmarkGELUBackwardRecomputed is BenchmarkGELUBackward with the tanh terms recomputed from
// x (th nil), as the model runs it.
func BenchmarkGELUBackwardRecomputed(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 768 * 512
	x, dy, dx := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], dy[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	b.SetBytes(int64(4 * n))
	benchPaths(b, n, func() { geluBackwardRange(dx, dy, x, nil, 0, n) })
}

// BenchmarkCausalSoftmax is the causal softmax of one attention head's T×T score matrix
// (T = 64 as in the training benchmark, and 256), on one goroutine; ns/elem counts the
// T(T+1)/2 visible scores. Each call first restores the scores (a copy of T² floats).
func BenchmarkCausalSoftmax(b *testing.B) {
	for _, T := range []int{64, 256} {
		b.Run(fmt.Sprintf("T=%d", T), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			src, p := make([]float32, T*T), make([]float32, T*T)
			for i := range src {
				src[i] = float32(rng.NormFloat64() * 2)
			}
			benchPaths(b, T*(T+1)/2, func() {
				copy(p, src)
				for t := 0; t < T; t++ {
					causalSoftmaxRow(p[t*T:(t+1)*T], t+1)
				}
			})
		})
	}
}

// BenchmarkSoftmaxRow is the cross-entropy softmax of 768 rows of logits at vocabulary sizes
// 65 (shakespeare-char) and 50304 (GPT-2; 8 rows), on one goroutine.
func BenchmarkSoftmaxRow(b *testing.B) {
	for _, c := range []struct {
		name    string
		rows, v int
	}{{"V=65", 768, 65}, {"V=50304", 8, 50304}} {
		b.Run(c.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			x, p := make([]float32, c.rows*c.v), make([]float32, c.rows*c.v)
			for i := range x {
				x[i] = float32(rng.NormFloat64() * 3)
			}
			benchPaths(b, c.rows*c.v, func() {
				for i := 0; i < c.rows; i++ {
					softmaxRow(p[i*c.v:(i+1)*c.v], x[i*c.v:(i+1)*c.v])
				}
			})
		})
	}
}

// BenchmarkExpSubSum is the exponential pass alone over a 4096-float row.
func BenchmarkExpSubSum(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 4096
	x, e := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(-rng.Float64() * 20)
	}
	benchPaths(b, n, func() { expSubSum(e, x, 0) })
}

// BenchmarkAttendRow times one decode row's attention at the tinychat shape (4 heads of 32,
// rows 128 floats apart) over 48 cached positions.
func BenchmarkAttendRow(b *testing.B) {
	const heads, d, n = 4, 32, 48
	w := heads * d
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 2*n*w+w)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	q, k, v := x[:w], x[w:w+n*w], x[w+n*w:]
	out, scores := make([]float32, w), make([]float32, n)
	for b.Loop() {
		AttendRow(out, q, k, v, scores, w, n, heads, d, 0.17)
	}
}

// BenchmarkGELUInStep is GELU's forward and backward passes as a training step runs them — one
// MLP at tinychat's pretraining shape (1,536 rows × 512), on the cores, with 64 MiB of other
// memory traffic before each pass (untimed) so that it reads its inputs from memory rather than
// from a cache — with the tanh terms saved by the forward pass ("saved") or recomputed by the
// backward one ("recomputed", what the model does), alternated iteration by iteration. It
// reports each one's µs per forward and backward pass and recomputed/saved.
//
//	go test -run '^$' -bench GELUInStep -count 5 ./internal/kernels/
func BenchmarkGELUInStep(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 1536 * 512
	x, y, th, dy, dx := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], dy[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	other := make([]float32, 16<<20)
	evict := func() {
		for i := range other {
			other[i]++
		}
	}
	var times [2]time.Duration // saved, recomputed
	for i := 0; b.Loop(); i++ {
		v := i % 2
		t := th
		if v == 1 {
			t = nil
		}
		b.StopTimer()
		evict()
		b.StartTimer()
		st := time.Now()
		GELUForward(y, t, x)
		times[v] += time.Since(st)
		b.StopTimer()
		evict()
		b.StartTimer()
		st = time.Now()
		GELUBackward(dx, dy, x, t)
		times[v] += time.Since(st)
	}
	half := float64(b.N) / 2
	b.ReportMetric(times[0].Seconds()*1e6/half, "saved-µs")
	b.ReportMetric(times[1].Seconds()*1e6/half, "recomputed-µs")
	b.ReportMetric(times[1].Seconds()/times[0].Seconds(), "recomputed/saved")
}

// BenchmarkSoftmaxRowExact is LogProbForward's softmax of one row of tinychat's 512 logits (and
// GPT-2's 50,257), on one goroutine: "scalar" is the Go loops, "avx2" the 8-lane maximum,
// exponentials and scaling with the sum in Go — the same bits.
func BenchmarkSoftmaxRowExact(b *testing.B) {
	for _, v := range []int{512, 50257} {
		b.Run(fmt.Sprintf("V=%d", v), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			x, p := make([]float32, v), make([]float32, v)
			for i := range x {
				x[i] = float32(rng.NormFloat64() * 3)
			}
			benchPaths(b, v, func() { softmaxRowExact(p, x) })
		})
	}
}
