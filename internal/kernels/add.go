package kernels

// addMinChunk is the fewest elements per goroutine for Add: below it (a few µs of work) the
// hand-off costs more than it saves.
const addMinChunk = 16384

// Add sets out[i] = x[i] + y[i] for every i < len(out) (x and y at least as long; out may be
// x or y), on the cores (see SetWorkers) and, with AVX2, 8 lanes at a time: a residual
// connection's sum, or two gradient contributions to one node. Each element is one rounded
// addition wherever it lies, so the bits do not depend on the split. In steady state it does
// not allocate (a training step runs it for every residual sum).
func Add(out, x, y []float32) {
	n := len(out)
	addTasks.parallelFor(n, addMinChunk, addArgs{out: out, x: x[:n], y: y[:n]}, func(a *addArgs, lo, hi int) {
		addRange(a.out[lo:hi], a.x[lo:hi], a.y[lo:hi])
	})
}

// addArgs are Add's arguments.
type addArgs struct{ out, x, y []float32 }

var addTasks tasks[addArgs]

// addRange is Add on the calling goroutine.
func addRange(out, x, y []float32) {
	if len(out) == 0 {
		return
	}
	x, y = x[:len(out)], y[:len(out)]
	if useAVX2 {
		addAVX2(&out[0], &x[0], &y[0], len(out))
		return
	}
	for i := range out {
		out[i] = x[i] + y[i]
	}
}
