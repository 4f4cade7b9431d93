//go:build (darwin || linux) && (amd64 || arm64) && !android && !faketime

package blas

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/tinychat-go/tinychat/internal/freelist"
)

// CBLAS enum values (cblas.h).
const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

// candidate is a native library to try.
type candidate struct {
	kind  string // "openblas", "accelerate" or "library" (a user path)
	path  string // what is passed to dlopen
	ilp64 bool   // 64-bit integer interface (libopenblas64_)
}

// symbolSuffixes are tried in order when looking a symbol up: ILP64 builds of
// OpenBLAS usually suffix their symbols with "64_".
func (c candidate) symbolSuffixes() []string {
	if c.ilp64 {
		return []string{"64_", ""}
	}
	return []string{""}
}

func pathCandidate(path string) candidate {
	return candidate{kind: "library", path: path, ilp64: strings.Contains(filepath.Base(path), "blas64")}
}

// nativeCandidates lists the libraries to try for want ("" or "native": all
// of them; "openblas" or "accelerate": only that family), best first.
func nativeCandidates(want string) []candidate {
	var openblas, accelerate []candidate
	switch runtime.GOOS {
	case "darwin":
		accelerate = []candidate{{kind: "accelerate", path: "/System/Library/Frameworks/Accelerate.framework/Accelerate"}}
		for _, p := range []string{
			"libopenblas.dylib",
			"libopenblas.0.dylib",
			"/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
			"/usr/local/opt/openblas/lib/libopenblas.dylib",
			"/opt/local/lib/libopenblas.dylib",
		} {
			openblas = append(openblas, candidate{kind: "openblas", path: p})
		}
	default:
		for _, p := range []string{
			"libopenblas.so.0",    // Debian/Ubuntu (libopenblas0), Arch, Alpine
			"libopenblas.so",      // -dev symlink, custom builds
			"libopenblasp.so.0",   // Fedora/RHEL, pthreads
			"libopenblaso.so.0",   // Fedora/RHEL, OpenMP
			"libopenblas64_.so.0", // ILP64 with 64_ symbol suffix (Fedora, Julia)
			"libopenblas64_.so",
			"libopenblas64.so.0", // Debian ILP64
		} {
			openblas = append(openblas, candidate{kind: "openblas", path: p, ilp64: strings.Contains(p, "blas64")})
		}
	}
	switch want {
	case "openblas":
		return openblas
	case "accelerate":
		return accelerate
	default:
		return append(accelerate, openblas...)
	}
}

// loadNative returns a backend for the first candidate that loads and exports
// cblas_sgemm.
func loadNative(cands []candidate) (*backend, error) {
	if len(cands) == 0 {
		return nil, fmt.Errorf("no native BLAS library known for %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	var errs []string
	for _, c := range cands {
		b, err := loadCandidate(c)
		if err == nil {
			return b, nil
		}
		errs = append(errs, err.Error())
	}
	return nil, fmt.Errorf("%w: %s", errNoNative, strings.Join(errs, "; "))
}

var errNoNative = errors.New("no native BLAS library could be loaded")

// lookup finds name (with c's symbol suffixes) in the library handle.
func lookup(c candidate, h uintptr, name string) (uintptr, error) {
	sym, _, err := lookupSuffix(c, h, name)
	return sym, err
}

// lookupSuffix is lookup that also returns the suffix that matched.
func lookupSuffix(c candidate, h uintptr, name string) (uintptr, string, error) {
	var firstErr error
	for _, s := range c.symbolSuffixes() {
		sym, err := purego.Dlsym(h, name+s)
		if err == nil && sym != 0 {
			return sym, s, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = errors.New("symbol is nil")
	}
	return 0, "", fmt.Errorf("%s: %w", name, firstErr)
}

// cblasSgemmFn is cblas_sgemm, the binding used when a library has no Fortran
// sgemm_. All integer arguments are passed as Go int (64 bits): on the
// supported 64-bit little-endian ABIs (SysV amd64, AAPCS64 including Apple's)
// an int32 parameter reads the low half of the register or of its naturally
// aligned stack slot, and the stack layout of this signature is the same with
// 4- or 8-byte ints, so one binding serves both LP64 and ILP64 libraries.
// Dimensions are checked to fit in int32 for LP64 ones. purego's reflective
// call allocates a dozen small objects per call.
type cblasSgemmFn func(order, transA, transB, m, n, k int, alpha float32, a *float32, lda int, b *float32, ldb int, beta float32, c *float32, ldc int)

// fortranArgs holds the by-reference scalar arguments of one Fortran sgemm_
// call and the argument list itself. Integers are 64-bit: on a little-endian
// machine a pointer to a small int64 also reads as a pointer to the same
// int32, so one layout serves LP64 and ILP64 libraries. Blocks come from a
// pool and live on the heap.
type fortranArgs struct {
	transA, transB         byte
	m, n, k, lda, ldb, ldc int64
	alpha, beta            float32
	list                   [15]uintptr
}

var fortranArgsList freelist.List[fortranArgs]

// fortranSgemm returns an sgemmFunc calling the Fortran-interface sgemm_ at
// sym through purego.SyscallN: every argument is a pointer, so no
// floating-point registers are involved, and nothing is allocated per call.
// The row-major product C = op(A)·op(B) is the column-major product
// Cᵀ = op(B)ᵀ·op(A)ᵀ, so A and B swap places. The two trailing arguments are
// the hidden lengths of the character arguments that gfortran-built
// libraries expect (C implementations ignore them).
//
// The argument list is built in the pooled block rather than passed as
// separate uintptr(unsafe.Pointer(...)) arguments, which would make the
// compiler allocate the variadic slice on every call. That is safe because
// everything it points to is on the heap (the block, and the matrices, which
// gorgonia and the kernels allocate; Go's collector does not move heap objects
// — gorgonia already relies on this through go4.org/unsafe/assume-no-moving-gc)
// and stays reachable until the call returns (runtime.KeepAlive below).
func fortranSgemm(sym uintptr) sgemmFunc {
	return func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		p := fortranArgsList.Get()
		p.transA, p.transB = transChar(transA), transChar(transB)
		p.m, p.n, p.k = int64(m), int64(n), int64(k)
		p.lda, p.ldb, p.ldc = int64(lda), int64(ldb), int64(ldc)
		p.alpha, p.beta = alpha, beta
		p.list = [15]uintptr{
			uintptr(unsafe.Pointer(&p.transB)), uintptr(unsafe.Pointer(&p.transA)),
			uintptr(unsafe.Pointer(&p.n)), uintptr(unsafe.Pointer(&p.m)), uintptr(unsafe.Pointer(&p.k)),
			uintptr(unsafe.Pointer(&p.alpha)),
			uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&p.ldb)),
			uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&p.lda)),
			uintptr(unsafe.Pointer(&p.beta)),
			uintptr(unsafe.Pointer(&c[0])), uintptr(unsafe.Pointer(&p.ldc)),
			1, 1,
		}
		purego.SyscallN(sym, p.list[:]...)
		runtime.KeepAlive(a)
		runtime.KeepAlive(b)
		runtime.KeepAlive(c)
		p.list = [15]uintptr{}
		fortranArgsList.Put(p)
	}
}

func transChar(t bool) byte {
	if t {
		return 'T'
	}
	return 'N'
}

func loadCandidate(c candidate) (*backend, error) {
	h, err := purego.Dlopen(c.path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		if strings.Contains(err.Error(), c.path) { // dlerror already names it
			return nil, fmt.Errorf("dlopen: %w", err)
		}
		return nil, fmt.Errorf("%s: %w", c.path, err)
	}
	sym, suffix, err := lookupSuffix(c, h, "cblas_sgemm")
	if err != nil {
		_ = purego.Dlclose(h)
		return nil, fmt.Errorf("%s: %w", c.path, err)
	}
	ilp64 := c.ilp64 || suffix == "64_"

	var raw sgemmFunc
	if fsym, err := lookup(c, h, "sgemm_"); err == nil {
		raw = fortranSgemm(fsym)
	} else {
		var cblasSgemm cblasSgemmFn
		purego.RegisterFunc(&cblasSgemm, sym)
		raw = func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, bm []float32, ldb int, beta float32, cm []float32, ldc int) {
			cblasSgemm(cblasRowMajor, transEnum(transA), transEnum(transB), m, n, k,
				alpha, &a[0], lda, &bm[0], ldb, beta, &cm[0], ldc)
		}
	}

	kind := c.kind
	if kind == "library" {
		if _, err := lookup(c, h, "openblas_get_config"); err == nil {
			kind = "openblas"
		}
	}
	b := &backend{native: true}
	details := []string{resolvePath(sym, c.path)}
	if s, err := lookup(c, h, "openblas_get_config"); err == nil {
		var getConfig func() string
		purego.RegisterFunc(&getConfig, s)
		details = append(details, strings.TrimSpace(getConfig()))
	}
	if s, err := lookup(c, h, "openblas_set_num_threads"); err == nil {
		var set func(n int)
		purego.RegisterFunc(&set, s)
		b.setLibThreads = func(n int) {
			if n > 0 {
				set(n)
			}
		}
	}
	if s, err := lookup(c, h, "openblas_get_num_threads"); err == nil {
		var get func() int32 // int in both LP64 and ILP64 builds
		purego.RegisterFunc(&get, s)
		b.libThreads = func() int { return int(get()) }
	}
	b.name = kind + " (" + strings.Join(details, "; ") + ")"

	b.raw = func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, bm []float32, ldb int, beta float32, cm []float32, ldc int) {
		if !ilp64 && !fitsInt32(m, n, k, lda, ldb, ldc) {
			sgemmGo(transA, transB, m, n, k, alpha, a, lda, bm, ldb, beta, cm, ldc)
			return
		}
		// BLAS treats beta == 0 as "C is output only" (NaNs in C are
		// overwritten); TestSgemmNative checks it.
		raw(transA, transB, m, n, k, alpha, a, lda, bm, ldb, beta, cm, ldc)
	}
	b.sgemm = func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, bm []float32, ldb int, beta float32, cm []float32, ldc int) {
		if b.libThreaded {
			b.raw(transA, transB, m, n, k, alpha, a, lda, bm, ldb, beta, cm, ldc)
			return
		}
		splitSgemmByShape(int(b.parts.Load()), b.raw, transA, transB, m, n, k, alpha, a, lda, bm, ldb, beta, cm, ldc)
	}
	b.serial = func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, bm []float32, ldb int, beta float32, cm []float32, ldc int) {
		if b.libThreaded {
			b.raw(transA, transB, m, n, k, alpha, a, lda, bm, ldb, beta, cm, ldc)
			return
		}
		splitSgemmByShape(1, b.raw, transA, transB, m, n, k, alpha, a, lda, bm, ldb, beta, cm, ldc) // the same blocks, in turn
	}
	return b, nil
}

func transEnum(t bool) int {
	if t {
		return cblasTrans
	}
	return cblasNoTrans
}

func fitsInt32(xs ...int) bool {
	for _, x := range xs {
		if x > math.MaxInt32 {
			return false
		}
	}
	return true
}

// resolvePath returns the file that maps address sym (Linux: from
// /proc/self/maps, following the dynamic loader's search), or def.
func resolvePath(sym uintptr, def string) string {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return def
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		if uint64(sym) >= start && uint64(sym) < end {
			return strings.Join(fields[5:], " ")
		}
	}
	return def
}
