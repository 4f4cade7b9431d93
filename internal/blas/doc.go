// Package blas provides a fast single-precision matrix multiply (SGEMM) whose
// backend is chosen at run time: a native BLAS library (OpenBLAS on Linux,
// Apple Accelerate or OpenBLAS on macOS; amd64 and arm64) loaded with purego
// — no cgo and no build tags needed, so it works with CGO_ENABLED=0 — or,
// when none can be loaded (or on other platforms), a parallel pure-Go
// implementation: packed panels and AVX2/FMA assembly micro-kernels on amd64
// CPUs that have them (6×64 AVX-512 tiles where the CPU has AVX-512F, chosen at
// run time, with the same bits as the AVX2 ones), gonum's SSE level-1 kernels
// elsewhere. SgemmBF16 is the bfloat16 product of mixed-precision training, on
// AVX512-BF16 dot products where the CPU has them.
//
// The backend is selected once, lazily, on first use. The environment
// variable TINYCHAT_BLAS controls the choice:
//
//	unset, "" or "auto"  pure Go on amd64 CPUs with AVX2 and FMA (there its kernels
//	                     are faster than OpenBLAS); elsewhere try the native
//	                     libraries, fall back to pure Go
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
//
// For an inference engine's decode steps, VecMat (one row) and DecodeSgemm (up
// to 16 rows) run the pure-Go AVX2 kernels whatever the backend: at so few rows
// they beat a native library's general product, whose setup costs more than
// the product.
//
// SgemmSerial computes a product on the calling goroutine with Sgemm's bits,
// for callers that already spread many small products over the cores.
//
// Results depend on the backend, never on GOMAXPROCS, SetThreads or which
// goroutine computed which block. On the pure-Go path the AVX2 and AVX-512
// kernels give the same bits (every element one fused multiply-add chain in
// the same order), so amd64 CPUs with and without AVX-512 agree; the SSE
// fallback (no AVX2) and native libraries give their own. Large
// products are split into blocks chosen by their shape alone on the native
// path, and computed with the same arithmetic for every element whatever the
// block on the pure-Go path (see split.go). The exception is a native library
// left to thread itself (OPENBLAS_NUM_THREADS and the like set by the user):
// its results may depend on its thread count.
package blas
