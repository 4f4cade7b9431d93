package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"sync"
	"time"
)

// memWatch samples the process's resident memory (Linux's /proc/self/statm) every
// memSampleEvery in the background and keeps, for each open window, the largest sample since
// it opened: a stage's peak, to within what a burst shorter than the interval hides. Windows
// may overlap (a stage that runs beside others: their peaks are the process's while each ran).
// The run's own peak comes from the kernel's high-water mark (peakRSS), which misses nothing.
// Both read nothing and report ok false where the system has no /proc.
type memWatch struct {
	mu      sync.Mutex
	windows map[string]float64 // MiB: each open window's peak so far
	stop    chan struct{}
	done    chan struct{}
}

const memSampleEvery = 20 * time.Millisecond

// startMemWatch starts sampling; nil where the process's memory cannot be read.
func startMemWatch() *memWatch {
	if _, ok := residentMiB(); !ok {
		return nil
	}
	w := &memWatch{windows: map[string]float64{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(memSampleEvery)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				w.sample()
			}
		}
	}()
	return w
}

func (w *memWatch) sample() {
	if mib, ok := residentMiB(); ok {
		w.mu.Lock()
		for name, peak := range w.windows {
			w.windows[name] = max(peak, mib)
		}
		w.mu.Unlock()
	}
}

// begin opens the window name (again, if it was open) at the memory resident now.
func (w *memWatch) begin(name string) {
	mib, _ := residentMiB()
	w.mu.Lock()
	w.windows[name] = mib
	w.mu.Unlock()
}

// end closes the window name and returns the largest sample since it opened (one taken now
// included); 0 for a window never opened.
func (w *memWatch) end(name string) float64 {
	w.sample()
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.windows[name]
	delete(w.windows, name)
	return p
}

// close stops the sampling.
func (w *memWatch) close() {
	close(w.stop)
	<-w.done
}

// residentMiB is the memory resident now (statm's second field, in pages).
func residentMiB() (float64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseFloat(string(f[1]), 64)
	if err != nil {
		return 0, false
	}
	return pages * float64(os.Getpagesize()) / (1 << 20), true
}

// peakRSS is the process's peak resident memory so far (the kernel's high-water mark,
// /proc/self/status's VmHWM), in MiB: what `/usr/bin/time -v` reports for the process. (That
// tool, run on `go run`, reports a larger figure when the program has to be built first: the
// Go linker's peak, about 420 MB for this program, is the largest of the processes it waits
// for.)
func peakRSS() (float64, bool) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("VmHWM:")) {
			continue
		}
		f := bytes.Fields(line[len("VmHWM:"):])
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, false
		}
		kb, err := strconv.ParseFloat(string(f[0]), 64)
		return kb / 1024, err == nil
	}
	return 0, false
}
