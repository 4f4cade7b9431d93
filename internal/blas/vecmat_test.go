package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tinychat-go/tinychat/internal/racecheck"
	gblas "gonum.org/v1/gonum/blas"
)

// vecMatShapes cover the row kernel's column blocks (64, 16 and a zero-padded tail) and the
// decode products of the tinychat model.
var vecMatShapes = [][2]int{{1, 1}, {3, 5}, {7, 16}, {9, 17}, {33, 64}, {17, 100}, {128, 384}, {128, 128}, {128, 512}, {512, 128}, {65, 130}}

func TestVecMat(t *testing.T) {
	for _, avx := range []bool{true, false} {
		if avx && !haveAVX2FMA {
			continue
		}
		for _, s := range vecMatShapes {
			k, m := s[0], s[1]
			t.Run(fmt.Sprintf("avx2=%v/k%d_m%d", avx, k, m), func(t *testing.T) {
				withAVX2(t, avx)
				r := rand.New(rand.NewPCG(uint64(k), uint64(m)))
				x, w := randSlice(r, k), randSlice(r, k*m)
				y := randSlice(r, m+3) // stale values must be overwritten, the tail left alone
				tail := append([]float32(nil), y[m:]...)
				VecMat(x, w, k, m, y)
				want, scale := refSgemm(false, false, 1, m, k, 1, x, k, w, m, 0, make([]float32, m), m)
				for j := range m {
					if d := math.Abs(float64(y[j]) - want[j]); d > 1e-5*scale[j]+1e-6 {
						t.Fatalf("y[%d] = %v, want %v", j, y[j], want[j])
					}
				}
				if string(fmt.Sprint(y[m:])) != fmt.Sprint(tail) {
					t.Fatalf("VecMat wrote past y[:m]: %v, was %v", y[m:], tail)
				}
			})
		}
	}
}

// TestVecMatIsSgemmRow: a decode step of one sequence gives the same bits as that sequence's
// row in a pure-Go step of up to 5 (the row path).
func TestVecMatIsSgemmRow(t *testing.T) {
	skipWithoutAVX2(t)
	for _, s := range vecMatShapes {
		k, m := s[0], s[1]
		for _, rows := range []int{2, 3, 5} {
			r := rand.New(rand.NewPCG(uint64(k*rows), uint64(m)))
			a, w := randSlice(r, rows*k), randSlice(r, k*m)
			c := make([]float32, rows*m)
			sgemmGo(false, false, rows, m, k, 1, a, k, w, m, 0, c, m)
			y := make([]float32, m)
			for i := range rows {
				VecMat(a[i*k:][:k], w, k, m, y)
				for j := range m {
					if math.Float32bits(y[j]) != math.Float32bits(c[i*m+j]) {
						t.Fatalf("k%d m%d: row %d of %d, column %d: VecMat %v, Sgemm %v", k, m, i, rows, j, y[j], c[i*m+j])
					}
				}
			}
		}
	}
}

func TestVecMatNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	x, w, y := randSlice(r, 128), randSlice(r, 128*384), make([]float32, 384)
	if n := testing.AllocsPerRun(20, func() { VecMat(x, w, 128, 384, y) }); n != 0 {
		t.Fatalf("VecMat allocated %v times per call", n)
	}
}

func TestVecMatBadArgs(t *testing.T) {
	for _, c := range []struct {
		x, w, y []float32
		k, m    int
	}{
		{make([]float32, 3), make([]float32, 8), make([]float32, 2), 4, 2},
		{make([]float32, 4), make([]float32, 7), make([]float32, 2), 4, 2},
		{make([]float32, 4), make([]float32, 8), make([]float32, 1), 4, 2},
		{nil, nil, nil, -1, 0},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("VecMat(k=%d, m=%d, len(x)=%d, len(w)=%d, len(y)=%d) did not panic", c.k, c.m, len(c.x), len(c.w), len(c.y))
				}
			}()
			VecMat(c.x, c.w, c.k, c.m, c.y)
		}()
	}
	y := []float32{5, 6}
	VecMat(nil, nil, 0, 2, y)
	if y[0] != 0 || y[1] != 0 {
		t.Fatalf("k = 0 gives %v, want zeros", y)
	}
}

// BenchmarkVecMat compares a decode step's one-row products: VecMat, the native library's
// Sgemm of one row (on one thread) and gonum's Sgemv (what the engine called before VecMat):
//
//	go test -run '^$' -bench VecMat -count 5 ./internal/blas/
func BenchmarkVecMat(b *testing.B) {
	nb := selectBackend("native")
	if nb.native && nb.setLibThreads != nil {
		nb.setLibThreads(1)
	}
	for _, s := range [][2]int{{128, 384}, {128, 128}, {128, 512}, {512, 128}} {
		k, m := s[0], s[1]
		r := rand.New(rand.NewPCG(1, 2))
		x, w, y := randSlice(r, k), randSlice(r, k*m), make([]float32, m)
		b.Run(fmt.Sprintf("k%d_m%d", k, m), func(b *testing.B) {
			b.Run("vecmat", func(b *testing.B) {
				for b.Loop() {
					VecMat(x, w, k, m, y)
				}
			})
			if nb.native {
				b.Run("native", func(b *testing.B) {
					for b.Loop() {
						nb.raw(false, false, 1, m, k, 1, x, k, w, m, 0, y, m)
					}
				})
			}
			b.Run("gonum", func(b *testing.B) {
				for b.Loop() {
					l1.Sgemv(gblas.Trans, k, m, 1, w, m, x, 1, 0, y, 1)
				}
			})
		})
	}
}

// TestDecodeSgemm checks the decode products against float64 at every row count around the
// kernels' edges and the pure-Go/Sgemm boundary, and that GOMAXPROCS does not change a bit.
func TestDecodeSgemm(t *testing.T) {
	for _, s := range [][2]int{{128, 384}, {128, 128}, {512, 128}, {33, 100}, {7, 17}} {
		k, n := s[0], s[1]
		for _, m := range []int{1, 2, 5, 6, 7, 8, 12, 16, 17, 40} {
			r := rand.New(rand.NewPCG(uint64(m), uint64(k*n)))
			a, b := randSlice(r, m*k), randSlice(r, k*n)
			var got [2][]float32
			for i, procs := range []int{1, 3} {
				withProcs(t, procs)
				c := randSlice(r, m*n) // stale values must be overwritten
				DecodeSgemm(m, n, k, a, b, c)
				want, scale := refSgemm(false, false, m, n, k, 1, a, k, b, n, 0, make([]float32, m*n), n)
				for j := range c {
					if d := math.Abs(float64(c[j]) - want[j]); d > 1e-5*scale[j]+1e-6 {
						t.Fatalf("m%d k%d n%d: c[%d] = %v, want %v", m, k, n, j, c[j], want[j])
					}
				}
				got[i] = c
			}
			for j := range got[0] {
				if math.Float32bits(got[0][j]) != math.Float32bits(got[1][j]) {
					t.Fatalf("m%d k%d n%d: c[%d] is %v with GOMAXPROCS 1 and %v with 3", m, k, n, j, got[0][j], got[1][j])
				}
			}
		}
	}
}

func TestDecodeSgemmNoAllocs(t *testing.T) {
	if racecheck.Enabled() {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	r := rand.New(rand.NewPCG(2, 2))
	for _, m := range []int{1, 8} {
		a, b, c := randSlice(r, m*128), randSlice(r, 128*384), make([]float32, m*384)
		DecodeSgemm(m, 384, 128, a, b, c)
		if n := testing.AllocsPerRun(20, func() { DecodeSgemm(m, 384, 128, a, b, c) }); n != 0 {
			t.Fatalf("DecodeSgemm of %d rows allocated %v times per call", m, n)
		}
	}
}
