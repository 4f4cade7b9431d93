package safetensors

import (
	"errors"
	"fmt"
	"math"
)

// MaxHeaderSize is the largest header length, in bytes, that is read or
// written. It matches the reference implementation's limit.
const MaxHeaderSize = 100_000_000

const (
	prefixSize  = 8 // the little-endian uint64 header length
	alignment   = 8 // the data buffer starts at a multiple of this offset
	f32Size     = 4
	dtypeF32    = "F32"
	metadataKey = "__metadata__"
	reservedPfx = "__"
	// maxElements bounds the element count of one tensor so that its byte
	// length fits in an int.
	maxElements = math.MaxInt / f32Size
)

// Errors returned by this package wrap one of these sentinels, so callers can
// tell the cases apart with errors.Is.
var (
	// ErrFormat means the data is not a well-formed safetensors file.
	ErrFormat = errors.New("safetensors: malformed file")
	// ErrUnsupportedDType means the file is well-formed but holds a tensor of
	// a dtype other than F32.
	ErrUnsupportedDType = errors.New("safetensors: unsupported dtype")
	// ErrInvalidInput means the tensors or metadata given to Encode or
	// WriteFile cannot be written.
	ErrInvalidInput = errors.New("safetensors: invalid input")
)

// Tensor is one named float32 array in row-major order.
type Tensor struct {
	// Name identifies the tensor within its file.
	Name string
	// Shape holds the dimensions; [] (or nil when writing) is a scalar.
	Shape []int
	// Data holds the product of Shape values, in row-major order.
	Data []float32
}

// File is a parsed checkpoint file.
type File struct {
	// Tensors holds the file's tensors sorted by name.
	Tensors []Tensor
	// Metadata holds the "__metadata__" entries; Decode never leaves it nil.
	Metadata map[string]string
	// DataSHA256 is the hex SHA-256 of the file's data buffer (every byte
	// after the header), as [DataSHA256] computes it for tensors being
	// written. Decode and ReadFile set it.
	DataSHA256 string
}

// Get returns the tensor called name and whether it exists. The returned
// Tensor shares its Shape and Data with f.
func (f *File) Get(name string) (Tensor, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// numElements returns the number of values a tensor of the given shape holds.
// It fails on a negative dimension, or when the product of the non-zero
// dimensions exceeds maxElements (checking all of them, so the result does not
// depend on where a zero dimension sits).
func numElements(shape []int) (int, error) {
	n, zero := 1, false
	for i, d := range shape {
		switch {
		case d < 0:
			return 0, fmt.Errorf("dimension %d of shape %v is negative", i, shape)
		case d == 0:
			zero = true
		case n > maxElements/d:
			return 0, fmt.Errorf("shape %v has too many elements (overflow)", shape)
		default:
			n *= d
		}
	}
	if zero {
		return 0, nil
	}
	return n, nil
}

// knownDTypes lists the safetensors dtypes other than F32, which are valid in
// a file but not supported here.
var knownDTypes = map[string]bool{
	"BOOL": true, "U8": true, "I8": true, "I16": true, "U16": true,
	"I32": true, "U32": true, "I64": true, "U64": true,
	"F16": true, "BF16": true, "F64": true, "C64": true,
	"F8_E5M2": true, "F8_E4M3": true, "F8_E8M0": true,
	"F4": true, "F6_E2M3": true, "F6_E3M2": true,
}
