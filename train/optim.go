package train

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/tinychat-go/tinychat/internal/kernels"
)

// NamedTensor is a named float32 tensor, the unit of optimizer state handed
// to checkpointing code (see AdamW.State).
type NamedTensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Default AdamW hyper-parameters, used for the zero fields of AdamWConfig.
//
// Beta2 is PyTorch's generic default 0.999; nanoGPT's shakespeare-char recipe
// (and the PyTorch reference in shared/bench/torch_gpt.py) uses 0.99, which must be asked for
// explicitly.
const (
	// DefaultAdamWBeta1 is the default exponential decay rate of the first moment.
	DefaultAdamWBeta1 = 0.9
	// DefaultAdamWBeta2 is the default exponential decay rate of the second moment.
	DefaultAdamWBeta2 = 0.999
	// DefaultAdamWEps is the default term added to the denominator.
	DefaultAdamWEps = 1e-8
	// DefaultAdamWWeightDecay is the default decoupled weight decay (nanoGPT's 0.1).
	DefaultAdamWWeightDecay = 0.1
)

// ErrAdamWConfig is wrapped by the error NewAdamW returns when the
// configuration or the parameter list is invalid.
var ErrAdamWConfig = errors.New("train: invalid AdamW configuration")

// ErrAdamWState is wrapped by every error LoadState and LoadStateTensors return.
var ErrAdamWState = errors.New("train: invalid AdamW state")

// AdamWConfig holds the AdamW hyper-parameters. The zero value of every field
// means its default: Beta1 0.9, Beta2 0.999, Eps 1e-8, WeightDecay 0.1 (see
// the DefaultAdamW constants). Because a zero WeightDecay means 0.1, set
// NoWeightDecay to disable weight decay entirely. Weight decay only ever
// applies to parameters with len(Shape) >= 2.
//
// Valid values: 0 < Beta1, Beta2 < 1; Eps > 0; WeightDecay >= 0 (all after
// defaults are applied). A zero Beta or Eps cannot be expressed.
type AdamWConfig struct {
	Beta1, Beta2, Eps, WeightDecay float64
	// NoWeightDecay disables weight decay for all parameters, overriding WeightDecay.
	NoWeightDecay bool
}

// resolve applies the defaults and validates the result.
func (c AdamWConfig) resolve() (AdamWConfig, error) {
	if c.Beta1 == 0 {
		c.Beta1 = DefaultAdamWBeta1
	}
	if c.Beta2 == 0 {
		c.Beta2 = DefaultAdamWBeta2
	}
	if c.Eps == 0 {
		c.Eps = DefaultAdamWEps
	}
	if c.NoWeightDecay {
		c.WeightDecay = 0
	} else if c.WeightDecay == 0 {
		c.WeightDecay = DefaultAdamWWeightDecay
	}
	switch {
	case !(c.Beta1 > 0 && c.Beta1 < 1):
		return c, fmt.Errorf("%w: Beta1 %v not in (0, 1)", ErrAdamWConfig, c.Beta1)
	case !(c.Beta2 > 0 && c.Beta2 < 1):
		return c, fmt.Errorf("%w: Beta2 %v not in (0, 1)", ErrAdamWConfig, c.Beta2)
	case !(c.Eps > 0) || math.IsInf(c.Eps, 0):
		return c, fmt.Errorf("%w: Eps %v must be positive and finite", ErrAdamWConfig, c.Eps)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return c, fmt.Errorf("%w: WeightDecay %v must be >= 0 and finite (use NoWeightDecay for none)", ErrAdamWConfig, c.WeightDecay)
	}
	return c, nil
}

// Work split for AdamW.Step: below adamWParallelMin elements in total the
// step runs on the calling goroutine; above it the elements are cut into at
// most GOMAXPROCS chunks of at least adamWMinChunk elements each.
const (
	adamWParallelMin = 1 << 16
	adamWMinChunk    = 1 << 15
)

// AdamW is the AdamW optimizer (Loshchilov & Hutter) with PyTorch's
// torch.optim.AdamW semantics. Per parameter element, at step t (1-based):
//
//	p -= lr*wd*p                       (decoupled decay; wd = 0 for len(Shape) < 2)
//	m  = b1*m + (1-b1)*g
//	v  = b2*v + (1-b2)*g*g
//	p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
//
// The moments are stored as float32; the bias corrections are computed in
// float64 and the element arithmetic is float32, as in PyTorch on CPU.
// Large parameter sets (more than 64k elements in total) are updated by up to
// GOMAXPROCS goroutines from a small pool owned by the optimizer, which is
// released when the optimizer becomes unreachable.
//
// An AdamW is not safe for concurrent use. The parameters' Data and Grad
// slices may be replaced between steps but must keep their lengths.
type AdamW struct {
	cfg   AdamWConfig
	core  *adamWCore
	pool  *adamWPool // nil when the step runs on the calling goroutine only
	step  int
	names map[string]int // param name -> index
}

// adamWCore is everything a worker needs. It must not reference the AdamW so
// that the AdamW can become unreachable (and its cleanup stop the workers)
// while workers are parked.
type adamWCore struct {
	params []*Param
	m, v   [][]float32
	decay  []bool // weight decay applies to params[i]

	// Per-step constants, written by Step before work is handed out: with
	// weight decay (LRWD = lr * weight decay) and without (LRWD = 0).
	withDecay, noDecay kernels.AdamWStep

	segs   []adamWSegment
	chunks []int // chunk i is segs[chunks[i]:chunks[i+1]]
}

// adamWSegment is the element range [lo, hi) of params[param].
type adamWSegment struct {
	param, lo, hi int
}

// adamWPool is a set of parked goroutines that each run chunks received on jobs.
type adamWPool struct {
	jobs chan int
	wg   sync.WaitGroup
}

// NewAdamW returns an AdamW over params with step count 0 and zero moments.
// Zero fields of cfg take their defaults (see AdamWConfig).
//
// NewAdamW returns an error wrapping ErrAdamWConfig, and no optimizer, if
// cfg is invalid (the error names the field and its value), a param is nil,
// len(Grad) != len(Data), the Shape does not match len(Data), or two params
// share a Name (the error names the param).
func NewAdamW(params []*Param, cfg AdamWConfig) (*AdamW, error) {
	return newAdamW(params, cfg, adamWChunkCount(params))
}

// adamWChunkCount picks how many chunks (goroutines) a step over params uses.
func adamWChunkCount(params []*Param) int {
	total := 0
	for _, p := range params {
		if p != nil {
			total += len(p.Data)
		}
	}
	if total <= adamWParallelMin {
		return 1
	}
	return max(1, min(runtime.GOMAXPROCS(0), total/adamWMinChunk))
}

// newAdamW is NewAdamW with an explicit chunk count (tests force it).
func newAdamW(params []*Param, cfg AdamWConfig, chunks int) (*AdamW, error) {
	rc, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	c := &adamWCore{
		params: slices.Clone(params),
		m:      make([][]float32, len(params)),
		v:      make([][]float32, len(params)),
		decay:  make([]bool, len(params)),
	}
	names := make(map[string]int, len(params))
	total := 0
	for i, p := range params {
		if p == nil {
			return nil, fmt.Errorf("%w: param %d is nil", ErrAdamWConfig, i)
		}
		if len(p.Grad) != len(p.Data) {
			return nil, fmt.Errorf("%w: param %q has %d values but %d gradients", ErrAdamWConfig, p.Name, len(p.Data), len(p.Grad))
		}
		if n, ok := shapeElems(p.Shape); !ok || n != len(p.Data) {
			return nil, fmt.Errorf("%w: param %q has shape %v but %d values", ErrAdamWConfig, p.Name, p.Shape, len(p.Data))
		}
		if j, dup := names[p.Name]; dup {
			return nil, fmt.Errorf("%w: params %d and %d are both named %q", ErrAdamWConfig, j, i, p.Name)
		}
		names[p.Name] = i
		c.m[i] = make([]float32, len(p.Data))
		c.v[i] = make([]float32, len(p.Data))
		c.decay[i] = len(p.Shape) >= 2 && rc.WeightDecay != 0
		total += len(p.Data)
	}
	c.plan(total, chunks)
	o := &AdamW{cfg: rc, core: c, names: names}
	if n := len(c.chunks) - 1; n > 1 {
		o.pool = startAdamWPool(c, n-1) // the caller of Step runs chunk 0
		runtime.AddCleanup(o, func(p *adamWPool) { close(p.jobs) }, o.pool)
	}
	return o, nil
}

// shapeElems returns the number of elements of shape, false if a dimension
// is negative or the product overflows.
func shapeElems(shape []int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > math.MaxInt/d) {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// plan cuts the concatenation of all parameters (total elements) into at
// most chunks contiguous, nearly equal ranges, each a list of segments.
func (c *adamWCore) plan(total, chunks int) {
	chunks = max(1, min(chunks, total))
	c.segs = c.segs[:0]
	c.chunks = append(c.chunks[:0], 0)
	for k := range chunks {
		lo, hi := total*k/chunks, total*(k+1)/chunks
		off := 0
		for i, p := range c.params {
			n := len(p.Data)
			if s, e := max(lo, off), min(hi, off+n); s < e {
				c.segs = append(c.segs, adamWSegment{param: i, lo: s - off, hi: e - off})
			}
			off += n
		}
		c.chunks = append(c.chunks, len(c.segs))
	}
}

// startAdamWPool starts workers goroutines that run chunks of c.
func startAdamWPool(c *adamWCore, workers int) *adamWPool {
	p := &adamWPool{jobs: make(chan int, workers)}
	for range workers {
		go adamWWorker(c, p)
	}
	return p
}

// adamWWorker runs the chunks it receives until the pool is closed.
func adamWWorker(c *adamWCore, p *adamWPool) {
	for k := range p.jobs {
		c.runChunk(k)
		p.wg.Done()
	}
}

// Config returns the configuration in use, with defaults applied.
func (o *AdamW) Config() AdamWConfig { return o.cfg }

// StepCount returns the number of steps taken (the t of the bias corrections
// of the last step); 0 before the first Step.
func (o *AdamW) StepCount() int { return o.step }

// Step applies one AdamW update with learning rate lr to every parameter, in
// place, using the current gradients (which it leaves untouched). It does
// not allocate.
//
// Step panics if a parameter's Data or Grad no longer has the length it had
// when the optimizer was created.
func (o *AdamW) Step(lr float64) {
	c := o.core
	for i, p := range c.params {
		if len(p.Data) != len(c.m[i]) || len(p.Grad) != len(c.m[i]) {
			panic(fmt.Sprintf("train: AdamW param %q changed length: %d values, %d gradients, want %d",
				p.Name, len(p.Data), len(p.Grad), len(c.m[i])))
		}
	}
	o.step++
	t := float64(o.step)
	b1, b2 := o.cfg.Beta1, o.cfg.Beta2
	bc1 := 1 - math.Pow(b1, t)
	bc2 := 1 - math.Pow(b2, t)
	c.noDecay = kernels.AdamWStep{
		B1: float32(b1), OneMinusB1: float32(1 - b1), B2: float32(b2), OneMinusB2: float32(1 - b2),
		Eps: float32(o.cfg.Eps), StepSize: float32(lr / bc1), InvBC2Sqrt: float32(1 / math.Sqrt(bc2)),
	}
	c.withDecay = c.noDecay
	c.withDecay.LRWD = float32(lr * o.cfg.WeightDecay)

	if o.pool == nil {
		for k := range len(c.chunks) - 1 {
			c.runChunk(k)
		}
		return
	}
	n := len(c.chunks) - 1
	o.pool.wg.Add(n - 1)
	for k := 1; k < n; k++ {
		o.pool.jobs <- k
	}
	c.runChunk(0)
	o.pool.wg.Wait()
}

// runChunk updates the segments of chunk k.
func (c *adamWCore) runChunk(k int) {
	for _, s := range c.segs[c.chunks[k]:c.chunks[k+1]] {
		p := c.params[s.param]
		step := &c.noDecay
		if c.decay[s.param] {
			step = &c.withDecay
		}
		// The decay and the Adam step are applied to p in a single subtraction,
		// p -= lrWD*p + stepSize*m/denom, which is the same update as PyTorch's
		// p *= 1-lr*wd followed by p -= stepSize*m/denom (up to float32 rounding;
		// rounding once keeps p closer to the exact value).
		kernels.AdamWUpdate(p.Data[s.lo:s.hi], p.Grad[s.lo:s.hi], c.m[s.param][s.lo:s.hi], c.v[s.param][s.lo:s.hi], step)
	}
}

// ZeroGrad sets every parameter's gradient to zero.
func (o *AdamW) ZeroGrad() {
	for _, p := range o.core.params {
		clear(p.Grad)
	}
}

// adamWStateName is the state tensor name of moment ("m" or "v") of param.
func adamWStateName(param, moment string) string {
	return "optim." + param + "." + moment
}

// State returns copies of the optimizer moments for checkpointing, named
// "optim.<param>.m" and "optim.<param>.v" with the parameter's shape, in
// parameter order (m before v), together with the step count, which the
// caller stores (e.g. in checkpoint metadata) and hands back to LoadState.
func (o *AdamW) State() (tensors []NamedTensor, step int) { return o.state(true) }

// state is State, with the moments' data shared with the optimizer rather than copied when
// copyData is false: for a checkpoint written before the optimizer steps again (the training
// loop's), which then makes no copy of the optimizer's memory (two per parameter) each time.
func (o *AdamW) state(copyData bool) (tensors []NamedTensor, step int) {
	c := o.core
	tensors = make([]NamedTensor, 0, 2*len(c.params))
	for i, p := range c.params {
		m, v := c.m[i], c.v[i]
		if copyData {
			m, v = slices.Clone(m), slices.Clone(v)
		}
		tensors = append(tensors,
			NamedTensor{Name: adamWStateName(p.Name, "m"), Shape: slices.Clone(p.Shape), Data: m},
			NamedTensor{Name: adamWStateName(p.Name, "v"), Shape: slices.Clone(p.Shape), Data: v},
		)
	}
	return tensors, o.step
}

// LoadState restores moments and step count saved by State, copying the data.
//
// tensors may hold other entries (e.g. the model weights of the same
// checkpoint); they are ignored, except that a key of the form
// "optim.<name>.m" or "optim.<name>.v" for a name that is not one of the
// optimizer's parameters is an error (the checkpoint belongs to another
// model). Every parameter's two tensors must be present with as many
// elements as the parameter (the map carries no shapes; LoadStateTensors
// checks them too), and step must be >= 0. On error, which wraps
// ErrAdamWState, the optimizer is left unchanged.
func (o *AdamW) LoadState(tensors map[string][]float32, step int) error {
	if step < 0 {
		return fmt.Errorf("%w: negative step count %d", ErrAdamWState, step)
	}
	c := o.core
	var errs []error
	for _, p := range c.params {
		for _, moment := range [...]string{"m", "v"} {
			name := adamWStateName(p.Name, moment)
			data, ok := tensors[name]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("%w: missing tensor %q", ErrAdamWState, name))
			case len(data) != len(p.Data):
				errs = append(errs, fmt.Errorf("%w: tensor %q has %d elements, want %d (shape %v)",
					ErrAdamWState, name, len(data), len(p.Data), p.Shape))
			}
		}
	}
	var unknown []string
	for name := range tensors {
		if param, ok := adamWStateParam(name); ok {
			if _, known := o.names[param]; !known {
				unknown = append(unknown, name)
			}
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		errs = append(errs, fmt.Errorf("%w: tensor %q is not for any parameter of this optimizer", ErrAdamWState, name))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for i, p := range c.params {
		copy(c.m[i], tensors[adamWStateName(p.Name, "m")])
		copy(c.v[i], tensors[adamWStateName(p.Name, "v")])
	}
	o.step = step
	return nil
}

// adamWStateParam returns the parameter name of an "optim.<name>.m" or
// "optim.<name>.v" key.
func adamWStateParam(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, "optim.")
	if !ok {
		return "", false
	}
	if param, ok := strings.CutSuffix(rest, ".m"); ok {
		return param, true
	}
	if param, ok := strings.CutSuffix(rest, ".v"); ok {
		return param, true
	}
	return "", false
}

// LoadStateTensors is LoadState for the tensors as State returns them: it
// also checks that each optimizer tensor has its parameter's shape and that
// no name appears twice.
func (o *AdamW) LoadStateTensors(tensors []NamedTensor, step int) error {
	m := make(map[string][]float32, len(tensors))
	for _, t := range tensors {
		if _, dup := m[t.Name]; dup {
			return fmt.Errorf("%w: tensor %q appears twice", ErrAdamWState, t.Name)
		}
		if param, ok := adamWStateParam(t.Name); ok {
			if i, known := o.names[param]; known {
				if want := o.core.params[i].Shape; !slices.Equal(t.Shape, want) {
					return fmt.Errorf("%w: tensor %q has shape %v, want %v", ErrAdamWState, t.Name, t.Shape, want)
				}
			}
		}
		m[t.Name] = t.Data
	}
	return o.LoadState(m, step)
}

// ClipGradNorm scales the gradients of params in place so that their global
// L2 norm (over all elements of all params, accumulated in float64) is at
// most maxNorm, and returns the norm before clipping.
//
// As in torch.nn.utils.clip_grad_norm_, the scale is maxNorm/(norm+1e-6), so
// a clipped norm ends just under maxNorm; gradients whose norm is already
// within the limit are left untouched. maxNorm <= 0 disables clipping (the
// norm is still returned). A NaN or infinite norm is returned as is and the
// gradients are left untouched.
//
// With at least clipParallelMin gradient elements in all, both passes run on
// the cores in parallel, a parameter at a time, with the same bits.
func ClipGradNorm(params []*Param, maxNorm float64) float64 {
	total := 0
	for _, p := range params {
		total += len(p.Grad)
	}
	if total >= clipParallelMin && runtime.GOMAXPROCS(0) > 1 && len(params) > 1 {
		return clipGradNormParallel(params, maxNorm)
	}
	return clipGradNormSerial(params, maxNorm)
}

// clipGradNormSerial is ClipGradNorm on the calling goroutine.
func clipGradNormSerial(params []*Param, maxNorm float64) float64 {
	var sum float64
	for _, p := range params {
		sum += sumSquares(p.Grad)
	}
	norm, s, clip := clipScale(sum, maxNorm)
	if clip {
		for _, p := range params {
			scaleGrad(p.Grad, s)
		}
	}
	return norm
}

// clipScale returns the norm of gradients whose squares sum to sum and the factor that clips
// it to maxNorm; clip is false where nothing is to be scaled (maxNorm <= 0, a NaN or infinite
// norm, a norm within the limit).
func clipScale(sum, maxNorm float64) (norm float64, scale float32, clip bool) {
	norm = math.Sqrt(sum)
	if maxNorm <= 0 || math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm, 0, false
	}
	coef := maxNorm / (norm + 1e-6)
	if coef >= 1 {
		return norm, 0, false
	}
	return norm, float32(coef), true
}

// scaleGrad multiplies g by s.
func scaleGrad(g []float32, s float32) {
	for i := range g {
		g[i] *= s
	}
}

// sumSquares returns the sum of the squares of x in float64, with four
// accumulators to break the add dependency chain.
func sumSquares(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a, b, c, d := float64(x[i]), float64(x[i+1]), float64(x[i+2]), float64(x[i+3])
		s0 += a * a
		s1 += b * b
		s2 += c * c
		s3 += d * d
	}
	for ; i < len(x); i++ {
		a := float64(x[i])
		s0 += a * a
	}
	return (s0 + s1) + (s2 + s3)
}
