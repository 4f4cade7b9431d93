package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// lnPath is one way LayerNorm runs: the AVX-512 kernels, the AVX2 kernels or the Go loops.
type lnPath struct {
	name         string
	avx512, avx2 bool
	available    bool
}

func lnPaths() []lnPath {
	return []lnPath{
		{"avx512", true, true, useAVX512},
		{"avx2", false, true, haveAVX2},
		{"go", false, false, true},
	}
}

// use selects the path for the rest of the test or benchmark.
func (p lnPath) use(t testing.TB) {
	old512, old2 := useAVX512, useAVX2
	useAVX512, useAVX2 = p.avx512, p.avx2
	t.Cleanup(func() { useAVX512, useAVX2 = old512, old2 })
}

// TestLayerNormVectorMatchesGo: the AVX-512 and the AVX2 LayerNorm kernels give the Go loops'
// bits — outputs, saved statistics and all three gradients — at row counts around the 16- and
// 8-row gathers and the lnMinRows cut, widths around the 16- and 8-column vectors and the 64-
// and 32-column dw blocks, and on rows far from zero mean, with a spread of magnitudes, or
// constant.
func TestLayerNormVectorMatchesGo(t *testing.T) {
	for _, path := range lnPaths()[:2] {
		t.Run(path.name, func(t *testing.T) {
			if !path.available {
				t.Skipf("skipped: this CPU cannot run the %s kernels, so they are not tested here", path.name)
			}
			testLayerNormMatchesGo(t, path)
		})
	}
}

func testLayerNormMatchesGo(t *testing.T, path lnPath) {
	shapes := [][2]int{{4, 1}, {5, 7}, {16, 16}, {17, 33}, {40, 128}, {33, 130}, {64, 64}, {20, 200}, {3, 128},
		{8, 8}, {9, 31}, {12, 40}, {7, 65}, {11, 96}}
	for si, sh := range shapes {
		rows, cols := sh[0], sh[1]
		for kind := range 3 {
			t.Run(fmt.Sprintf("%dx%d/kind%d", rows, cols, kind), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(si), uint64(kind)))
				val := func(i int) float32 {
					switch kind {
					case 1: // far from zero mean, magnitudes over many octaves
						return float32(100 + r.NormFloat64()*math.Pow(2, float64(r.IntN(30)-20)))
					case 2: // constant rows: zero variance
						return float32(i / cols)
					}
					return float32(r.NormFloat64())
				}
				x, dout := make([]float32, rows*cols), make([]float32, rows*cols)
				for i := range x {
					x[i], dout[i] = val(i), float32(r.NormFloat64())
				}
				w, b := make([]float32, cols), make([]float32, cols)
				for j := range w {
					w[j], b[j] = float32(1+0.1*r.NormFloat64()), float32(0.1*r.NormFloat64())
				}
				run := func(path lnPath) [][]float32 {
					defer func(v512, v2 bool) { useAVX512, useAVX2 = v512, v2 }(useAVX512, useAVX2)
					useAVX512, useAVX2 = path.avx512, path.avx2
					out, mean, rstd := make([]float32, rows*cols), make([]float32, rows), make([]float32, rows)
					LayerNormForward(out, mean, rstd, x, w, b, rows, cols)
					// A window of rows, as the inference engine asks for.
					part := make([]float32, rows*cols)
					LayerNormRows(part, nil, nil, x, w, b, cols, rows/3, rows)
					dx, dw, db := make([]float32, rows*cols), make([]float32, cols), make([]float32, cols)
					LayerNormBackward(dx, dw, db, dout, x, mean, rstd, w, rows, cols)
					return [][]float32{out, mean, rstd, part, dx, dw, db}
				}
				got, want := run(path), run(lnPaths()[2])
				for k, name := range []string{"out", "mean", "rstd", "rows window", "dx", "dw", "db"} {
					for i := range want[k] {
						if math.Float32bits(got[k][i]) != math.Float32bits(want[k][i]) {
							t.Fatalf("%s[%d] = %g, the Go loop gives %g", name, i, got[k][i], want[k][i])
						}
					}
				}
			})
		}
	}
}

// BenchmarkLayerNorm is LayerNorm forward and backward at tinychat's pretraining shape (1,536
// rows of 128), on the AVX-512 kernels, the AVX2 kernels and the Go loops (those this CPU can
// run).
//
//	go test -run '^$' -bench LayerNorm ./internal/kernels/
func BenchmarkLayerNorm(b *testing.B) {
	const rows, cols = 1536, 128
	r := rand.New(rand.NewPCG(1, 2))
	x, dout, out, dx := make([]float32, rows*cols), make([]float32, rows*cols), make([]float32, rows*cols), make([]float32, rows*cols)
	for i := range x {
		x[i], dout[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	w, bias, dw, db := make([]float32, cols), make([]float32, cols), make([]float32, cols), make([]float32, cols)
	for j := range w {
		w[j] = 1
	}
	mean, rstd := make([]float32, rows), make([]float32, rows)
	for _, path := range lnPaths() {
		if !path.available {
			continue
		}
		b.Run(path.name+"/forward", func(b *testing.B) {
			path.use(b)
			for range b.N {
				LayerNormForward(out, mean, rstd, x, w, bias, rows, cols)
			}
		})
		b.Run(path.name+"/backward", func(b *testing.B) {
			path.use(b)
			for range b.N {
				LayerNormBackward(dx, dw, db, dout, x, mean, rstd, w, rows, cols)
			}
		})
		b.Run(path.name+"/decode16", func(b *testing.B) { // a decode step of 16 sequences
			path.use(b)
			for range b.N {
				LayerNormRows(out, nil, nil, x, w, bias, cols, 0, 16)
			}
		})
	}
}
