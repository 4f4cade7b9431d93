// Package blas provides a fast single-precision matrix multiply (SGEMM) whose
// backend is chosen at run time: a native BLAS library (OpenBLAS on Linux,
// Apple Accelerate or OpenBLAS on macOS; amd64 and arm64) loaded with purego
// — no cgo and no build tags needed, so it works with CGO_ENABLED=0 — or,
// when none can be loaded (or on other platforms), a parallel pure-Go
// implementation built on gonum's assembly level-1 kernels.
//
// The backend is selected once, lazily, on first use. The environment
// variable TINYCHAT_BLAS controls the choice:
//
//	unset, "" or "auto"  try the native libraries, fall back to pure Go
//	"go" (or "gonum")    always use pure Go
//	"native"             require a native library (any of the known ones)
//	"openblas"           require OpenBLAS
//	"accelerate"         require Apple Accelerate
//	a path (contains /)  require the library at that path (must export cblas_sgemm)
//
// When a required native library cannot be loaded the package still works
// (it falls back to pure Go) and [Name] says why.
//
// All matrices are row-major, as in gonum's blas package.
package blas

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
)

// EnvVar is the environment variable that selects the backend; see the
// package documentation for its values.
const EnvVar = "TINYCHAT_BLAS"

// sgemmFunc is the signature every backend implements. Arguments have already
// been validated by checkSgemm, and m, n, k are > 0 and alpha != 0.
type sgemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// backend is one selected SGEMM implementation.
type backend struct {
	name       string
	native     bool
	sgemm      sgemmFunc
	setThreads func(n int) // nil when the backend has no thread control
	threads    func() int  // nil when unknown

	initialThreads int // thread count right after selection (0: unknown)
}

var (
	selectOnce sync.Once
	selected   *backend
)

// current returns the backend, selecting it on first use.
func current() *backend {
	selectOnce.Do(func() {
		selected = selectBackend(os.Getenv(EnvVar))
		if selected.setThreads != nil {
			selected.setThreads(defaultThreads()) // no-op for 0
			if selected.threads != nil {
				selected.initialThreads = selected.threads()
			}
		}
	})
	return selected
}

// pureGoBackend returns the pure-Go backend; note, if non-empty, is appended
// to its name (used to say why a requested native library is not in use).
func pureGoBackend(note string) *backend {
	name := "gonum (pure Go)"
	if note != "" {
		name += " [" + note + "]"
	}
	return &backend{name: name, sgemm: sgemmGo}
}

// selectBackend chooses a backend according to env, the value of TINYCHAT_BLAS.
// It never fails: when a required native library cannot be loaded it returns
// the pure-Go backend with the reason in its name.
func selectBackend(env string) *backend {
	v := strings.ToLower(strings.TrimSpace(env))
	switch {
	case v == "go" || v == "gonum" || v == "purego" || v == "pure-go":
		return pureGoBackend("")
	case v == "" || v == "auto":
		if b, err := loadNative(candidatesFor("")); err == nil {
			return b
		}
		return pureGoBackend("")
	case v == "native" || v == "openblas" || v == "accelerate":
		b, err := loadNative(candidatesFor(v))
		if err != nil {
			return pureGoBackend(fmt.Sprintf("%s=%s requested but unavailable: %v", EnvVar, v, err))
		}
		return b
	case strings.ContainsRune(env, '/'):
		path := strings.TrimSpace(env)
		b, err := loadNative([]candidate{pathCandidate(path)})
		if err != nil {
			return pureGoBackend(fmt.Sprintf("%s=%s requested but unavailable: %v", EnvVar, path, err))
		}
		return b
	default:
		note := fmt.Sprintf("unknown %s=%q ignored", EnvVar, env)
		if b, err := loadNative(candidatesFor("")); err == nil {
			b.name += " [" + note + "]"
			return b
		}
		return pureGoBackend(note)
	}
}

// defaultThreads is the thread count given to a native library at selection
// time: runtime.GOMAXPROCS(0), unless the user set one of the usual
// environment variables, in which case the library's own choice is kept (0
// means "leave it alone").
//
// Measured on the 2-core development machine (AMD EPYC Zen 4 VM, OpenBLAS
// 0.3.21 pthreads, quiet machine, medians):
//   - isolated GEMMs at the GPT training shapes (BenchmarkSgemm): 2 threads
//     1.3-1.8x faster (768×128·128×512: 179 vs 101 GFLOP/s), equal at M=1;
//   - 1 vs 2 threads timed alternately, 60 pairs: the 15 GEMMs of one layer's training step: 6.5 vs 11.2 ms;
//   - the same step with a parallel element-wise pass over GOMAXPROCS
//     goroutines after each GEMM (BenchmarkTrainingMix): 12.6 vs 16.9 ms.
//
// So two threads win even with the Go side busy between calls. They lose
// (by 3-8%) only while another process keeps both cores busy; use
// SetThreads(1) or OPENBLAS_NUM_THREADS=1 on a shared machine.
func defaultThreads() int {
	for _, e := range []string{"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"} {
		if os.Getenv(e) != "" {
			return 0
		}
	}
	return gomaxprocs()
}

// Name reports the backend in use, e.g.
// "openblas (/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0; OpenBLAS 0.3.26 ...)"
// or "gonum (pure Go)". When TINYCHAT_BLAS asked for a native library that
// could not be loaded, the reason is appended in brackets.
func Name() string { return current().name }

// IsNative reports whether a native BLAS library is in use.
func IsNative() bool { return current().native }

// SetThreads sets the number of threads the native library uses for each
// call; n <= 0 restores the count in effect when the backend was selected
// (runtime.GOMAXPROCS(0), or the library's own choice when
// OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS or OMP_NUM_THREADS is set). It is a
// no-op for the pure-Go backend (which always uses up to GOMAXPROCS
// goroutines) and for libraries without thread control (Apple Accelerate:
// use VECLIB_MAXIMUM_THREADS).
func SetThreads(n int) {
	b := current()
	if b.setThreads == nil {
		return
	}
	if n <= 0 {
		n = b.initialThreads
	}
	b.setThreads(n) // ignores n <= 0
}

// Sgemm computes C = alpha*op(A)*op(B) + beta*C with row-major matrices,
// where op(X) is X, or Xᵀ when the corresponding trans flag is set. op(A) is
// m×k, op(B) is k×n and C is m×n; lda, ldb and ldc are the row strides of the
// stored A (m×k, or k×m when transposed), B (k×n, or n×k) and C.
//
// It panics, like gonum's Sgemm, when a dimension is negative, a stride is too
// small or a slice too short. When beta is 0, C need not be initialised (NaNs
// in C are overwritten).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmWith(current().sgemm, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemmWith validates the arguments, handles the degenerate cases in Go (so
// backends never see empty slices) and calls f.
func sgemmWith(f sgemmFunc, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkSgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	f(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// scaleC sets C = beta*C (C = 0 when beta is 0, whatever C held).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// checkSgemm panics when the arguments do not describe matrices that fit in
// the given slices. Native libraries do no bounds checking, so this is what
// keeps a bad call from corrupting memory.
func checkSgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("blas: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	aRows, aCols := m, k
	if transA {
		aRows, aCols = k, m
	}
	bRows, bCols := k, n
	if transB {
		bRows, bCols = n, k
	}
	checkMat("A", aRows, aCols, a, lda)
	checkMat("B", bRows, bCols, b, ldb)
	checkMat("C", m, n, c, ldc)
}

func checkMat(what string, rows, cols int, x []float32, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("blas: bad leading dimension of %s: %d < max(1, %d)", what, ld, cols))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; len(x) < need {
		panic(fmt.Sprintf("blas: %s too short: len %d < %d for %d×%d with stride %d", what, len(x), need, rows, cols, ld))
	}
}

// candidatesFor and gomaxprocs are seams for tests.
var candidatesFor = nativeCandidates

var gomaxprocs = func() int { return runtime.GOMAXPROCS(0) }
