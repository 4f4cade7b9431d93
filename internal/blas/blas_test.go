package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tinychat-go/tinychat/internal/racecheck"
	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// refSgemm is C = alpha*op(A)*op(B) + beta*C in float64, with a per-element
// error scale (the float64 sum of magnitudes) for the tolerance.
func refSgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (want, scale []float64) {
	at := func(i, l int) float64 {
		if transA {
			return float64(a[l*lda+i])
		}
		return float64(a[i*lda+l])
	}
	bt := func(l, j int) float64 {
		if transB {
			return float64(b[j*ldb+l])
		}
		return float64(b[l*ldb+j])
	}
	want = make([]float64, len(c))
	scale = make([]float64, len(c))
	for i := range c {
		want[i] = float64(c[i]) // padding must stay untouched
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, mag float64
			for l := 0; l < k; l++ {
				p := at(i, l) * bt(l, j)
				s += p
				mag += math.Abs(p)
			}
			idx := i*ldc + j
			cv := float64(c[idx])
			if beta == 0 {
				cv = 0 // C is output only: NaN must not propagate
			}
			want[idx] = float64(alpha)*s + float64(beta)*cv
			scale[idx] = math.Abs(float64(alpha))*mag + math.Abs(float64(beta)*cv)
		}
	}
	return want, scale
}

func randSlice(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = r.Float32()*2 - 1
	}
	return x
}

type gemmCase struct {
	m, n, k       int
	padA, padB    int // extra leading-dimension padding
	padC          int
	alpha, beta   float32
	nanC          bool // fill C with NaN (only meaningful with beta == 0)
	transA, trans bool
}

func gemmCases() []gemmCase {
	var cs []gemmCase
	dims := []struct{ m, n, k, padA, padB, padC int }{
		{1, 1, 1, 0, 0, 0},
		{7, 5, 3, 2, 3, 4},
		{33, 17, 65, 1, 5, 3},
		{1, 65, 128, 0, 7, 0},
		{130, 67, 129, 3, 0, 1}, // several 64-blocks: exercises parallel paths
	}
	for _, d := range dims {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, ab := range []struct {
					alpha, beta float32
					nan         bool
				}{{0.7, -1.3, false}, {-1.25, 0, true}, {1, 1, false}} {
					cs = append(cs, gemmCase{d.m, d.n, d.k, d.padA, d.padB, d.padC, ab.alpha, ab.beta, ab.nan, tA, tB})
				}
			}
		}
	}
	return cs
}

func (tc gemmCase) String() string {
	t := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("%s%s_m%d_n%d_k%d_alpha%g_beta%g", t(tc.transA), t(tc.trans), tc.m, tc.n, tc.k, tc.alpha, tc.beta)
}

// checkGemm runs f on random data for tc and compares with refSgemm.
func checkGemm(t *testing.T, f sgemmFunc, tc gemmCase, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 42))
	aRows, aCols := tc.m, tc.k
	if tc.transA {
		aRows, aCols = tc.k, tc.m
	}
	bRows, bCols := tc.k, tc.n
	if tc.trans {
		bRows, bCols = tc.n, tc.k
	}
	lda, ldb, ldc := aCols+tc.padA, bCols+tc.padB, tc.n+tc.padC
	a := randSlice(r, aRows*lda)
	b := randSlice(r, bRows*ldb)
	c := randSlice(r, tc.m*ldc)
	if tc.nanC {
		for i := 0; i < tc.m; i++ {
			for j := 0; j < tc.n; j++ {
				c[i*ldc+j] = float32(math.NaN())
			}
		}
	}
	aCopy, bCopy := append([]float32(nil), a...), append([]float32(nil), b...)
	want, scale := refSgemm(tc.transA, tc.trans, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)

	sgemmWith(f, tc.transA, tc.trans, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)

	require.Equal(t, aCopy, a, "A modified")
	require.Equal(t, bCopy, b, "B modified")
	bad := 0
	for i := range c {
		tol := 1e-4*scale[i] + 1e-6
		if got := float64(c[i]); math.IsNaN(got) || math.Abs(got-want[i]) > tol {
			if bad < 5 {
				t.Errorf("C[%d] (row %d col %d) = %v, want %v (tol %.3g)", i, i/ldc, i%ldc, got, want[i], tol)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d elements wrong", bad, len(c))
	}
}

// nativeOrSkip returns a native backend or skips the test.
func nativeOrSkip(t testing.TB) *backend {
	t.Helper()
	b := selectBackend("native")
	if !b.native {
		t.Skipf("no native BLAS library (e.g. apt install libopenblas0) — native path not tested: %s", b.name)
	}
	return b
}

func TestSgemmPureGo(t *testing.T) {
	for i, tc := range gemmCases() {
		t.Run(tc.String(), func(t *testing.T) { checkGemm(t, sgemmGo, tc, uint64(i)) })
	}
}

func TestSgemmGonumReference(t *testing.T) {
	for i, tc := range gemmCases() {
		t.Run(tc.String(), func(t *testing.T) { checkGemm(t, sgemmGonum, tc, uint64(i)) })
	}
}

// The pure-Go path must also be right when it runs serially and when it is
// split across more goroutines than this machine has cores.
func TestSgemmPureGoProcs(t *testing.T) {
	old := gomaxprocs
	defer func() { gomaxprocs = old }()
	for _, p := range []int{1, 3, 8} {
		gomaxprocs = func() int { return p }
		for i, tc := range gemmCases() {
			if 2*tc.m*tc.n*tc.k < parMinFlops {
				tc.m, tc.n, tc.k = tc.m*9, tc.n*5, tc.k*3 // large enough to be split
			}
			t.Run(fmt.Sprintf("procs%d/%s", p, tc), func(t *testing.T) { checkGemm(t, sgemmGo, tc, uint64(i)) })
		}
	}
}

func TestSgemmNative(t *testing.T) {
	b := nativeOrSkip(t)
	t.Log("native backend:", b.name)
	if b.setLibThreads != nil {
		defer b.setLibThreads(1) // the selected backend's library: restore one thread
	}
	// Large enough for OpenBLAS to actually use several threads
	// (it stays single-threaded below m·n·k = 262144) and to be split.
	big := []gemmCase{
		{m: 256, n: 65, k: 128, padA: 1, padB: 2, padC: 3, alpha: 0.5, beta: 0.25},
		{m: 128, n: 200, k: 384, alpha: -1, beta: 0, nanC: true},
		{m: 9, n: 300, k: 200, padC: 5, alpha: 1, beta: 1}, // split by columns
	}
	cases := gemmCases()
	for _, tc := range big {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				tc.transA, tc.trans = tA, tB
				cases = append(cases, tc)
			}
		}
	}
	for _, threads := range []int{1, 2} {
		if b.setLibThreads != nil {
			b.setLibThreads(threads)
		} else if threads > 1 {
			continue
		}
		for i, tc := range cases {
			t.Run(fmt.Sprintf("lib%d/%s", threads, tc), func(t *testing.T) { checkGemm(t, b.raw, tc, uint64(i)) })
		}
	}
	if b.setLibThreads != nil {
		b.setLibThreads(1)
	}
	for _, parts := range []int{2, 3} {
		split := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, bm []float32, ldb int, beta float32, c []float32, ldc int) {
			splitSgemm(parts, b.raw, transA, transB, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc)
		}
		for i, tc := range cases {
			t.Run(fmt.Sprintf("split%d/%s", parts, tc), func(t *testing.T) { checkGemm(t, split, tc, uint64(i)) })
		}
	}
}

// splitSgemm on the pure-Go reference: every way of cutting rows and columns.
func TestSplitSgemm(t *testing.T) {
	cases := []gemmCase{
		{m: 256, n: 65, k: 128, padA: 1, padB: 2, padC: 3, alpha: 0.5, beta: 0.25},
		{m: 130, n: 67, k: 129, padA: 3, padC: 1, alpha: -1, beta: 0, nanC: true},
		{m: 9, n: 300, k: 200, padC: 5, alpha: 1, beta: 1},
		{m: 3, n: 1000, k: 300, alpha: 1, beta: 0},
		{m: 20, n: 20, k: 2000, alpha: 1, beta: 0.5},
	}
	for _, parts := range []int{1, 2, 3, 5, 40} {
		split := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
			splitSgemm(parts, sgemmGonum, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		}
		for i, tc := range cases {
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					tc.transA, tc.trans = tA, tB
					t.Run(fmt.Sprintf("parts%d/%s", parts, tc), func(t *testing.T) { checkGemm(t, split, tc, uint64(i)) })
				}
			}
		}
	}
}

// Split products from many goroutines at once share the workers without
// deadlock and stay correct.
func TestSplitSgemmConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	m, n, k := 200, 96, 64
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	want := make([]float32, m*n)
	sgemmGonum(false, false, m, n, k, 1, a, k, b, n, 0, want, n)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := make([]float32, m*n)
			for rep := 0; rep < 20; rep++ {
				splitSgemm(3, sgemmGonum, false, false, m, n, k, 1, a, k, b, n, 0, c, n)
				for i := range c {
					if math.Abs(float64(c[i]-want[i])) > 1e-4 {
						errs <- fmt.Sprintf("c[%d] = %g, want %g", i, c[i], want[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// The native path allocates nothing per call in steady state (purego's
// reflective binding allocated about a dozen objects per call).
func TestSgemmNativeNoAllocs(t *testing.T) {
	b := nativeOrSkip(t)
	if racecheck.Enabled() {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	r := rand.New(rand.NewPCG(1, 1))
	m, n, k := 768, 128, 128
	a, bm, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	for _, parts := range []int{1, 2} {
		allocs := testing.AllocsPerRun(50, func() {
			splitSgemm(parts, b.raw, false, true, m, n, k, 1, a, k, bm, k, 0, c, n)
		})
		assert.Zero(t, allocs, "parts=%d", parts)
	}
}

func TestSgemmSelected(t *testing.T) {
	t.Log("selected backend:", Name())
	f := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
	for i, tc := range gemmCases() {
		t.Run(tc.String(), func(t *testing.T) { checkGemm(t, f, tc, uint64(i)) })
	}
}

// Both paths must agree with each other on a training-sized problem too.
func TestSgemmNativeMatchesPureGo(t *testing.T) {
	nb := nativeOrSkip(t)
	r := rand.New(rand.NewPCG(7, 7))
	m, n, k := 768, 65, 128
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	c1, c2 := make([]float32, m*n), make([]float32, m*n)
	sgemmWith(nb.sgemm, false, false, m, n, k, 1, a, k, b, n, 0, c1, n)
	sgemmWith(sgemmGo, false, false, m, n, k, 1, a, k, b, n, 0, c2, n)
	assert.InDeltaSlice(t, c2, c1, 1e-4)
}

func TestSgemmDegenerate(t *testing.T) {
	for _, f := range []struct {
		name string
		fn   func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	}{{"selected", Sgemm}, {"purego", func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		sgemmWith(sgemmGo, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}}} {
		t.Run(f.name, func(t *testing.T) {
			// m == 0 / n == 0: nothing touched, empty slices allowed.
			f.fn(false, false, 0, 3, 2, 1, nil, 2, make([]float32, 6), 3, 0, nil, 3)
			f.fn(true, true, 2, 0, 2, 1, make([]float32, 4), 2, nil, 2, 0, nil, 1)
			// k == 0: C = beta*C, A and B may be empty.
			c := []float32{1, 2, 3, 4}
			f.fn(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 2, c, 2)
			assert.Equal(t, []float32{2, 4, 6, 8}, c)
			// alpha == 0, beta == 0: C = 0 even if it held NaN.
			c = []float32{float32(math.NaN()), 1, 2, 3}
			f.fn(false, false, 2, 2, 1, 0, []float32{1, 1}, 1, []float32{1, 1}, 2, 0, c, 2)
			assert.Equal(t, []float32{0, 0, 0, 0}, c)
		})
	}
}

func TestSgemmPanicsOnBadArgs(t *testing.T) {
	a, b, c := make([]float32, 6), make([]float32, 6), make([]float32, 4)
	assert.NotPanics(t, func() { Sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2) })
	assert.PanicsWithValue(t, "blas: A too short: len 5 < 6 for 2×3 with stride 3", func() { Sgemm(false, false, 2, 2, 3, 1, a[:5], 3, b, 2, 0, c, 2) })
	assert.Panics(t, func() { Sgemm(false, false, 2, 2, 3, 1, a, 3, b[:5], 2, 0, c, 2) })
	assert.Panics(t, func() { Sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c[:3], 2) })
	assert.Panics(t, func() { Sgemm(false, false, 2, 2, 3, 1, a, 2, b, 2, 0, c, 2) }) // lda < k
	assert.Panics(t, func() { Sgemm(true, false, 2, 2, 3, 1, a, 1, b, 2, 0, c, 2) })  // lda < m
	assert.Panics(t, func() { Sgemm(false, true, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2) })  // ldb < k
	assert.Panics(t, func() { Sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 1) }) // ldc < n
	assert.Panics(t, func() { Sgemm(false, false, -1, 2, 3, 1, a, 3, b, 2, 0, c, 2) })
}

// withAutoPrefersPureGo sets what auto prefers for the duration of the test.
func withAutoPrefersPureGo(t *testing.T, pureGo bool) {
	old := autoPrefersPureGo
	autoPrefersPureGo = func() bool { return pureGo }
	t.Cleanup(func() { autoPrefersPureGo = old })
}

func TestSelectBackend(t *testing.T) {
	withAutoPrefersPureGo(t, false)
	for _, env := range []string{"go", "GO", " gonum "} {
		b := selectBackend(env)
		assert.False(t, b.native, env)
		assert.Equal(t, pureGoName(), b.name, env)
		assert.Nil(t, b.raw, env)
	}

	b := selectBackend("/nonexistent/libnotblas.so")
	assert.False(t, b.native)
	assert.True(t, strings.HasPrefix(b.name, pureGoName()+" [TINYCHAT_BLAS=/nonexistent/libnotblas.so requested but unavailable: "), b.name)
	assert.Contains(t, b.name, "/nonexistent/libnotblas.so")

	auto := selectBackend("")
	assert.Equal(t, auto.name, selectBackend("auto").name)
	native := selectBackend("native")
	openblas := selectBackend("openblas")
	assert.Equal(t, native.native, auto.native, "auto must pick native when it loads")
	if !native.native {
		assert.Equal(t, pureGoName(), auto.name)
		assert.Contains(t, native.name, "TINYCHAT_BLAS=native requested but unavailable")
		assert.Contains(t, openblas.name, "TINYCHAT_BLAS=openblas requested but unavailable")
		t.Skip("no native BLAS library installed; native selection not tested further")
	}
	assert.Equal(t, auto.name, native.name)
	assert.NotContains(t, native.name, "pure Go")
	if openblas.native {
		assert.True(t, strings.HasPrefix(openblas.name, "openblas ("), openblas.name)
		assert.NotNil(t, openblas.setLibThreads)
	}

	bogus := selectBackend("bogus")
	assert.Equal(t, auto.native, bogus.native)
	assert.Contains(t, bogus.name, `unknown TINYCHAT_BLAS="bogus" ignored`)
}

// On CPUs where the pure-Go kernels are the faster (AVX2 without AVX-512), auto picks them
// even when a native library loads; asking for a native library still gets one.
func TestSelectBackendAutoPrefersPureGo(t *testing.T) {
	withAutoPrefersPureGo(t, true)
	auto := selectBackend("")
	assert.False(t, auto.native)
	assert.Equal(t, pureGoName()+" [auto: faster than a native BLAS on CPUs with AVX2; TINYCHAT_BLAS=native selects one]", auto.name)
	assert.Equal(t, auto.name, selectBackend("auto").name)
	assert.Equal(t, auto.name+` [unknown TINYCHAT_BLAS="bogus" ignored]`, selectBackend("bogus").name)
	assert.Equal(t, pureGoName(), selectBackend("go").name)
	if native := selectBackend("native"); native.native {
		assert.NotContains(t, native.name, "pure Go")
	} else {
		t.Log("no native BLAS library installed; TINYCHAT_BLAS=native falls back:", native.name)
	}
	c := []float32{0}
	sgemmWith(auto.sgemm, false, false, 1, 1, 2, 1, []float32{2, 3}, 2, []float32{4, 5}, 1, 0, c, 1)
	assert.Equal(t, []float32{23}, c)
}

// Selection when no native library can be found, whatever is installed here.
func TestSelectBackendWithoutNative(t *testing.T) {
	withAutoPrefersPureGo(t, false)
	old := candidatesFor
	defer func() { candidatesFor = old }()
	candidatesFor = func(string) []candidate { return []candidate{pathCandidate("/nonexistent/libopenblas.so.0")} }

	assert.Equal(t, pureGoName(), selectBackend("").name)
	assert.Equal(t, pureGoName(), selectBackend("go").name)
	for _, env := range []string{"native", "openblas", "accelerate"} {
		b := selectBackend(env)
		assert.False(t, b.native)
		assert.True(t, strings.HasPrefix(b.name, pureGoName()+" [TINYCHAT_BLAS="+env+" requested but unavailable: "), b.name)
		assert.Contains(t, b.name, "/nonexistent/libopenblas.so.0", "the reason names the library tried")
		assert.NotContains(t, b.name, "\n")
	}
	assert.Equal(t, pureGoName()+` [unknown TINYCHAT_BLAS="bogus" ignored]`, selectBackend("bogus").name)
	// The fallback really computes.
	c := []float32{0}
	sgemmWith(selectBackend("native").sgemm, false, false, 1, 1, 2, 1, []float32{2, 3}, 2, []float32{4, 5}, 1, 0, c, 1)
	assert.Equal(t, []float32{23}, c)
}

func TestNameAndIsNative(t *testing.T) {
	assert.NotEmpty(t, Name())
	assert.Equal(t, IsNative(), !strings.Contains(Name(), "pure Go"))
}

func TestSetThreads(t *testing.T) {
	b := current()
	switch {
	case !b.native:
		assert.Equal(t, min(gomaxprocs(), maxParts), Threads(), "default: one part per core")
	case !userSetThreads() && b.setLibThreads != nil:
		assert.Equal(t, gomaxprocs(), Threads(), "default: one part per core")
		if b.libThreads != nil {
			assert.Equal(t, 1, b.libThreads(), "the library runs on one thread")
		}
	}
	initial := Threads()
	defer SetThreads(0)
	SetThreads(1)
	assert.Equal(t, 1, Threads())
	SetThreads(3)
	assert.Equal(t, 3, Threads())
	SetThreads(1000)
	assert.Equal(t, maxParts, Threads())
	SetThreads(0)
	assert.Equal(t, initial, Threads())
}

func TestGorgonia(t *testing.T) {
	impl := Gorgonia()
	var _ tensor.BLAS = impl

	// Direct Sgemm through the gonum-style interface.
	r := rand.New(rand.NewPCG(3, 3))
	m, n, k := 9, 11, 13
	a, b := randSlice(r, k*m), randSlice(r, n*k) // stored transposed
	c1, c2 := randSlice(r, m*n), make([]float32, m*n)
	copy(c2, c1)
	impl.Sgemm(gblas.Trans, gblas.Trans, m, n, k, 0.5, a, m, b, k, 2, c1, n)
	gonum.Implementation{}.Sgemm(gblas.Trans, gblas.Trans, m, n, k, 0.5, a, m, b, k, 2, c2, n)
	assert.InDeltaSlice(t, c2, c1, 1e-4)
	assert.Panics(t, func() { impl.Sgemm(gblas.Transpose('x'), gblas.NoTrans, 1, 1, 1, 1, a, 1, b, 1, 0, c1, 1) })

	// Through a gorgonia graph.
	old := gorgonia.WhichBLAS()
	gorgonia.Use(impl)
	defer gorgonia.Use(old)
	g := gorgonia.NewGraph()
	xv := tensor.New(tensor.WithShape(m, k), tensor.WithBacking(randSlice(r, m*k)))
	wv := tensor.New(tensor.WithShape(k, n), tensor.WithBacking(randSlice(r, k*n)))
	x := gorgonia.NodeFromAny(g, xv, gorgonia.WithName("x"))
	w := gorgonia.NodeFromAny(g, wv, gorgonia.WithName("w"))
	y := gorgonia.Must(gorgonia.Mul(x, w))
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	require.NoError(t, vm.RunAll())
	got := y.Value().Data().([]float32)
	want := make([]float32, m*n)
	gonum.Implementation{}.Sgemm(gblas.NoTrans, gblas.NoTrans, m, n, k, 1, xv.Data().([]float32), k, wv.Data().([]float32), n, 0, want, n)
	assert.InDeltaSlice(t, want, got, 1e-4)
}
