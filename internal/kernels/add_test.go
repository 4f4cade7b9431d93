package kernels

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tinychat-go/tinychat/internal/racecheck"
)

// TestAdd: every element is x+y as Go rounds it, with AVX2 and without, at every tail length
// and in place, for ordinary and special values (NaN as any NaN: which operand's payload an
// x86 addition keeps follows its operand order); nothing past out's length is written.
func TestAdd(t *testing.T) {
	vals := []float32{1.5, -2.25, 3e38, 3e38, -0.0, float32(math.Copysign(0, -1)), 1e-45, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 0.1, 7}
	for _, avx := range []bool{false, true} {
		setAVX2(t, avx)
		for n := 0; n <= 40; n++ {
			x, y := make([]float32, n+1), make([]float32, n+1)
			for i := range n + 1 {
				x[i], y[i] = vals[i%len(vals)], vals[(3*i+1)%len(vals)]*float32(i+1)
			}
			out := make([]float32, n+1)
			out[n] = 42
			Add(out[:n], x, y)
			require.Equal(t, float32(42), out[n], "n=%d: wrote past the end", n)
			inPlace := append([]float32(nil), x...)
			Add(inPlace[:n], inPlace, y)
			for i := range n {
				want := x[i] + y[i]
				for _, got := range []float32{out[i], inPlace[i]} {
					if want != want {
						require.True(t, got != got, "avx %v n=%d i=%d: %v, want NaN", avx, n, i, got)
						continue
					}
					require.Equal(t, math.Float32bits(want), math.Float32bits(got), "avx %v n=%d i=%d", avx, n, i)
				}
			}
		}
	}
}

// BenchmarkAdd is one residual sum at tinychat's pretraining shape (1,536 rows of 128): Add
// against the serial Go loop the graph ran before ("loop").
//
//	go test -run '^$' -bench 'Add$' ./internal/kernels/
func BenchmarkAdd(b *testing.B) {
	const n = 1536 * 128
	x, y, out := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], y[i] = float32(i), float32(n-i)
	}
	b.Run("Add", func(b *testing.B) {
		for b.Loop() {
			Add(out, x, y)
		}
	})
	b.Run("loop", func(b *testing.B) {
		for b.Loop() {
			for i := range out {
				out[i] = x[i] + y[i]
			}
		}
	})
}

// TestAddNoAllocs: a warmed-up Add split over two workers allocates nothing.
func TestAddNoAllocs(t *testing.T) {
	if racecheck.Enabled() {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	t.Cleanup(func() { SetWorkers(0) })
	SetWorkers(2)
	n := 4 * addMinChunk
	x, y, out := make([]float32, n), make([]float32, n), make([]float32, n)
	Add(out, x, y)
	if allocs := testing.AllocsPerRun(50, func() { Add(out, x, y) }); allocs != 0 {
		t.Errorf("%v allocations per call", allocs)
	}
}
