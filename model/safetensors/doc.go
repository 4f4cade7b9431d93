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
