// Package freelist keeps small objects for reuse: the chunk tasks of the kernels and of the
// matrix multiply's split, the clipping pass's work, the native BLAS call's argument block —
// objects a training step takes and returns thousands of times.
//
// It does what sync.Pool does for them without two costs. sync.Pool empties at every garbage
// collection, after which each object is allocated again; and an object put back on another
// processor than the one it was taken on (a worker's part of a product, handed back by the
// caller) can make the pool allocate to grow its per-processor queues. A List is a stack under
// a mutex: it holds at most as many objects as were ever out at once, keeps them across
// collections, and in steady state allocates nothing.
//
// The matrix multiply's packing buffers stay in a sync.Pool: with them in Lists, the
// nanoGPT-shape step ran 4% slower (medians of 8 alternated rounds of BenchmarkTrainingStep in
// ./train, session 22) — most likely because sync.Pool's per-processor caches hand a core back
// the buffer it packed last, still in that core's cache, where a List hands back whichever
// buffer was returned last (not measured further).
package freelist

import "sync"

// List is a stack of *T for reuse. The zero value is empty and ready to use; a List must not
// be copied after first use.
type List[T any] struct {
	mu    sync.Mutex
	items []*T
}

// Get returns an object put back earlier, most recent first, or a new zero T when none is
// left.
func (l *List[T]) Get() *T {
	l.mu.Lock()
	n := len(l.items)
	if n == 0 {
		l.mu.Unlock()
		return new(T)
	}
	x := l.items[n-1]
	l.items[n-1] = nil
	l.items = l.items[:n-1]
	l.mu.Unlock()
	return x
}

// Put keeps x for a later Get. x must not be used after Put.
func (l *List[T]) Put(x *T) {
	l.mu.Lock()
	l.items = append(l.items, x)
	l.mu.Unlock()
}

// Len is the number of objects kept.
func (l *List[T]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.items)
}
