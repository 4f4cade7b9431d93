package blas

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// EnvVar is the environment variable that selects the backend; see the
// package documentation for its values.
const EnvVar = "TINYCHAT_BLAS"

// sgemmFunc is the signature every backend implements. Arguments have already
// been validated by checkSgemm, and m, n, k are > 0 and alpha != 0.
type sgemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// backend is one selected SGEMM implementation.
type backend struct {
	name   string
	native bool
	sgemm  sgemmFunc // what Sgemm calls
	serial sgemmFunc // what SgemmSerial calls: sgemm's bits on the calling goroutine

	// Native backends only: raw is one library call; sgemm splits a product
	// into blocks that depend only on its shape (see splitSgemmByShape) and
	// calls raw, on one library thread, for each, on up to parts goroutines
	// at once — unless libThreaded: the library threads itself (the user set
	// its thread count, or it has none to set) and gets whole products.
	raw           sgemmFunc
	parts         atomic.Int32
	libThreaded   bool
	setLibThreads func(n int) // the library's own thread count; nil without control
	libThreads    func() int  // nil when unknown

	initialParts int // parts right after selection
}

var (
	selectOnce sync.Once
	selected   *backend
)

// current returns the backend, selecting it on first use.
func current() *backend {
	selectOnce.Do(func() {
		selected = selectBackend(os.Getenv(EnvVar))
		selected.configureThreads()
	})
	return selected
}

// configureThreads sets a native backend's thread policy: the library runs
// single-threaded and Sgemm splits each large product across GOMAXPROCS
// goroutines itself — unless the user set one of the libraries' usual
// environment variables, or the library has no thread control (Apple
// Accelerate), in which case the library's own threading is kept and products
// are not split.
func (b *backend) configureThreads() {
	if !b.native {
		return
	}
	parts := 1
	b.libThreaded = userSetThreads() || b.setLibThreads == nil
	if !b.libThreaded {
		b.setLibThreads(1)
		parts = gomaxprocs()
	}
	b.parts.Store(int32(parts))
	b.initialParts = parts
}

// pureGoName names the pure-Go backend by the kernels it runs on this CPU.
func pureGoName() string {
	if useAVX2 && useAVX512 {
		return "pure Go (AVX-512 assembly)"
	}
	if useAVX2 {
		return "pure Go (AVX2/FMA assembly)"
	}
	return "pure Go (gonum SSE kernels)"
}

// pureGoBackend returns the pure-Go backend; note, if non-empty, is appended
// to its name (used to say why a requested native library is not in use).
func pureGoBackend(note string) *backend {
	name := pureGoName()
	if note != "" {
		name += " [" + note + "]"
	}
	return &backend{name: name, sgemm: sgemmGo, serial: sgemmGoSerial}
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
		if autoPrefersPureGo() {
			return pureGoBackend(autoPureGoNote)
		}
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
		b := selectBackend("auto")
		b.name += fmt.Sprintf(" [unknown %s=%q ignored]", EnvVar, env)
		return b
	}
}

// autoPureGoNote is the pure-Go backend's note when auto chose it over any native library
// (see autoPrefersPureGo).
const autoPureGoNote = "auto: faster than a native BLAS on CPUs with AVX2; " + EnvVar + "=native selects one"

// userSetThreads reports whether one of the native libraries' thread-count
// environment variables is set.
//
// Why the library runs on one thread and Sgemm splits products itself: the
// same policy then serves every backend (the pure-Go kernels split the same
// way) and libraries without thread control, and no library worker keeps
// spinning after a product while the element-wise kernels run. At the
// shakespeare-char training shape the two are equal within noise on the 2-core
// development machine (BenchmarkTrainingStep in package train, alternating 3
// runs each: 45.3 ms split by Go, 45.0 ms with OPENBLAS_NUM_THREADS=2);
// BenchmarkTrainingMix here compares them on one layer's products.
func userSetThreads() bool {
	for _, e := range []string{"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"} {
		if os.Getenv(e) != "" {
			return true
		}
	}
	return false
}

// Name reports the backend in use, e.g.
// "openblas (/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0; OpenBLAS 0.3.26 ...)"
// or "pure Go (AVX2/FMA assembly)". When TINYCHAT_BLAS asked for a native library that
// could not be loaded, the reason is appended in brackets.
func Name() string { return current().name }

// IsNative reports whether a native BLAS library is in use.
func IsNative() bool { return current().native }

// SetThreads sets the number of goroutines that compute the blocks of one large Sgemm call
// at once; n <= 0 restores the default. On the pure-Go path the default is GOMAXPROCS (read
// at each call) and the blocks follow n, with the same bits whatever n is (see Determinism in
// split.go). On the native path each block calls the library on one thread and the blocks
// depend only on the product's shape; the default is runtime.GOMAXPROCS(0) at selection (1
// when the user set OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS, OMP_NUM_THREADS or
// VECLIB_MAXIMUM_THREADS, or when the library has no thread control: threading is then the
// library's, which gets whole products). At most maxParts (16). Safe to call while products
// run on other goroutines; a call already running keeps its split.
func SetThreads(n int) {
	b := current()
	if !b.native {
		goThreads.Store(int32(min(max(n, 0), maxParts)))
		return
	}
	if n <= 0 {
		n = b.initialParts
	}
	b.parts.Store(int32(min(n, maxParts)))
}

// goThreads is SetThreads' setting for the pure-Go path; 0 means GOMAXPROCS.
var goThreads atomic.Int32

// goParts is the number of goroutines one pure-Go product is split across.
func goParts() int {
	if n := goThreads.Load(); n > 0 {
		return int(n)
	}
	return min(gomaxprocs(), maxParts)
}

// Threads reports the number of goroutines one large Sgemm call uses (see SetThreads).
func Threads() int {
	b := current()
	if !b.native {
		return goParts()
	}
	return int(b.parts.Load())
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

// SgemmSerial is Sgemm computed on the calling goroutine alone, with the same bits: for
// callers that already spread many small products over the cores (the attention kernels'
// per-head products), where splitting each one again only adds hand-offs.
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmWith(current().serial, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmTriangularSerial computes C = alpha·op(A)·B on the calling goroutine, where op(A) is
// m×m and zero above its diagonal (lower) or below it (upper: the transpose of a lower one), B
// is m×n (not transposed) and C m×n is overwritten — skipping the products of op(A)'s zeros, 6
// rows of C at a time: a causal attention head's P·V and dS·K (lower, A not transposed) and
// Pᵀ·dY and dSᵀ·Q (upper, A transposed). Each element of C is the multiply-add chain of
// SgemmSerial over the whole product without the terms whose factor of op(A) is zero, so with
// finite B it has SgemmSerial's bits (TestSgemmTriangularMatchesFull). It reports whether it
// computed the product: only the pure-Go path with AVX2 does, for n of 16 or 32 (or 64 with
// AVX-512) and m of at most one block of k (256); otherwise it does nothing and returns false, and the caller
// computes the product another way.
func SgemmTriangularSerial(upper, transA bool, m, n int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) bool {
	if current().native || !triangularFits(m, n) {
		return false
	}
	checkSgemm(transA, false, m, n, m, a, lda, b, ldb, c, ldc)
	sgemmTriangularAVX2(upper, transA, m, n, alpha, a, lda, b, ldb, c, ldc)
	return true
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
