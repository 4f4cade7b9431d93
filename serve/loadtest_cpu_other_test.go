//go:build !unix

package serve

import "time"

// processCPU is 0 where getrusage is not available: BenchmarkServe's cpu-us/token reads 0.
func processCPU() time.Duration { return 0 }
