package workpool

import (
	"sync"
	"sync/atomic"
	"testing"
)

type counter struct{ n *atomic.Int32 }

func (c counter) Run() { c.n.Add(1) }

// nested starts parts that themselves start parts.
type nested struct {
	depth int
	n     *atomic.Int32
}

func (t nested) Run() {
	t.n.Add(1)
	if t.depth == 0 {
		return
	}
	var jobs [3]Job
	for i := range jobs {
		jobs[i].Start(nested{t.depth - 1, t.n}, 2)
	}
	for i := range jobs {
		jobs[i].Finish()
	}
}

// Every started job runs exactly once by the time Finish returns, reused jobs included, from
// many goroutines at once and nested three deep (a blocking pool would deadlock here).
func TestJobsRunOnceNestedAndConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n atomic.Int32
			var jobs [4]Job
			for rep := 0; rep < 50; rep++ {
				n.Store(0)
				for i := range jobs {
					jobs[i].Start(nested{2, &n}, 3)
				}
				for i := range jobs {
					jobs[i].Finish()
				}
				// each nested{2} runs 1 + 3 + 9 parts
				if got := n.Load(); got != 4*13 {
					t.Errorf("ran %d parts, want %d", got, 4*13)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// With no worker (n = 0 and none started yet, or all busy) Finish runs the job itself.
func TestFinishRunsUnclaimedJob(t *testing.T) {
	var n atomic.Int32
	var j Job
	for i := 0; i < 100; i++ {
		j.Start(counter{&n}, 0)
		j.Finish()
	}
	if n.Load() != 100 {
		t.Fatalf("ran %d times, want 100", n.Load())
	}
}
