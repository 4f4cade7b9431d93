package blas

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/tinychat-go/tinychat/internal/workpool"
)

type benchShape struct {
	transA, transB bool
	m, n, k        int
}

func (s benchShape) String() string {
	t := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("%s%s_m%d_k%d_n%d", t(s.transA), t(s.transB), s.m, s.k, s.n)
}

// strides are the row strides of the stored A and B, packed tight.
func (s benchShape) strides() (lda, ldb int) {
	lda, ldb = s.k, s.n
	if s.transA {
		lda = s.m
	}
	if s.transB {
		ldb = s.k
	}
	return lda, ldb
}

// benchShapes are the GPT training/inference shapes: forward Y = X·W
// (768 tokens), weight gradient dW = Xᵀ·dY, input gradient dX = dY·Wᵀ and
// single-token inference.
func benchShapes() []benchShape {
	var s []benchShape
	for _, kn := range [][2]int{{128, 384}, {128, 128}, {128, 512}, {128, 65}, {512, 128}} {
		k, n := kn[0], kn[1]
		s = append(s,
			benchShape{m: 768, k: k, n: n},               // Y = X·W
			benchShape{transA: true, m: k, k: 768, n: n}, // dW = Xᵀ·dY
			benchShape{transB: true, m: 768, k: n, n: k}, // dX = dY·Wᵀ
		)
	}
	for _, n := range []int{384, 512, 65} {
		s = append(s, benchShape{m: 1, k: 128, n: n})
	}
	// GPT-2 small's MLP at 4 × 256 tokens, the speed example's largest shape.
	s = append(s, benchShape{m: 1024, k: 768, n: 3072}, benchShape{transA: true, m: 768, k: 1024, n: 3072})
	return s
}

func benchGemm(b *testing.B, f sgemmFunc, s benchShape) {
	r := rand.New(rand.NewPCG(1, 2))
	a := randSlice(r, s.m*s.k)
	bm := randSlice(r, s.k*s.n)
	c := make([]float32, s.m*s.n)
	lda, ldb := s.strides()
	b.ResetTimer()
	for b.Loop() {
		sgemmWith(f, s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
	}
	b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// nativeVariants are the ways the native library can run a product: on its
// own threads (lib-1t, lib-2t) or on one thread per part split by Go (split-2,
// the default). The returned restore function sets the library back to one
// thread.
func nativeVariants(b testing.TB) (variants []struct {
	name string
	f    sgemmFunc
	prep func()
}) {
	nb := selectBackend("native")
	if !nb.native {
		return nil
	}
	lib := func(n int) func() {
		return func() {
			if nb.setLibThreads != nil {
				nb.setLibThreads(n)
			}
		}
	}
	split2 := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, bm []float32, ldb int, beta float32, c []float32, ldc int) {
		splitSgemm(2, nb.raw, transA, transB, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc)
	}
	// What Sgemm runs on two cores: blocks by shape (splitSgemmByShape), two at a time.
	shape2 := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, bm []float32, ldb int, beta float32, c []float32, ldc int) {
		splitSgemmByShape(2, nb.raw, transA, transB, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc)
	}
	variants = append(variants,
		struct {
			name string
			f    sgemmFunc
			prep func()
		}{"native-lib-1t", nb.raw, lib(1)},
		struct {
			name string
			f    sgemmFunc
			prep func()
		}{"native-split-2", split2, lib(1)},
		struct {
			name string
			f    sgemmFunc
			prep func()
		}{"native-shape-2", shape2, lib(1)})
	if nb.setLibThreads != nil {
		variants = append(variants, struct {
			name string
			f    sgemmFunc
			prep func()
		}{"native-lib-2t", nb.raw, lib(2)})
	}
	return variants
}

// BenchmarkSgemm compares the native library (on one or two of its own
// threads, or split in two by Go) with the pure-Go path at the shapes that
// matter. Run with
//
//	go test -run '^$' -bench Sgemm -count 5 ./internal/blas/
//
// The worker pool is held (workpool.Hold) as a training graph holds it, so that its workers
// stay awake between products.
func BenchmarkSgemm(b *testing.B) {
	workpool.Hold()
	defer workpool.Release()
	variants := nativeVariants(b)
	defer SetThreads(0)
	for _, s := range benchShapes() {
		b.Run(s.String(), func(b *testing.B) {
			for _, v := range variants {
				b.Run(v.name, func(b *testing.B) {
					v.prep()
					benchGemm(b, v.f, s)
				})
			}
			b.Run("go", func(b *testing.B) { benchGemm(b, sgemmGo, s) })
			b.Run("gonum", func(b *testing.B) { benchGemm(b, sgemmGonum, s) })
		})
	}
	if len(variants) > 0 {
		variants[0].prep() // back to one library thread
	}
}

// BenchmarkTrainingMix models one step of the training loop: the GEMMs of a
// layer's forward and backward passes interleaved with element-wise work
// that runs on GOMAXPROCS goroutines (as the training loop's own kernels
// do). It is one of the measurements behind the default OpenBLAS thread
// count (see defaultThreads); run it on an otherwise idle machine.
func BenchmarkTrainingMix(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	shapes := benchShapes()[:15] // training shapes only
	type operands struct{ a, b, c []float32 }
	ops := make([]operands, len(shapes))
	for i, s := range shapes {
		ops[i] = operands{randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)}
	}
	// elementwise does a few cheap passes (bias, activation-like) over x
	// on GOMAXPROCS goroutines, like the loop's own element-wise kernels.
	elementwise := func(act []float32) {
		p := gomaxprocs()
		var wg sync.WaitGroup
		for t := 0; t < p; t++ {
			wg.Add(1)
			go func(x []float32) {
				defer wg.Done()
				for rep := 0; rep < 3; rep++ {
					for i, v := range x {
						x[i] = v*0.5 + 0.25*v*v/(1+v*v)
					}
				}
			}(act[t*len(act)/p : (t+1)*len(act)/p])
		}
		wg.Wait()
	}
	step := func(f sgemmFunc) {
		for i, s := range shapes {
			lda, ldb := s.strides()
			sgemmWith(f, s.transA, s.transB, s.m, s.n, s.k, 1, ops[i].a, lda, ops[i].b, ldb, 0, ops[i].c, s.n)
			elementwise(ops[i].c)
		}
	}
	variants := nativeVariants(b)
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			v.prep()
			for b.Loop() {
				step(v.f)
			}
		})
	}
	if len(variants) > 0 {
		variants[0].prep() // back to one library thread
	}
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			step(sgemmGo)
		}
	})
	b.Run("elementwise-only", func(b *testing.B) {
		for b.Loop() {
			for i := range shapes {
				elementwise(ops[i].c)
			}
		}
	})
}

// decodeShapes are the products of one batched decode step of the tinychat model (width 128):
// m rows (one per sequence decoded) times each layer's weight, and the LM head (vocab 384)
// against the tied embedding, Bᵀ.
func decodeShapes() []benchShape {
	var s []benchShape
	for _, m := range []int{1, 2, 4, 6, 8, 12, 16, 32} {
		for _, kn := range [][2]int{{128, 384}, {128, 128}, {128, 512}, {512, 128}} {
			s = append(s, benchShape{m: m, k: kn[0], n: kn[1]})
		}
		s = append(s, benchShape{transB: true, m: m, k: 128, n: 384})
	}
	return s
}

// BenchmarkDecode compares the backends at the decode shapes: the native library on one
// thread ("native"), the pure-Go path as Sgemm runs it ("go") and the pure-Go path with B
// always packed ("go-packed", what it did before reading B in place for small m). Run with
//
//	go test -run '^$' -bench Decode -benchtime 50ms -count 3 ./internal/blas/
func BenchmarkDecode(b *testing.B) {
	nb := selectBackend("native")
	if nb.native && nb.setLibThreads != nil {
		nb.setLibThreads(1)
	}
	for _, s := range decodeShapes() {
		b.Run(s.String(), func(b *testing.B) {
			if nb.native {
				b.Run("native", func(b *testing.B) { benchGemm(b, nb.raw, s) })
			}
			b.Run("go", func(b *testing.B) { benchGemm(b, sgemmGo, s) })
			if haveAVX2FMA {
				b.Run("go-packed", func(b *testing.B) {
					withUnpackMaxM(b, 0)
					benchGemm(b, sgemmGo, s)
				})
			}
		})
	}
}

// BenchmarkWeightGradientSplit compares, call by call in one process, the two ways sgemmGo can
// split a weight gradient (Xᵀ·dY: few rows, k the batch's tokens) between two cores: by rows
// sharing one packed op(B) (sharedSgemm) and by 16-column panels (what deepColumnSplit picks
// for these shapes). It reports each one's GFLOP/s and cols/rows, the speed-up of the split by
// columns. The worker pool is held, as in training.
//
//	go test -run '^$' -bench WeightGradientSplit -count 4 ./internal/blas/
func BenchmarkWeightGradientSplit(b *testing.B) {
	if !haveAVX2FMA {
		b.Skip("no AVX2/FMA on this CPU")
	}
	workpool.Hold()
	defer workpool.Release()
	rows := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, bm []float32, ldb int, beta float32, c []float32, ldc int) {
		if !sharedSgemm(2, transA, transB, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc) {
			splitSgemm(2, sgemmAVX2, transA, transB, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc)
		}
	}
	cols := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, bm []float32, ldb int, beta float32, c []float32, ldc int) {
		step := ((n+15)/16 + 1) / 2 * 16 // whole 16-column panels
		runBlocks(2, false, step, sgemmAVX2, transA, transB, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc)
	}
	for _, s := range []benchShape{
		{transA: true, m: 128, k: 1536, n: 384}, {transA: true, m: 128, k: 1536, n: 128}, {transA: true, m: 128, k: 1536, n: 512},
		{transA: true, m: 128, k: 768, n: 384}, {transA: true, m: 128, k: 768, n: 512}, {transA: true, m: 65, k: 768, n: 128},
		{transA: true, m: 192, k: 1536, n: 576}, {transA: true, m: 192, k: 1536, n: 192}, {transA: true, m: 128, k: 512, n: 384},
		{transA: true, m: 512, k: 1536, n: 128},
	} {
		b.Run(s.String(), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			a, bm, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
			var tr, tc time.Duration
			for i := 0; b.Loop(); i++ {
				for v := range 2 {
					f, acc := rows, &tr
					if (v+i)%2 == 1 {
						f, acc = cols, &tc
					}
					st := time.Now()
					f(true, false, s.m, s.n, s.k, 1, a, s.m, bm, s.n, 0, c, s.n)
					*acc += time.Since(st)
				}
			}
			fl := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N) / 1e9
			b.ReportMetric(fl/tr.Seconds(), "rows-GFLOP/s")
			b.ReportMetric(fl/tc.Seconds(), "cols-GFLOP/s")
			b.ReportMetric(tr.Seconds()/tc.Seconds(), "cols/rows")
		})
	}
}

// BenchmarkShapeBlocks runs the native library's products split by shape (splitSgemmByShape,
// two at a time) with blocks of at least 32 rows or columns (session 21's minimum; the split's
// direction and power-of-two count are today's either way, so only the block size differs) and
// of at least shapeMinBlock, one after the other for each product of the speed table's models;
// -count alternates them.
//
//	go test -run '^$' -bench ShapeBlocks -count 5 ./internal/blas/
func BenchmarkShapeBlocks(b *testing.B) {
	nb := selectBackend("native")
	if !nb.native {
		b.Skip("no native BLAS library")
	}
	if nb.setLibThreads != nil {
		nb.setLibThreads(1)
	}
	var shapes []benchShape
	for _, tc := range []struct{ tokens, c int }{{768, 128}, {2048, 384}, {1024, 768}} {
		for _, kn := range [][2]int{{tc.c, 3 * tc.c}, {tc.c, 4 * tc.c}, {4 * tc.c, tc.c}} {
			k, n := kn[0], kn[1]
			shapes = append(shapes,
				benchShape{m: tc.tokens, k: k, n: n},               // Y = X·W
				benchShape{transA: true, m: k, k: tc.tokens, n: n}, // dW = Xᵀ·dY
				benchShape{transB: true, m: tc.tokens, k: n, n: k}) // dX = dY·Wᵀ
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range shapes {
		a, bm, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
		lda, ldb := s.strides()
		for _, minBlock := range []int{32, shapeMinBlock} {
			b.Run(fmt.Sprintf("%s/min%d", s, minBlock), func(b *testing.B) {
				for b.Loop() {
					splitSgemmByShapeMin(minBlock, 2, nb.raw, s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
				}
				b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkWeightGradientInPlaceB runs the weight gradients of the benchmark shapes (Xᵀ·dY, TN)
// on one goroutine with op(B) packed (sgemmAVX2's choice at these row counts) and read in place
// with A packed instead (its choice up to unpackMaxM rows), one after the other: the same bits,
// at another speed.
//
//	go test -run '^$' -bench WeightGradientInPlaceB -count 3 ./internal/blas/
func BenchmarkWeightGradientInPlaceB(b *testing.B) {
	if !haveAVX2FMA {
		b.Skip("no AVX2/FMA: the pure-Go kernels do not run here")
	}
	for _, s := range benchShapes() {
		if !s.transA || s.m <= unpackMaxM {
			continue
		}
		for _, inPlace := range []bool{false, true} {
			name := s.String() + "/packed"
			if inPlace {
				name = s.String() + "/inplace"
			}
			b.Run(name, func(b *testing.B) {
				withAVX2(b, true)
				if inPlace {
					withUnpackMaxM(b, s.m)
				}
				benchGemm(b, sgemmAVX2, s)
			})
		}
	}
}
