package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
)

// stagePeak reads the process's peak resident set size since the last call (Linux's VmHWM,
// in MiB) and resets it (writing 5 to /proc/self/clear_refs), so that each stage's figure is
// its own peak, not the run's so far. ok is false where the system has no such files.
//
// The whole run's figure is the largest of them; `/usr/bin/time -v go run` reports a larger
// one when the program has to be built first: the Go linker's own peak (about 420 MB for this
// program) is the largest of the processes it waits for.
func stagePeak() (mib float64, ok bool) {
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
		if err != nil {
			return 0, false
		}
		// A failed reset leaves the figures cumulative (still true peaks, of the run so far).
		_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
		return kb / 1024, true
	}
	return 0, false
}
