package safetensors

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// entry is one validated tensor description from a header.
type entry struct {
	name       string
	shape      []int
	n          int   // number of values
	begin, end int64 // byte range in the data buffer
}

// formatErr returns an error wrapping ErrFormat; format may use %w.
func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
}

// Decode parses and validates a whole file image. The returned File does not
// alias data. Errors wrap [ErrFormat] or [ErrUnsupportedDType] and say what is
// wrong, naming the tensor where there is one.
func Decode(data []byte) (*File, error) {
	hdr, dataLen, err := readHeader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	entries, meta, err := parseHeader(hdr, dataLen)
	if err != nil {
		return nil, err
	}
	buf := data[prefixSize+len(hdr):]
	sum := sha256.Sum256(buf)
	tensors := make([]Tensor, len(entries))
	for i, e := range entries {
		values := make([]float32, e.n)
		convert(values, buf[e.begin:e.end])
		tensors[i] = Tensor{Name: e.name, Shape: e.shape, Data: values}
	}
	f := newFile(tensors, meta)
	f.DataSHA256 = hex.EncodeToString(sum[:])
	return f, nil
}

// ReadFile reads and decodes the file at path. It stats the file first and
// validates the header against the file size before reading the data, which
// it then streams straight into the tensors. Every error names path.
func ReadFile(path string) (*File, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	hdr, dataLen, err := readHeader(f, size)
	if err != nil {
		return nil, pathErr(path, err)
	}
	entries, meta, err := parseHeader(hdr, dataLen)
	if err != nil {
		return nil, pathErr(path, err)
	}
	h := sha256.New()
	tensors, err := readTensors(io.TeeReader(f, h), entries)
	if err != nil {
		return nil, pathErr(path, err)
	}
	var one [1]byte
	if n, _ := f.Read(one[:]); n > 0 {
		return nil, pathErr(path, fmt.Errorf("safetensors: file grew beyond its size of %d bytes while being read", size))
	}
	file := newFile(tensors, meta)
	file.DataSHA256 = hex.EncodeToString(h.Sum(nil))
	return file, nil
}

// ReadMetadata reads only the header of the file at path and returns its
// metadata (never nil). The header length is checked against the file size
// and [MaxHeaderSize] before the header is read, and the header is fully
// validated against the file size; the data buffer is not read. Every error
// names path.
func ReadMetadata(path string) (map[string]string, error) {
	h, err := ReadHeader(path)
	if err != nil {
		return nil, err
	}
	return h.Metadata, nil
}

// TensorInfo describes one tensor as its file's header lists it, without its
// values.
type TensorInfo struct {
	// Name identifies the tensor within its file.
	Name string
	// Shape holds the dimensions; [] is a scalar.
	Shape []int
}

// Header is what a file's header says: which tensors it holds and its
// metadata.
type Header struct {
	// Tensors describes the file's tensors, sorted by name.
	Tensors []TensorInfo
	// Metadata holds the "__metadata__" entries; ReadHeader never leaves it
	// nil.
	Metadata map[string]string
}

// ReadHeader reads only the header of the file at path and returns the names
// and shapes of its tensors and its metadata. It validates exactly as
// [ReadMetadata] does (the header fully, against the file size) and does not
// read the data buffer. Every error names path.
func ReadHeader(path string) (*Header, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	hdr, dataLen, err := readHeader(f, size)
	if err != nil {
		return nil, pathErr(path, err)
	}
	entries, meta, err := parseHeader(hdr, dataLen)
	if err != nil {
		return nil, pathErr(path, err)
	}
	h := &Header{Tensors: make([]TensorInfo, len(entries)), Metadata: meta}
	for i, e := range entries {
		h.Tensors[i] = TensorInfo{Name: e.name, Shape: e.shape}
	}
	slices.SortFunc(h.Tensors, func(a, b TensorInfo) int { return strings.Compare(a.Name, b.Name) })
	return h, nil
}

// newFile sorts tensors by name and assembles a File.
func newFile(tensors []Tensor, meta map[string]string) *File {
	slices.SortFunc(tensors, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	return &File{Tensors: tensors, Metadata: meta}
}

// openRegular opens path and returns its size, failing unless it is a regular
// file. It stats before opening, so that opening a FIFO or device cannot block
// or have side effects. Errors name path.
func openRegular(path string) (*os.File, int64, error) {
	notRegular := func(fi fs.FileInfo) error {
		return pathErr(path, fmt.Errorf("safetensors: not a regular file (mode %v)", fi.Mode()))
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, 0, pathErr(path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, notRegular(fi)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, pathErr(path, err)
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, 0, pathErr(path, err)
		}
		return nil, 0, notRegular(fi)
	}
	return f, fi.Size(), nil
}

// pathErr makes err name path, unless it is an *fs.PathError that already
// does.
func pathErr(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return fmt.Errorf("safetensors: %w", err)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// readHeader reads the length prefix and the header from r, the start of an
// input of size bytes, checking the length before allocating. It returns the
// header and the length of the data buffer that follows it.
func readHeader(r io.Reader, size int64) ([]byte, int64, error) {
	if size < prefixSize {
		return nil, 0, formatErr("file is %d bytes, shorter than the %d-byte header length", size, prefixSize)
	}
	var prefix [prefixSize]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return nil, 0, fmt.Errorf("safetensors: reading header length: %w", noEOF(err))
	}
	n := binary.LittleEndian.Uint64(prefix[:])
	if n > MaxHeaderSize {
		return nil, 0, formatErr("header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if avail := uint64(size - prefixSize); n > avail {
		return nil, 0, formatErr("header length %d exceeds the %d bytes after the length prefix", n, avail)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, 0, fmt.Errorf("safetensors: reading header: %w", noEOF(err))
	}
	return hdr, size - prefixSize - int64(n), nil
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF: wherever this package reads,
// more data was expected.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseHeader validates a header describing a data buffer of dataLen bytes.
// It returns the tensor entries sorted by offset, and the metadata (never
// nil).
func parseHeader(hdr []byte, dataLen int64) ([]entry, map[string]string, error) {
	if len(hdr) == 0 {
		return nil, nil, formatErr("header is empty")
	}
	if !utf8.Valid(hdr) {
		return nil, nil, formatErr("header is not valid UTF-8")
	}
	if hdr[0] != '{' {
		return nil, nil, formatErr("header is not a JSON object (it does not start with '{')")
	}
	meta := map[string]string{}
	var entries []entry
	err := decodeObject(hdr, "header", func(key string, raw json.RawMessage) error {
		if key == metadataKey {
			return parseMetadata(raw, meta)
		}
		e, err := parseEntry(key, raw, dataLen)
		if err != nil {
			return err
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}

	// The tensors must tile the data buffer exactly.
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), strings.Compare(a.name, b.name))
	})
	var pos int64
	prev := -1
	for i, e := range entries {
		if e.begin < pos {
			p := entries[prev]
			return nil, nil, formatErr("tensor %q (data_offsets [%d,%d]) overlaps tensor %q (data_offsets [%d,%d])",
				e.name, e.begin, e.end, p.name, p.begin, p.end)
		}
		if e.begin > pos {
			return nil, nil, formatErr("%d unused bytes in the data buffer at offset %d, before tensor %q", e.begin-pos, pos, e.name)
		}
		pos, prev = e.end, i
	}
	if pos != dataLen {
		return nil, nil, formatErr("%d unused bytes at the end of the %d-byte data buffer", dataLen-pos, dataLen)
	}
	return entries, meta, nil
}

// decodeObject walks the JSON object data, which must be nothing but the
// object and trailing whitespace, calling fn for each member in order. where
// names the object in error messages. Duplicate keys are rejected.
func decodeObject(data []byte, where string, fn func(key string, raw json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	syntaxErr := func(err error) error {
		return formatErr("%s is not valid JSON: %w", where, noEOF(err))
	}
	tok, err := dec.Token()
	if err != nil {
		return syntaxErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return formatErr("%s is not a JSON object", where)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxErr(err)
		}
		key, ok := tok.(string)
		if !ok { // unreachable: Token only returns string object keys
			return formatErr("%s has a non-string key", where)
		}
		if seen[key] {
			return formatErr("duplicate key %q in %s", key, where)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return syntaxErr(err)
		}
		if err := fn(key, raw); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return syntaxErr(err)
	}
	if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return formatErr("unexpected data after the JSON object in %s", where)
	}
	return nil
}

// parseMetadata parses the "__metadata__" object into meta.
func parseMetadata(raw json.RawMessage, meta map[string]string) error {
	if raw[0] != '{' {
		return formatErr("%s is not a JSON object", metadataKey)
	}
	return decodeObject(raw, metadataKey, func(key string, v json.RawMessage) error {
		if v[0] != '"' {
			return formatErr("metadata value for key %q is not a string", key)
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return formatErr("metadata value for key %q: %w", key, err)
		}
		meta[key] = s
		return nil
	})
}

// parseEntry parses and validates the header entry of one tensor against a
// data buffer of dataLen bytes.
func parseEntry(name string, raw json.RawMessage, dataLen int64) (entry, error) {
	if err := checkName(name); err != nil {
		return entry{}, formatErr("%w", err)
	}
	if raw[0] != '{' {
		return entry{}, formatErr("tensor %q: entry is not a JSON object {dtype, shape, data_offsets}", name)
	}
	var dtypeRaw, shapeRaw, offsetsRaw json.RawMessage
	where := fmt.Sprintf("entry of tensor %q", name)
	err := decodeObject(raw, where, func(key string, v json.RawMessage) error {
		switch key {
		case "dtype":
			dtypeRaw = v
		case "shape":
			shapeRaw = v
		case "data_offsets":
			offsetsRaw = v
		default:
			return formatErr("tensor %q: unknown field %q (want dtype, shape, data_offsets)", name, key)
		}
		return nil
	})
	if err != nil {
		return entry{}, err
	}
	for _, f := range []struct {
		key string
		raw json.RawMessage
	}{{"dtype", dtypeRaw}, {"shape", shapeRaw}, {"data_offsets", offsetsRaw}} {
		if f.raw == nil {
			return entry{}, formatErr("tensor %q: missing field %q", name, f.key)
		}
	}

	var dtype string
	if dtypeRaw[0] != '"' || json.Unmarshal(dtypeRaw, &dtype) != nil {
		return entry{}, formatErr("tensor %q: dtype is not a string", name)
	}
	if dtype != dtypeF32 {
		if knownDTypes[dtype] {
			return entry{}, fmt.Errorf("%w %s for tensor %q (only %s is supported)", ErrUnsupportedDType, dtype, name, dtypeF32)
		}
		return entry{}, formatErr("tensor %q: unknown dtype %q", name, dtype)
	}

	dims, err := parseInts(shapeRaw)
	if err != nil {
		return entry{}, formatErr("tensor %q: shape: %w", name, err)
	}
	shape := make([]int, len(dims))
	for i, d := range dims {
		if d > math.MaxInt {
			return entry{}, formatErr("tensor %q: dimension %d of shape is too large", name, i)
		}
		shape[i] = int(d)
	}
	n, err := numElements(shape)
	if err != nil {
		return entry{}, formatErr("tensor %q: %w", name, err)
	}

	offs, err := parseInts(offsetsRaw)
	if err != nil {
		return entry{}, formatErr("tensor %q: data_offsets: %w", name, err)
	}
	if len(offs) != 2 {
		return entry{}, formatErr("tensor %q: data_offsets has %d elements, want 2", name, len(offs))
	}
	begin, end := offs[0], offs[1]
	switch {
	case begin < 0 || end < 0:
		return entry{}, formatErr("tensor %q: negative data_offsets [%d,%d]", name, begin, end)
	case begin > end:
		return entry{}, formatErr("tensor %q: data_offsets [%d,%d] begin after they end", name, begin, end)
	case end > dataLen:
		return entry{}, formatErr("tensor %q: data_offsets [%d,%d] are out of bounds of the %d-byte data buffer",
			name, begin, end, dataLen)
	case end-begin != int64(n)*f32Size:
		return entry{}, formatErr("tensor %q: data_offsets [%d,%d] span %d bytes, but shape %v of %s needs %d",
			name, begin, end, end-begin, shape, dtypeF32, int64(n)*f32Size)
	}
	return entry{name: name, shape: shape, n: n, begin: begin, end: end}, nil
}

// parseInts parses a JSON array of integers (no fractions or exponents).
func parseInts(raw json.RawMessage) ([]int64, error) {
	if raw[0] != '[' {
		return nil, errors.New("not a JSON array")
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, err
	}
	out := make([]int64, len(elems))
	for i, e := range elems {
		v, err := strconv.ParseInt(string(e), 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return nil, fmt.Errorf("element %d (%s) is out of range", i, e)
			}
			return nil, fmt.Errorf("element %d (%s) is not an integer", i, e)
		}
		out[i] = v
	}
	return out, nil
}

// convert decodes little-endian float32 values from src into dst, which has
// len(src)/4 elements.
func convert(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[f32Size*i:]))
	}
}

// readTensors streams the data buffer from r into tensors, following entries
// in offset order (they tile the buffer exactly).
func readTensors(r io.Reader, entries []entry) ([]Tensor, error) {
	var buf []byte
	tensors := make([]Tensor, len(entries))
	for i, e := range entries {
		values := make([]float32, e.n)
		for done := 0; done < e.n; {
			k := min(e.n-done, chunkSize/f32Size)
			if buf == nil {
				buf = make([]byte, chunkSize)
			}
			if _, err := io.ReadFull(r, buf[:k*f32Size]); err != nil {
				return nil, fmt.Errorf("safetensors: reading data of tensor %q: %w", e.name, noEOF(err))
			}
			convert(values[done:done+k], buf[:k*f32Size])
			done += k
		}
		tensors[i] = Tensor{Name: e.name, Shape: e.shape, Data: values}
	}
	return tensors, nil
}
