package freelist

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

type buf struct{ data []float32 }

// Objects come back most recent first, survive garbage collections, and a warmed-up Get/Put
// allocates nothing.
func TestListReuses(t *testing.T) {
	var l List[buf]
	a, b := l.Get(), l.Get()
	if a == b {
		t.Fatal("two Gets on an empty list returned one object")
	}
	a.data = make([]float32, 1000)
	l.Put(a)
	l.Put(b)
	runtime.GC()
	runtime.GC()
	if got := l.Get(); got != b {
		t.Fatal("Get did not return the last object put")
	}
	if got := l.Get(); got != a || len(got.data) != 1000 {
		t.Fatal("the first object was not kept across collections")
	}
	l.Put(a)
	if n := testing.AllocsPerRun(100, func() { l.Put(l.Get()) }); n != 0 {
		t.Errorf("%v allocations per Get and Put", n)
	}
}

// A packing buffer taken from a List, grown, put back, and taken again with its storage.
func ExampleList() {
	var l List[buf]
	x := l.Get() // a new buf: the list is empty
	x.data = append(x.data[:0], 1, 2, 3)
	l.Put(x)
	y := l.Get() // x again, its storage kept
	fmt.Println(y == x, y.data, l.Len())
	// Output: true [1 2 3] 0
}

// Concurrent users never share an object, and the list holds no more objects than were out
// at once.
func TestListConcurrent(t *testing.T) {
	var l List[buf]
	const goroutines = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	out := map[*buf]bool{}
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				x := l.Get()
				mu.Lock()
				if out[x] {
					mu.Unlock()
					t.Error("an object was handed out twice")
					return
				}
				out[x] = true
				mu.Unlock()
				runtime.Gosched()
				mu.Lock()
				delete(out, x)
				mu.Unlock()
				l.Put(x)
			}
		}()
	}
	wg.Wait()
	if n := l.Len(); n < 1 || n > goroutines {
		t.Errorf("the list holds %d objects; at most %d were out at once", n, goroutines)
	}
}
