package main

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// The watch sees memory the process touches, and the kernel's high-water mark is at least it.
func TestMemWatchSeesAnAllocation(t *testing.T) {
	w := startMemWatch()
	if w == nil {
		t.Skip("skipped: no /proc/self/statm on this system")
	}
	defer w.close()
	before := w.take()
	buf := make([]byte, 64<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1 // touch every page: resident now
	}
	got := w.take()
	runtime.KeepAlive(buf)
	require.Greater(t, got, before+50, "64 MiB touched: the peak since the last take grows by about that")
	hwm, ok := peakRSS()
	require.True(t, ok)
	require.GreaterOrEqual(t, hwm, got-1, "the high-water mark is never below a sample (but for the few pages the kernel counts lazily)")
}
