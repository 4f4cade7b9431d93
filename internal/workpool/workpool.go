package workpool

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Runner is the work of one part.
type Runner interface{ Run() }

// Job is one part handed to the pool. Embed it (or keep one) per part and reuse it: Start
// and Finish pair up, and a Job must not be started again before Finish returns.
type Job struct {
	r     Runner
	state atomic.Int32
	done  chan struct{}
}

// Job states.
const (
	claimed  int32 = iota // being run (by a worker or the caller), or idle
	queued                // waiting for a worker or the caller
	finished              // run by a worker, which then sends on done
)

var (
	queue = make(chan *Job, 256)

	mu      sync.Mutex
	workers int
)

// DefaultSpin is how long, while a caller holds the pool (Hold), an idle worker keeps looking
// for the next part before it sleeps, and how long Finish looks for a worker's part to end
// before it sleeps. Waking a sleeping worker takes longer than the parts it is woken for: on
// the 2-core development machine (a virtual machine) a worker woken for a part of 100 µs
// started it in time for 2–6% of the parts, and with 1 ms of looking for 99%
// (BenchmarkWakeAfterPause). A training step hands parts to the pool every few hundred
// microseconds, between operations that run on one core. While it looks, a worker yields its
// core to any other goroutine that is ready to run.
const DefaultSpin = time.Millisecond

var (
	// spin is SetSpin's setting in nanoseconds.
	spin atomic.Int64
	// holds counts the Hold calls not yet released.
	holds atomic.Int32
)

func init() { spin.Store(int64(DefaultSpin)) }

// SetSpin sets how long idle workers and Finish look for work before sleeping while the pool
// is held (d ≤ 0: not at all) and returns the previous setting. For benchmarks; results never
// depend on it.
func SetSpin(d time.Duration) time.Duration { return time.Duration(spin.Swap(int64(max(d, 0)))) }

// Hold asks for workers that stay awake between parts, looking for the next one for the spin
// time (DefaultSpin) before they sleep, until the matching Release: for a burst of parts a
// few hundred microseconds apart, such as a training step's. Without a hold a worker sleeps
// as soon as the queue is empty, which suits a server: a looking worker keeps a core the
// network poller would otherwise get to (serving tiny models' tokens in two lanes was 9%
// slower with workers always looking). Holds may nest and overlap.
func Hold() { holds.Add(1) }

// Release ends a Hold.
func Release() {
	if holds.Add(-1) < 0 {
		panic("workpool: Release without Hold")
	}
}

// Start queues r, to be run by a worker or by Finish, and makes sure at least n workers
// exist (n is how many parts the caller runs at once besides its own). It never blocks:
// when the queue is full the part is left for Finish.
func (j *Job) Start(r Runner, n int) {
	if j.done == nil {
		j.done = make(chan struct{}, 1)
	}
	j.r = r
	j.state.Store(queued) // publishes r to the worker that claims the job
	ensureWorkers(n)
	select {
	case queue <- j:
	default:
	}
}

// Finish returns once the job has run: it runs it on the calling goroutine if no worker has
// claimed it yet, and otherwise waits for the worker.
func (j *Job) Finish() {
	if j.state.CompareAndSwap(queued, claimed) {
		j.r.Run()
	} else {
		spinUntil(func() bool { return j.state.Load() == finished })
		<-j.done // sent right after finished is stored, if not already
	}
	j.r = nil // a stale queue entry for this job finds it claimed and skips it
}

// spinUntil calls ready, yielding the processor between calls, until it reports true, the
// spin time has passed or no Hold is left.
func spinUntil(ready func() bool) {
	if ready() {
		return
	}
	d := time.Duration(spin.Load())
	if d <= 0 || holds.Load() <= 0 {
		return
	}
	t0 := time.Now()
	for i := 1; !ready(); i++ {
		if i%16 == 0 && (time.Since(t0) > d || holds.Load() <= 0) {
			return
		}
		runtime.Gosched()
	}
}

// ensureWorkers starts worker goroutines until n exist.
func ensureWorkers(n int) {
	mu.Lock()
	defer mu.Unlock()
	for ; workers < n; workers++ {
		go work()
	}
}

// work is a worker: it runs queued parts, looking for the next one for the spin time while
// the pool is held before it sleeps on the queue.
func work() {
	var j *Job
	look := func() bool {
		select {
		case j = <-queue:
			return true
		default:
			return false
		}
	}
	for {
		if spinUntil(look); j == nil {
			j = <-queue
		}
		if j.state.CompareAndSwap(queued, claimed) {
			j.r.Run()
			j.state.Store(finished)
			j.done <- struct{}{}
		}
		j = nil
	}
}
