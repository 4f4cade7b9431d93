package main

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// The watch sees memory the process touches in every window open at the time, and the
// kernel's high-water mark is at least it.
func TestMemWatchSeesAnAllocation(t *testing.T) {
	w := startMemWatch()
	if w == nil {
		t.Skip("skipped: no /proc/self/statm on this system")
	}
	defer w.close()
	w.begin("before")
	before := w.end("before")
	w.begin("outer")
	w.begin("inner")
	buf := make([]byte, 64<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1 // touch every page: resident now
	}
	got := w.end("inner")
	runtime.KeepAlive(buf)
	require.Greater(t, got, before+50, "64 MiB touched: the peak of the window grows by about that")
	require.GreaterOrEqual(t, w.end("outer"), got, "an overlapping window opened before it sees the same peak")
	require.Zero(t, w.end("never"), "a window never opened")
	hwm, ok := peakRSS()
	require.True(t, ok)
	require.GreaterOrEqual(t, hwm, got-1, "the high-water mark is never below a sample (but for the few pages the kernel counts lazily)")
}
