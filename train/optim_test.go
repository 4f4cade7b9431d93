package train

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestParam returns a param with the given shape, data and a zero gradient.
func newTestParam(name string, shape []int, data ...float32) *Param {
	return &Param{Name: name, Shape: shape, Data: data, Grad: make([]float32, len(data))}
}

// handParams returns a 1-D param "b" and a 2-D param "w" ([1,2]), both
// holding [1, -1].
func handParams() (b, w *Param) {
	return newTestParam("b", []int{2}, 1, -1), newTestParam("w", []int{1, 2}, 1, -1)
}

// mustAdamW is NewAdamW for inputs a test knows are valid: it fails the test on an error.
func mustAdamW(tb testing.TB, params []*Param, cfg AdamWConfig) *AdamW {
	tb.Helper()
	o, err := NewAdamW(params, cfg)
	require.NoError(tb, err)
	return o
}

// mustAdamWChunks is mustAdamW with an explicit chunk count.
func mustAdamWChunks(tb testing.TB, params []*Param, cfg AdamWConfig, chunks int) *AdamW {
	tb.Helper()
	o, err := newAdamW(params, cfg, chunks)
	require.NoError(tb, err)
	return o
}

func TestAdamWOneStepHand(t *testing.T) {
	// lr 0.1, b1 0.9, b2 0.999, eps 1e-8, g = ±0.5.
	// m1 = 0.1*0.5 = 0.05, v1 = 0.001*0.25 = 0.00025
	// mhat = 0.05/(1-0.9) = 0.5, vhat = 0.00025/(1-0.999) = 0.25
	// u1 = 0.1 * 0.5/(sqrt(0.25)+1e-8) = 0.1 * 0.5/0.50000001 = 0.099999998
	// 1-D b (never decayed): 1 - 0.099999998 = 0.900000002
	// 2-D w, wd 0.1: decay first, 1 - 0.1*0.1*1 = 0.99, then 0.99 - 0.099999998 = 0.890000002
	const u1 = 0.099999998
	for _, tc := range []struct {
		name  string
		cfg   AdamWConfig
		wantW float64
	}{
		{"default decay", AdamWConfig{}, 0.99 - u1},
		{"explicit decay", AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1}, 0.99 - u1},
		{"no decay", AdamWConfig{NoWeightDecay: true}, 1 - u1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, w := handParams()
			o := mustAdamW(t, []*Param{b, w}, tc.cfg)
			copy(b.Grad, []float32{0.5, -0.5})
			copy(w.Grad, []float32{0.5, -0.5})
			o.Step(0.1)
			assert.Equal(t, 1, o.StepCount())
			assert.InDeltaSlice(t, []float64{1 - u1, -(1 - u1)}, f64(b.Data), 1e-6, "1-D param must not be decayed")
			assert.InDeltaSlice(t, []float64{tc.wantW, -tc.wantW}, f64(w.Data), 1e-6)
			st, step := o.State()
			assert.Equal(t, 1, step)
			assert.InDeltaSlice(t, []float64{0.05, -0.05}, f64(st[0].Data), 1e-9, "b.m")
			assert.InDeltaSlice(t, []float64{0.00025, 0.00025}, f64(st[1].Data), 1e-10, "b.v")
			assert.Equal(t, []float32{0.5, -0.5}, b.Grad, "Step must leave gradients alone")
		})
	}
}

func TestAdamWTwoStepsHand(t *testing.T) {
	// Step 1 as in TestAdamWOneStepHand (g = ±0.5): u1 = 0.099999998,
	// m1 = 0.05, v1 = 0.00025.
	// Step 2, g = ±1:
	// m2 = 0.9*0.05 + 0.1*1 = 0.145
	// v2 = 0.999*0.00025 + 0.001*1 = 0.00024975 + 0.001 = 0.00124975
	// bc1 = 1 - 0.9^2 = 0.19, bc2 = 1 - 0.999^2 = 0.001999
	// mhat = 0.145/0.19 = 0.763157895, vhat = 0.00124975/0.001999 = 0.625187594
	// u2 = 0.1 * 0.763157895/(sqrt(0.625187594)+1e-8) = 0.1 * 0.763157895/0.790688061 = 0.096518201
	// b (no decay): 1 - 0.099999998 - 0.096518201 = 0.803481801
	// w (wd 0.1, factor 1 - 0.1*0.1 = 0.99 per step):
	//   p1 = 0.99 - 0.099999998 = 0.890000002
	//   p2 = 0.890000002*0.99 - 0.096518201 = 0.881100002 - 0.096518201 = 0.784581801
	const wantB, wantW = 0.803481801, 0.784581801
	b, w := handParams()
	o := mustAdamW(t, []*Param{b, w}, AdamWConfig{})
	for _, g := range []float32{0.5, 1} {
		copy(b.Grad, []float32{g, -g})
		copy(w.Grad, []float32{g, -g})
		o.Step(0.1)
	}
	assert.Equal(t, 2, o.StepCount())
	assert.InDeltaSlice(t, []float64{wantB, -wantB}, f64(b.Data), 1e-6)
	assert.InDeltaSlice(t, []float64{wantW, -wantW}, f64(w.Data), 1e-6)
	st, _ := o.State()
	assert.InDeltaSlice(t, []float64{0.145, -0.145}, f64(st[2].Data), 1e-7, "w.m")
	assert.InDeltaSlice(t, []float64{0.00124975, 0.00124975}, f64(st[3].Data), 1e-9, "w.v")
}

func TestAdamWBiasCorrection(t *testing.T) {
	// With a constant gradient g, m_t = (1-b1^t) g and v_t = (1-b2^t) g^2, so
	// the bias-corrected mhat = g and vhat = g^2 at every step and each
	// update is lr*g/(|g|+eps) ≈ lr*sign(g). Without the corrections the
	// first update would be lr * 0.1g/(sqrt(0.001)|g|) = 3.16*lr.
	p := newTestParam("p", []int{3}, 0, 0, 0)
	copy(p.Grad, []float32{2, -0.01, 300})
	o := mustAdamW(t, []*Param{p}, AdamWConfig{})
	const lr = 0.01
	for step := 1; step <= 5; step++ {
		o.Step(lr)
		want := float64(step) * lr
		assert.InDeltaSlice(t, []float64{-want, want, -want}, f64(p.Data), 1e-6, "step %d", step)
		st, n := o.State()
		require.Equal(t, step, n)
		bc1 := 1 - math.Pow(0.9, float64(step))
		bc2 := 1 - math.Pow(0.999, float64(step))
		assert.InEpsilonSlice(t, []float64{bc1 * 2, bc1 * -0.01, bc1 * 300}, f64(st[0].Data), 1e-6, "m at step %d", step)
		assert.InEpsilonSlice(t, []float64{bc2 * 4, bc2 * 1e-4, bc2 * 9e4}, f64(st[1].Data), 1e-6, "v at step %d", step)
	}
}

// refAdamW is a straightforward float64 AdamW following the PyTorch
// formulas, the reference for TestAdamWMatchesFloat64Reference.
type refAdamW struct {
	b1, b2, eps, wd float64
	t               int
	p, m, v         [][]float64
	// mAbs is m computed from |g|: the scale of the terms summed into m,
	// which bounds its float32 rounding error when they cancel.
	mAbs [][]float64
	// pAbs is |p0| plus the magnitudes of all updates applied to p, the
	// scale of its rounding error when p passes close to zero.
	pAbs  [][]float64
	decay []bool
}

func newRefAdamW(params []*Param, b1, b2, eps, wd float64) *refAdamW {
	r := &refAdamW{b1: b1, b2: b2, eps: eps, wd: wd}
	for _, p := range params {
		r.p = append(r.p, f64(p.Data))
		r.m = append(r.m, make([]float64, len(p.Data)))
		r.mAbs = append(r.mAbs, make([]float64, len(p.Data)))
		r.pAbs = append(r.pAbs, f64(p.Data))
		for j, x := range r.pAbs[len(r.pAbs)-1] {
			r.pAbs[len(r.pAbs)-1][j] = math.Abs(x)
		}
		r.v = append(r.v, make([]float64, len(p.Data)))
		r.decay = append(r.decay, len(p.Shape) >= 2)
	}
	return r
}

func (r *refAdamW) step(lr float64, params []*Param) {
	r.t++
	bc1 := 1 - math.Pow(r.b1, float64(r.t))
	bc2 := 1 - math.Pow(r.b2, float64(r.t))
	for i, p := range params {
		for j, g32 := range p.Grad {
			g := float64(g32)
			if r.decay[i] {
				r.pAbs[i][j] += math.Abs(lr * r.wd * r.p[i][j])
				r.p[i][j] -= lr * r.wd * r.p[i][j]
			}
			r.m[i][j] = r.b1*r.m[i][j] + (1-r.b1)*g
			r.mAbs[i][j] = r.b1*r.mAbs[i][j] + (1-r.b1)*math.Abs(g)
			r.v[i][j] = r.b2*r.v[i][j] + (1-r.b2)*g*g
			mhat := r.m[i][j] / bc1
			vhat := r.v[i][j] / bc2
			u := lr * mhat / (math.Sqrt(vhat) + r.eps)
			r.p[i][j] -= u
			r.pAbs[i][j] += math.Abs(u)
		}
	}
}

// randomParams returns params of the given shapes with N(0,1) values.
func randomParams(rng *rand.Rand, shapes ...[]int) []*Param {
	var ps []*Param
	for i, s := range shapes {
		n, _ := shapeElems(s)
		p := &Param{Name: string(rune('a' + i)), Shape: s, Data: make([]float32, n), Grad: make([]float32, n)}
		for j := range p.Data {
			p.Data[j] = float32(rng.NormFloat64())
		}
		ps = append(ps, p)
	}
	return ps
}

// randomGrads fills the gradients with values of varied magnitudes.
func randomGrads(rng *rand.Rand, ps []*Param) {
	for _, p := range ps {
		for j := range p.Grad {
			p.Grad[j] = float32(rng.NormFloat64() * math.Pow(10, rng.Float64()*4-3))
		}
	}
}

// assertCloseRel checks |got-want| <= rel*|scale| + abs element-wise;
// scale is want when nil.
func assertCloseRel(t *testing.T, want, scale []float64, got []float32, rel, abs float64, msg string) {
	t.Helper()
	require.Len(t, got, len(want), msg)
	if scale == nil {
		scale = want
	}
	worst, at := 0.0, -1
	for i := range want {
		tol := rel*math.Abs(scale[i]) + abs
		if d := math.Abs(float64(got[i]) - want[i]); d > tol && d/tol > worst {
			worst, at = d/tol, i
		}
	}
	if at >= 0 {
		t.Errorf("%s: element %d: got %v, want %v (%.3gx tolerance)", msg, at, got[at], want[at], worst)
	}
}

func TestAdamWMatchesFloat64Reference(t *testing.T) {
	shapes := [][]int{{17, 33}, {33}, {3, 5, 7}, {1}, {64, 8}}
	for _, tc := range []struct {
		name   string
		cfg    AdamWConfig
		wd     float64
		chunks int
	}{
		{"defaults", AdamWConfig{}, 0.1, 1},
		{"nanoGPT betas", AdamWConfig{Beta2: 0.99, WeightDecay: 0.1}, 0.1, 1},
		{"no decay", AdamWConfig{Beta1: 0.8, Beta2: 0.95, Eps: 1e-6, NoWeightDecay: true}, 0, 1},
		{"3 chunks", AdamWConfig{Beta2: 0.99, WeightDecay: 0.3}, 0.3, 3},
		{"7 chunks", AdamWConfig{}, 0.1, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			ps := randomParams(rng, shapes...)
			cfg, err := tc.cfg.resolve()
			require.NoError(t, err)
			ref := newRefAdamW(ps, cfg.Beta1, cfg.Beta2, cfg.Eps, tc.wd)
			o := mustAdamWChunks(t, ps, tc.cfg, tc.chunks)
			require.Len(t, o.core.chunks, tc.chunks+1)
			sched := Schedule{MaxLR: 1e-2, MinLR: 1e-3, Warmup: 3, DecaySteps: 10}
			for step := range 10 {
				randomGrads(rng, ps)
				lr := sched.LR(step)
				o.Step(lr)
				ref.step(lr, ps)
			}
			st, _ := o.State()
			for i, p := range ps {
				// 1e-6 relative; for p and m relative to the magnitudes of the terms
				// summed into them (pAbs, mAbs), since those may cancel.
				assertCloseRel(t, ref.p[i], ref.pAbs[i], p.Data, 1e-6, 0, p.Name+" data")
				assertCloseRel(t, ref.m[i], ref.mAbs[i], st[2*i].Data, 1e-6, 0, p.Name+" m")
				assertCloseRel(t, ref.v[i], nil, st[2*i+1].Data, 1e-6, 0, p.Name+" v")
			}
		})
	}
}

func TestAdamWChunkingIsBitExact(t *testing.T) {
	// Splitting the work must not change a single bit.
	shapes := [][]int{{100, 7}, {7}, {1}, {3, 300}, {5}}
	run := func(chunks int) ([]*Param, *AdamW) {
		rng := rand.New(rand.NewPCG(3, 4))
		ps := randomParams(rng, shapes...)
		o := mustAdamWChunks(t, ps, AdamWConfig{Beta2: 0.99}, chunks)
		for range 4 {
			randomGrads(rng, ps)
			o.Step(3e-3)
		}
		return ps, o
	}
	want, _ := run(1)
	for _, chunks := range []int{2, 3, 5, 16} {
		got, o := run(chunks)
		require.Len(t, o.core.chunks, chunks+1)
		covered := 0
		for _, s := range o.core.segs {
			covered += s.hi - s.lo
		}
		require.Equal(t, 700+7+1+900+5, covered, "chunks %d must cover every element once", chunks)
		for i := range want {
			assert.Equal(t, want[i].Data, got[i].Data, "chunks %d param %s", chunks, want[i].Name)
		}
	}
}

func TestAdamWZeroAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	small := randomParams(rng, []int{16, 16}, []int{16})
	big := gptParams(rng)
	for _, tc := range []struct {
		name   string
		o      *AdamW
		params []*Param
	}{
		{"small serial", mustAdamW(t, small, AdamWConfig{}), small},
		{"0.8M two chunks", mustAdamWChunks(t, big, AdamWConfig{}, 2), big},
		{"0.8M default", mustAdamW(t, big, AdamWConfig{}), big},
	} {
		t.Run(tc.name, func(t *testing.T) {
			randomGrads(rng, tc.params)
			assert.Zero(t, testing.AllocsPerRun(20, func() { tc.o.Step(1e-3) }), "Step")
			assert.Zero(t, testing.AllocsPerRun(20, func() { tc.o.ZeroGrad() }), "ZeroGrad")
			assert.Zero(t, testing.AllocsPerRun(20, func() { ClipGradNorm(tc.params, 1) }), "ClipGradNorm")
		})
	}
}

func TestAdamWParallelThreshold(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	o := mustAdamW(t, randomParams(rng, []int{256, 256}), AdamWConfig{})
	assert.Nil(t, o.pool, "64k elements must run on the caller")
	assert.Len(t, o.core.chunks, 2)
	o = mustAdamW(t, randomParams(rng, []int{256, 256}, []int{1}), AdamWConfig{})
	assert.Len(t, o.core.chunks, min(runtime.GOMAXPROCS(0), 2)+1)
}

func TestAdamWWorkersStopWhenUnreachable(t *testing.T) {
	// The pool does not reference the optimizer, so holding it does not keep
	// the optimizer alive; its cleanup closes jobs, which ends the workers.
	pool := func() *adamWPool {
		ps := randomParams(rand.New(rand.NewPCG(9, 10)), []int{10, 10})
		o := mustAdamWChunks(t, ps, AdamWConfig{}, 4)
		o.Step(1e-3)
		require.NotNil(t, o.pool)
		require.Equal(t, 4, cap(o.pool.jobs)+1)
		return o.pool
	}()
	closed := false
	for deadline := time.Now().Add(10 * time.Second); !closed && time.Now().Before(deadline); {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
		select {
		case _, ok := <-pool.jobs:
			closed = !ok
		default:
		}
	}
	assert.True(t, closed, "the worker pool must be closed once the optimizer is garbage")
}

func TestAdamWZeroGrad(t *testing.T) {
	b, w := handParams()
	copy(b.Grad, []float32{1, 2})
	copy(w.Grad, []float32{3, 4})
	mustAdamW(t, []*Param{b, w}, AdamWConfig{}).ZeroGrad()
	assert.Equal(t, []float32{0, 0}, b.Grad)
	assert.Equal(t, []float32{0, 0}, w.Grad)
	assert.Equal(t, []float32{1, -1}, b.Data)
}

func TestAdamWConfigDefaults(t *testing.T) {
	b, w := handParams()
	cfg := mustAdamW(t, []*Param{b, w}, AdamWConfig{}).Config()
	assert.Equal(t, AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1}, cfg)
	cfg = mustAdamW(t, []*Param{b, w}, AdamWConfig{Beta2: 0.99, WeightDecay: 0.5, NoWeightDecay: true}).Config()
	assert.Equal(t, AdamWConfig{Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, NoWeightDecay: true}, cfg)
}

func TestNewAdamWErrors(t *testing.T) {
	ok := func() []*Param { b, w := handParams(); return []*Param{b, w} }
	for name, tc := range map[string]struct {
		params []*Param
		cfg    AdamWConfig
		want   string // the bad field or param the error must name
	}{
		"beta1 >= 1":         {ok(), AdamWConfig{Beta1: 1}, "Beta1 1 not in (0, 1)"},
		"beta2 negative":     {ok(), AdamWConfig{Beta2: -0.5}, "Beta2 -0.5 not in (0, 1)"},
		"eps negative":       {ok(), AdamWConfig{Eps: -1}, "Eps -1 must be positive"},
		"eps NaN":            {ok(), AdamWConfig{Eps: math.NaN()}, "Eps NaN must be positive"},
		"eps Inf":            {ok(), AdamWConfig{Eps: math.Inf(1)}, "Eps +Inf must be positive and finite"},
		"weight decay < 0":   {ok(), AdamWConfig{WeightDecay: -0.1}, "WeightDecay -0.1 must be >= 0"},
		"nil param":          {[]*Param{nil}, AdamWConfig{}, "param 0 is nil"},
		"grad length":        {[]*Param{{Name: "x", Shape: []int{2}, Data: make([]float32, 2), Grad: make([]float32, 3)}}, AdamWConfig{}, `param "x" has 2 values but 3 gradients`},
		"shape mismatch":     {[]*Param{{Name: "x", Shape: []int{2, 2}, Data: make([]float32, 3), Grad: make([]float32, 3)}}, AdamWConfig{}, `param "x" has shape [2 2] but 3 values`},
		"nil shape, 2 elems": {[]*Param{{Name: "x", Data: make([]float32, 2), Grad: make([]float32, 2)}}, AdamWConfig{}, `param "x" has shape [] but 2 values`},
		"duplicate name":     {append(ok(), newTestParam("w", []int{1}, 0)), AdamWConfig{}, `params 1 and 2 are both named "w"`},
	} {
		t.Run(name, func(t *testing.T) {
			for _, chunks := range []int{0, 1, 4} { // 0: NewAdamW's own choice
				var (
					o   *AdamW
					err error
				)
				require.NotPanics(t, func() {
					if chunks == 0 {
						o, err = NewAdamW(tc.params, tc.cfg)
					} else {
						o, err = newAdamW(tc.params, tc.cfg, chunks)
					}
				}, "a bad config must be an error, not a panic")
				require.Error(t, err)
				assert.Nil(t, o)
				assert.ErrorIs(t, err, ErrAdamWConfig)
				assert.ErrorContains(t, err, tc.want)
			}
		})
	}
}

func TestAdamWStepPanicsOnResizedParam(t *testing.T) {
	b, w := handParams()
	o := mustAdamW(t, []*Param{b, w}, AdamWConfig{})
	w.Grad = w.Grad[:1]
	assert.PanicsWithValue(t, `train: AdamW param "w" changed length: 2 values, 1 gradients, want 2`, func() { o.Step(1) })
	assert.Equal(t, 0, o.StepCount())
}

func TestClipGradNormHand(t *testing.T) {
	// Grads 3 and 4 in two params: global norm sqrt(9+16) = 5. maxNorm 1:
	// scale 1/(5+1e-6) ≈ 0.2 → 0.6 and 0.8.
	a := newTestParam("a", []int{1}, 0)
	b := newTestParam("b", []int{1}, 0)
	a.Grad[0], b.Grad[0] = 3, 4
	norm := ClipGradNorm([]*Param{a, b}, 1)
	assert.InDelta(t, 5, norm, 1e-12)
	assert.InDelta(t, 0.6, a.Grad[0], 1e-6)
	assert.InDelta(t, 0.8, b.Grad[0], 1e-6)
	assert.InDelta(t, 1, ClipGradNorm([]*Param{a, b}, 0), 1e-6, "clipped norm")
}

func TestClipGradNormNoOp(t *testing.T) {
	a := newTestParam("a", []int{4}, 0, 0, 0, 0)
	copy(a.Grad, []float32{0.3, 0.4, 0, 0})
	for _, maxNorm := range []float64{1, 0.6, 0, -1} {
		assert.InDelta(t, 0.5, ClipGradNorm([]*Param{a}, maxNorm), 1e-7, "maxNorm %v", maxNorm)
		assert.Equal(t, []float32{0.3, 0.4, 0, 0}, a.Grad, "maxNorm %v must leave grads untouched", maxNorm)
	}
	// maxNorm <= 0 disables clipping even when the norm is large.
	copy(a.Grad, []float32{30, 40, 0, 0})
	assert.InDelta(t, 50, ClipGradNorm([]*Param{a}, 0), 1e-9)
	assert.Equal(t, []float32{30, 40, 0, 0}, a.Grad)
	assert.Zero(t, ClipGradNorm(nil, 1))
}

func TestClipGradNormNonFinite(t *testing.T) {
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		a := newTestParam("a", []int{3}, 0, 0, 0)
		b := newTestParam("b", []int{1}, 0)
		copy(a.Grad, []float32{10, bad, 10})
		b.Grad[0] = 10
		norm := ClipGradNorm([]*Param{a, b}, 1)
		if math.IsNaN(float64(bad)) {
			assert.True(t, math.IsNaN(norm), "norm %v", norm)
		} else {
			assert.True(t, math.IsInf(norm, 1), "norm %v", norm)
		}
		assert.Equal(t, float32(10), a.Grad[0])
		assert.Equal(t, float32(10), b.Grad[0])
	}
}

func TestClipGradNormLarge(t *testing.T) {
	// Float64 accumulation over many elements, odd length for the tail loop.
	a := &Param{Name: "a", Shape: []int{100003}, Data: make([]float32, 100003), Grad: make([]float32, 100003)}
	for i := range a.Grad {
		a.Grad[i] = 0.01
	}
	want := math.Sqrt(100003 * float64(float32(0.01)) * float64(float32(0.01)))
	assert.InEpsilon(t, want, ClipGradNorm([]*Param{a}, 1), 1e-12)
	assert.InEpsilon(t, 1.0, ClipGradNorm([]*Param{a}, 0), 1e-6)
}

func TestAdamWStateRoundTrip(t *testing.T) {
	shapes := [][]int{{4, 3}, {3}, {2, 2, 2}}
	// train takes steps [from, to) with gradients that depend only on the step.
	train := func(ps []*Param, o *AdamW, from, to int) {
		for step := from; step < to; step++ {
			randomGrads(rand.New(rand.NewPCG(13, uint64(step))), ps)
			o.Step(1e-2)
		}
	}
	// Reference: 6 uninterrupted steps.
	ref := randomParams(rand.New(rand.NewPCG(11, 12)), shapes...)
	refOpt := mustAdamW(t, ref, AdamWConfig{Beta2: 0.99})
	train(ref, refOpt, 0, 6)

	// Resumed: 3 steps, save, fresh optimizer over copies of the params, 3 more.
	ps := randomParams(rand.New(rand.NewPCG(11, 12)), shapes...)
	o := mustAdamW(t, ps, AdamWConfig{Beta2: 0.99})
	train(ps, o, 0, 3)
	tensors, step := o.State()
	require.Equal(t, 3, step)
	names := make([]string, len(tensors))
	for i, tn := range tensors {
		names[i] = tn.Name
	}
	assert.Equal(t, []string{"optim.a.m", "optim.a.v", "optim.b.m", "optim.b.v", "optim.c.m", "optim.c.v"}, names)
	assert.Equal(t, []int{2, 2, 2}, tensors[5].Shape)

	for _, viaTensors := range []bool{false, true} {
		resumed := make([]*Param, len(ps))
		for i, p := range ps {
			resumed[i] = &Param{Name: p.Name, Shape: slices.Clone(p.Shape), Data: slices.Clone(p.Data), Grad: make([]float32, len(p.Data))}
		}
		o2 := mustAdamW(t, resumed, AdamWConfig{Beta2: 0.99})
		if viaTensors {
			require.NoError(t, o2.LoadStateTensors(tensors, step))
		} else {
			m := map[string][]float32{"wte.weight": {1, 2, 3}} // unrelated entries are ignored
			for _, tn := range tensors {
				m[tn.Name] = tn.Data
			}
			require.NoError(t, o2.LoadState(m, step))
		}
		assert.Equal(t, 3, o2.StepCount())
		train(resumed, o2, 3, 6)
		for i := range ref {
			assert.Equal(t, ref[i].Data, resumed[i].Data, "param %s (via tensors %v)", ref[i].Name, viaTensors)
		}
	}

	// State returns copies.
	tensors[0].Data[0] = 42
	again, _ := o.State()
	assert.NotEqual(t, float32(42), again[0].Data[0])
}

func TestAdamWLoadStateErrors(t *testing.T) {
	newOpt := func() *AdamW {
		b, w := handParams()
		o := mustAdamW(t, []*Param{b, w}, AdamWConfig{})
		copy(b.Grad, []float32{1, 1})
		copy(w.Grad, []float32{1, 1})
		o.Step(0.1)
		return o
	}
	good := func() map[string][]float32 {
		return map[string][]float32{
			"optim.b.m": {1, 2}, "optim.b.v": {3, 4},
			"optim.w.m": {5, 6}, "optim.w.v": {7, 8},
		}
	}
	for _, tc := range []struct {
		name    string
		edit    func(map[string][]float32)
		step    int
		wantMsg []string
	}{
		{"missing", func(m map[string][]float32) { delete(m, "optim.w.v") }, 5, []string{`missing tensor "optim.w.v"`}},
		{"wrong length", func(m map[string][]float32) { m["optim.b.m"] = []float32{1, 2, 3} }, 5,
			[]string{`tensor "optim.b.m" has 3 elements, want 2 (shape [2])`}},
		{"unknown param", func(m map[string][]float32) { m["optim.lnf.bias.v"] = []float32{1} }, 5,
			[]string{`tensor "optim.lnf.bias.v" is not for any parameter`}},
		{"several", func(m map[string][]float32) { delete(m, "optim.b.m"); m["optim.w.m"] = nil }, 5,
			[]string{`missing tensor "optim.b.m"`, `tensor "optim.w.m" has 0 elements, want 2 (shape [1 2])`}},
		{"negative step", func(map[string][]float32) {}, -1, []string{"negative step count -1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOpt()
			before, _ := o.State()
			m := good()
			tc.edit(m)
			err := o.LoadState(m, tc.step)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrAdamWState)
			for _, msg := range tc.wantMsg {
				assert.Contains(t, err.Error(), msg)
			}
			after, step := o.State()
			assert.Equal(t, 1, step, "failed load must not change the step count")
			assert.Equal(t, before, after, "failed load must not change the moments")
		})
	}

	t.Run("tensors shape", func(t *testing.T) {
		o := newOpt()
		ts, _ := o.State()
		ts[2].Shape = []int{2, 1}
		err := o.LoadStateTensors(ts, 1)
		assert.ErrorIs(t, err, ErrAdamWState)
		assert.ErrorContains(t, err, `tensor "optim.w.m" has shape [2 1], want [1 2]`)
	})
	t.Run("tensors duplicate", func(t *testing.T) {
		o := newOpt()
		ts, _ := o.State()
		ts = append(ts, ts[0])
		err := o.LoadStateTensors(ts, 1)
		assert.ErrorIs(t, err, ErrAdamWState)
		assert.ErrorContains(t, err, `tensor "optim.b.m" appears twice`)
	})
	t.Run("good", func(t *testing.T) {
		o := newOpt()
		require.NoError(t, o.LoadState(good(), 7))
		ts, step := o.State()
		assert.Equal(t, 7, step)
		assert.Equal(t, []float32{7, 8}, ts[3].Data)
	})
}

// gptParams returns the parameters of torch_gpt.py's model (vocab 65,
// n_embd 128, block 64, 4 layers, tied head): 805,248 values.
func gptParams(rng *rand.Rand) []*Param {
	const V, T, C, L = 65, 64, 128, 4
	shapes := [][]int{{V, C}, {T, C}}
	for range L {
		shapes = append(shapes, []int{C}, []int{C}, []int{C}, []int{C},
			[]int{3 * C, C}, []int{C, C}, []int{4 * C, C}, []int{C, 4 * C})
	}
	shapes = append(shapes, []int{C}, []int{C})
	ps := randomParams(rng, shapes...)
	for i, p := range ps {
		p.Name = "p" + string(rune('A'+i))
	}
	return ps
}

func TestGPTParamsSize(t *testing.T) {
	total := 0
	for _, p := range gptParams(rand.New(rand.NewPCG(1, 1))) {
		total += len(p.Data)
	}
	assert.Equal(t, 805248, total)
}

// BenchmarkAdamWStep measures one Step over torch_gpt.py's ~0.8M parameters,
// on the calling goroutine only ("serial") and as NewAdamW sets it up.
func BenchmarkAdamWStep(b *testing.B) {
	for _, bc := range []struct {
		name   string
		chunks int
	}{
		{"serial", 1},
		{"default", 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			ps := gptParams(rng)
			randomGrads(rng, ps)
			var o *AdamW
			if bc.chunks > 0 {
				o = mustAdamWChunks(b, ps, AdamWConfig{Beta2: 0.99}, bc.chunks)
			} else {
				o = mustAdamW(b, ps, AdamWConfig{Beta2: 0.99})
			}
			b.ReportMetric(float64(len(o.core.chunks)-1), "chunks")
			b.ReportAllocs()
			for b.Loop() {
				o.Step(1e-3)
			}
		})
	}
}

// BenchmarkClipGradNorm measures the norm computation of ClipGradNorm over
// ~0.8M gradients.
func BenchmarkClipGradNorm(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	ps := gptParams(rng)
	randomGrads(rng, ps)
	b.ReportAllocs()
	for b.Loop() {
		ClipGradNorm(ps, 0)
	}
}

// f64 converts a float32 slice for comparison against float64 references.
func f64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}
