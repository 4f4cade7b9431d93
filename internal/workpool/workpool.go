package workpool

import (
	"sync"
	"sync/atomic"
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
	claimed int32 = iota // being run, done, or idle
	queued               // waiting for a worker or the caller
)

var (
	queue = make(chan *Job, 256)

	mu      sync.Mutex
	workers int
)

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
		<-j.done
	}
	j.r = nil // a stale queue entry for this job finds it claimed and skips it
}

// ensureWorkers starts worker goroutines until n exist.
func ensureWorkers(n int) {
	mu.Lock()
	defer mu.Unlock()
	for ; workers < n; workers++ {
		go func() {
			for j := range queue {
				if j.state.CompareAndSwap(queued, claimed) {
					j.r.Run()
					j.done <- struct{}{}
				}
			}
		}()
	}
}
