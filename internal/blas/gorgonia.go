package blas

import (
	"fmt"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	"gorgonia.org/gorgonia"
)

// gorgoniaBLAS is gonum's BLAS with Sgemm replaced by this package's.
type gorgoniaBLAS struct {
	gonum.Implementation
}

// Sgemm implements gonum's blas.Float32 Sgemm (row-major) on the selected
// backend.
func (gorgoniaBLAS) Sgemm(tA, tB gblas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	Sgemm(isTrans(tA), isTrans(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func isTrans(t gblas.Transpose) bool {
	switch t {
	case gblas.NoTrans:
		return false
	case gblas.Trans, gblas.ConjTrans:
		return true
	}
	panic(fmt.Sprintf("blas: bad transpose %v", t))
}

// Gorgonia returns a BLAS implementation for gorgonia.Use (and tensor.Use):
// gonum's pure-Go implementation with Sgemm — what gorgonia's float32 matrix
// multiplications call — routed to this package's selected backend.
func Gorgonia() gorgonia.BLAS { return gorgoniaBLAS{} }
