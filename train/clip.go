package train

import (
	"runtime"
	"sync/atomic"

	"github.com/tinychat-go/tinychat/internal/freelist"
	"github.com/tinychat-go/tinychat/internal/workpool"
)

// clipParallelMin is the fewest gradient elements in all for which ClipGradNorm spreads its
// two passes over the cores; below it the goroutines' hand-over costs more than it saves.
const clipParallelMin = 1 << 18

// clipWork is one ClipGradNorm call spread over the cores: parameters handed out one at a
// time (an atomic counter), each parameter's sum of squares stored in sums so that the caller
// adds them in parameter order — the serial loop's sum, so the same bits however many cores
// took part — and then each parameter's gradients scaled by scale.
type clipWork struct {
	params []*Param
	sums   []float64
	scale  float32
	next   atomic.Int64
	square bool // this pass sums squares (else it scales)
	jobs   []clipJob
}

// clipJob is one worker's share of a clipWork pass.
type clipJob struct {
	w   *clipWork
	job workpool.Job
}

// Run takes parameters until none is left.
func (j *clipJob) Run() { j.w.drain() }

func (w *clipWork) drain() {
	for {
		i := int(w.next.Add(1)) - 1
		if i >= len(w.params) {
			return
		}
		g := w.params[i].Grad
		if w.square {
			w.sums[i] = sumSquares(g)
			continue
		}
		scaleGrad(g, w.scale)
	}
}

var clipList freelist.List[clipWork]

// pass runs one pass over the parameters on up to GOMAXPROCS goroutines, the caller included.
func (w *clipWork) pass(square bool) {
	w.square = square
	w.next.Store(0)
	helpers := min(runtime.GOMAXPROCS(0), len(w.params)) - 1
	for len(w.jobs) < helpers {
		w.jobs = append(w.jobs, clipJob{})
	}
	for i := range helpers {
		w.jobs[i].w = w
		w.jobs[i].job.Start(&w.jobs[i], helpers)
	}
	w.drain()
	for i := helpers - 1; i >= 0; i-- {
		w.jobs[i].job.Finish()
		w.jobs[i].w = nil
	}
}

// clipGradNormParallel is ClipGradNorm's two passes spread over the cores, with its bits.
func clipGradNormParallel(params []*Param, maxNorm float64) float64 {
	w := clipList.Get()
	defer func() {
		w.params = nil
		clipList.Put(w)
	}()
	w.params = params
	if cap(w.sums) < len(params) {
		w.sums = make([]float64, len(params))
	}
	w.sums = w.sums[:len(params)]
	w.pass(true)
	var sum float64
	for _, s := range w.sums {
		sum += s
	}
	norm, scale, clip := clipScale(sum, maxNorm)
	if !clip {
		return norm
	}
	w.scale = scale
	w.pass(false)
	return norm
}
