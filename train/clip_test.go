package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/tinychat-go/tinychat/internal/racecheck"
)

// clipParams returns parameters of uneven sizes, clipParallelMin gradient elements or more in
// all, with gradients of several scales.
func clipParams(seed uint64) []*Param {
	r := rand.New(rand.NewPCG(seed, 9))
	var ps []*Param
	for i, n := range []int{300000, 7, 65536, 1, 4099, 128 * 128, 50000, 3} {
		g := make([]float32, n)
		scale := math.Pow(10, float64(i%4-1))
		for k := range g {
			g[k] = float32(r.NormFloat64() * scale)
		}
		ps = append(ps, &Param{Name: fmt.Sprint("p", i), Shape: []int{n}, Data: make([]float32, n), Grad: g})
	}
	return ps
}

// TestClipGradNormParallelMatchesSerial: spread over 2, 3 or 8 goroutines, ClipGradNorm
// returns the serial loop's norm and leaves the serial loop's gradients, bit for bit, when it
// clips and when it does not, and leaves them alone on a NaN.
func TestClipGradNormParallelMatchesSerial(t *testing.T) {
	for _, procs := range []int{2, 3, 8} {
		for _, maxNorm := range []float64{1, 1e9, 0} {
			t.Run(fmt.Sprintf("procs=%d/max=%g", procs, maxNorm), func(t *testing.T) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				want, got := clipParams(1), clipParams(1)
				wn := clipGradNormSerial(want, maxNorm)
				gn := ClipGradNorm(got, maxNorm)
				if math.Float64bits(wn) != math.Float64bits(gn) {
					t.Fatalf("norm %v, serial %v", gn, wn)
				}
				for i := range want {
					for k := range want[i].Grad {
						if math.Float32bits(want[i].Grad[k]) != math.Float32bits(got[i].Grad[k]) {
							t.Fatalf("%s[%d] = %g, serial %g", want[i].Name, k, got[i].Grad[k], want[i].Grad[k])
						}
					}
				}
			})
		}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	ps := clipParams(2)
	ps[4].Grad[17] = float32(math.NaN())
	before := append([]float32(nil), ps[0].Grad...)
	if n := ClipGradNorm(ps, 1); !math.IsNaN(n) {
		t.Fatalf("norm %v with a NaN gradient", n)
	}
	for k := range before {
		if math.Float32bits(before[k]) != math.Float32bits(ps[0].Grad[k]) {
			t.Fatalf("a NaN norm changed %s[%d]", ps[0].Name, k)
		}
	}
}

// TestClipGradNormParallelNoAllocs: in steady state the parallel passes allocate nothing.
func TestClipGradNormParallelNoAllocs(t *testing.T) {
	if racecheck.Enabled() {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	ps := clipParams(3)
	ClipGradNorm(ps, 1)
	if a := testing.AllocsPerRun(20, func() { ClipGradNorm(ps, 1e-3) }); a != 0 {
		t.Errorf("%v allocations per call", a)
	}
}
