package model

import "github.com/tinychat-go/tinychat/internal/blas"

// BLASName says which matrix-product path the model runs on: OpenBLAS (or Accelerate) found at
// run time, or the pure-Go kernel. TINYCHAT_BLAS=go forces the pure-Go path; TINYCHAT_BLAS=PATH
// names a BLAS library to load. Results are bit-identical for a given path whatever the number
// of cores, and differ between paths in the last bits.
func BLASName() string { return blas.Name() }
