// Package racecheck tells tests whether their binary was built with the race detector, under
// which sync.Pool drops items at random and tests that count allocations must skip.
package racecheck

import "runtime/debug"

// Enabled reports whether the running binary was built with -race.
func Enabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}
