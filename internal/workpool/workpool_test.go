package workpool

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
// many goroutines at once and nested three deep (a blocking pool would deadlock here), with
// workers that sleep at once and with workers that look for work first.
func TestJobsRunOnceNestedAndConcurrent(t *testing.T) {
	for _, s := range []time.Duration{0, DefaultSpin, time.Second} {
		t.Run("spin="+s.String(), func(t *testing.T) {
			defer SetSpin(SetSpin(s))
			Hold()
			defer Release()
			runNestedConcurrent(t)
		})
	}
}

func runNestedConcurrent(t *testing.T) {
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

// busy is a part that keeps a core busy for d, and says when it starts.
type busy struct {
	d       time.Duration
	started *atomic.Bool
}

func (p busy) Run() {
	p.started.Store(true)
	spinFor(p.d)
}

func spinFor(d time.Duration) {
	for t0 := time.Now(); time.Since(t0) < d; {
	}
}

// BenchmarkWakeAfterPause hands a part of 100 µs to the pool after the caller was busy on
// its own for 300 µs (an operation that runs on one core), computes 100 µs itself and waits:
// 400 µs an operation when a worker takes the part in time, 500 µs when the caller ends up
// running it too. Reports the share of parts a worker had started by then, with workers that
// sleep at once (spin=0) and with the default spin, the pool held.
//
//	go test -run '^$' -bench WakeAfterPause ./internal/workpool/
func BenchmarkWakeAfterPause(b *testing.B) {
	for _, s := range []time.Duration{0, DefaultSpin} {
		b.Run("spin="+s.String(), func(b *testing.B) {
			defer SetSpin(SetSpin(s))
			Hold()
			defer Release()
			var started atomic.Bool
			var j Job
			taken := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				spinFor(300 * time.Microsecond)
				started.Store(false)
				j.Start(busy{d: 100 * time.Microsecond, started: &started}, 1)
				spinFor(100 * time.Microsecond)
				if started.Load() {
					taken++
				}
				j.Finish()
			}
			b.ReportMetric(100*float64(taken)/float64(b.N), "%taken")
		})
	}
}

// Without a Hold nobody looks for work: spinUntil asks once and returns. With one it asks
// until ready says yes, or until the hold is released.
func TestSpinOnlyWhileHeld(t *testing.T) {
	defer SetSpin(SetSpin(time.Hour))
	calls := 0
	spinUntil(func() bool { calls++; return false })
	if calls != 1 {
		t.Fatalf("without a hold: asked %d times, want 1", calls)
	}
	Hold()
	calls = 0
	spinUntil(func() bool { calls++; return calls == 40 })
	if calls != 40 {
		t.Fatalf("held: asked %d times, want 40 (until ready)", calls)
	}
	calls = 0
	spinUntil(func() bool {
		if calls++; calls == 100 {
			Release()
		}
		return false
	})
	if calls < 100 || calls > 120 {
		t.Fatalf("released after 100 asks: asked %d times, want 100 to 115 (the hold is checked every 16)", calls)
	}
	if holds.Load() != 0 {
		t.Fatalf("holds = %d after Release", holds.Load())
	}
}
