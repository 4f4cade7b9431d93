// Package safetensors reads and writes checkpoint files in the safetensors
// layout (https://github.com/huggingface/safetensors), restricted to float32
// tensors and string metadata.
//
// A file is:
//
//   - an 8-byte little-endian uint64 N, the length of the header;
//   - N bytes of UTF-8 JSON: an object mapping each tensor name to
//     {"dtype":"F32","shape":[...],"data_offsets":[begin,end]}, plus an
//     optional "__metadata__" object of string values. Offsets are relative to
//     the start of the data buffer, end exclusive;
//   - the data buffer: every tensor's values as contiguous little-endian
//     float32 in row-major order.
//
// Writing is deterministic: tensors are laid out sorted by name, metadata keys
// are sorted, the JSON is compact, and the header is padded with trailing
// spaces so that the data buffer starts at an 8-byte-aligned offset, as the
// reference implementation does. The same input always gives the same bytes,
// and the files are readable by Python's safetensors library.
//
// Reading is strict and never trusts the input: the header length is capped at
// [MaxHeaderSize], the header must be a JSON object without duplicate keys
// whose entries have exactly the fields dtype, shape and data_offsets, and the
// tensors must tile the data buffer exactly (no overlaps, no gaps, no trailing
// bytes — the reference implementation rejects those too). Allocations are
// bounded by the size of the input.
//
// WriteFile writes atomically through a temporary file beside the target;
// [RemoveStaleTemps] removes the temporary files a killed writer left. Reading
// reports the SHA-256 of the data buffer ([File.DataSHA256]), which
// [DataSHA256] computes for tensors about to be written, so a caller can store
// a checksum in the metadata and verify it.
//
// Shapes: a scalar has shape [] (one value); a tensor with a zero dimension has
// no values and is supported. When writing, a nil Shape is a scalar. Tensor
// names must be non-empty valid UTF-8 and must not start with "__" (reserved
// for "__metadata__"); metadata keys and values must be valid UTF-8.
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
