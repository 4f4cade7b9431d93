package export

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
)

// ErrFormat is wrapped by the errors of ReadGGUF for a file that is not a well-formed GGUF
// file of the kinds this package writes.
var ErrFormat = errors.New("export: malformed file")

// GGUFFile is a parsed GGUF file: its metadata and its tensors as float32.
type GGUFFile struct {
	// Version is the GGUF version (2 or 3).
	Version uint32
	// Metadata maps each key to its value: uint8..uint64, int8..int64, float32, float64, bool,
	// string, or a slice of one of those ([]any for arrays).
	Metadata map[string]any
	// Keys lists the metadata keys in file order.
	Keys []string
	// Tensors lists the tensors in file order.
	Tensors []GGUFTensor
}

// GGUFTensor is one tensor of a GGUF file.
type GGUFTensor struct {
	Name string
	// Dims are in GGUF order: the fastest-varying dimension first (a row-major [rows, cols]
	// matrix has Dims [cols, rows]).
	Dims []uint64
	// Type is the GGML type: 0 for F32, 1 for F16 (the only ones read).
	Type uint32
	// Data holds the values (F16 converted to float32).
	Data []float32
}

// Tensor returns the tensor called name, or nil.
func (f *GGUFFile) Tensor(name string) *GGUFTensor {
	for i := range f.Tensors {
		if f.Tensors[i].Name == name {
			return &f.Tensors[i]
		}
	}
	return nil
}

// ReadGGUF reads a GGUF file (version 2 or 3) with F32 and F16 tensors. It checks every
// length against the file's size, so a truncated or corrupt file gives an error wrapping
// ErrFormat that names the file and what is wrong; it never panics.
func ReadGGUF(path string) (*GGUFFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("export: reading GGUF: %w", err)
	}
	f, err := decodeGGUF(data)
	if err != nil {
		return nil, fmt.Errorf("export: GGUF file %s: %w", path, err)
	}
	return f, nil
}

type ggufReader struct {
	b   []byte
	pos uint64
	err error
}

func (r *ggufReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s (at byte %d)", ErrFormat, fmt.Sprintf(format, args...), r.pos)
	}
}

func (r *ggufReader) take(n uint64, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b))-r.pos {
		r.fail("truncated: %s needs %d bytes, %d left", what, n, uint64(len(r.b))-r.pos)
		return nil
	}
	out := r.b[r.pos : r.pos+n]
	r.pos += n
	return out
}

func (r *ggufReader) u32(what string) uint32 {
	if b := r.take(4, what); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *ggufReader) u64(what string) uint64 {
	if b := r.take(8, what); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *ggufReader) str(what string) string {
	n := r.u64(what + " length")
	return string(r.take(n, what))
}

// value reads one value of type typ (arrays of arrays are refused).
func (r *ggufReader) value(typ uint32, key string, inArray bool) any {
	le := binary.LittleEndian
	switch typ {
	case ggufUint8, ggufInt8, ggufBool:
		b := r.take(1, key)
		if b == nil {
			return nil
		}
		switch typ {
		case ggufUint8:
			return b[0]
		case ggufInt8:
			return int8(b[0])
		}
		if b[0] > 1 {
			r.fail("%s: bool value %d", key, b[0])
		}
		return b[0] == 1
	case ggufUint16, ggufInt16:
		b := r.take(2, key)
		if b == nil {
			return nil
		}
		if typ == ggufUint16 {
			return le.Uint16(b)
		}
		return int16(le.Uint16(b))
	case ggufUint32:
		return r.u32(key)
	case ggufInt32:
		return int32(r.u32(key))
	case ggufFloat32:
		return math.Float32frombits(r.u32(key))
	case ggufUint64:
		return r.u64(key)
	case ggufInt64:
		return int64(r.u64(key))
	case ggufFloat64:
		return math.Float64frombits(r.u64(key))
	case ggufString:
		return r.str(key)
	case ggufArray:
		if inArray {
			r.fail("%s: nested arrays are not supported", key)
			return nil
		}
		et := r.u32(key + " element type")
		n := r.u64(key + " length")
		if r.err != nil {
			return nil
		}
		if n > uint64(len(r.b))-r.pos { // every element takes at least one byte
			r.fail("%s: array of %d elements is longer than the rest of the file", key, n)
			return nil
		}
		out := make([]any, 0, n)
		for range n {
			v := r.value(et, key, true)
			if r.err != nil {
				return nil
			}
			out = append(out, v)
		}
		return out
	}
	r.fail("%s: unknown value type %d", key, typ)
	return nil
}

func decodeGGUF(data []byte) (*GGUFFile, error) {
	r := &ggufReader{b: data}
	if magic := r.take(4, "magic"); r.err == nil && string(magic) != ggufMagic {
		return nil, fmt.Errorf("%w: starts with %q, not %q (is this a GGUF file?)", ErrFormat, magic, ggufMagic)
	}
	f := &GGUFFile{Version: r.u32("version"), Metadata: map[string]any{}}
	if r.err == nil && f.Version != 2 && f.Version != 3 {
		return nil, fmt.Errorf("%w: version %d (want 2 or 3)", ErrFormat, f.Version)
	}
	nt, nkv := r.u64("tensor count"), r.u64("metadata count")
	if r.err == nil && (nt > uint64(len(data)) || nkv > uint64(len(data))) {
		r.fail("%d tensors and %d metadata entries cannot fit in %d bytes", nt, nkv, len(data))
	}
	for i := uint64(0); i < nkv && r.err == nil; i++ {
		key := r.str("metadata key")
		typ := r.u32(key + " type")
		v := r.value(typ, key, false)
		if r.err != nil {
			break
		}
		if _, dup := f.Metadata[key]; dup {
			r.fail("metadata key %q appears twice", key)
			break
		}
		f.Metadata[key] = v
		f.Keys = append(f.Keys, key)
	}
	type info struct {
		off uint64
		n   uint64
	}
	var infos []info
	for i := uint64(0); i < nt && r.err == nil; i++ {
		t := GGUFTensor{Name: r.str("tensor name")}
		nd := r.u32(t.Name + " dimension count")
		if r.err == nil && nd > 4 {
			r.fail("tensor %s has %d dimensions (at most 4)", t.Name, nd)
		}
		n := uint64(1)
		for j := uint32(0); j < nd && r.err == nil; j++ {
			d := r.u64(t.Name + " dimension")
			if d != 0 && n > math.MaxInt32*4/d {
				r.fail("tensor %s is too large", t.Name)
			}
			n *= d
			t.Dims = append(t.Dims, d)
		}
		t.Type = r.u32(t.Name + " type")
		off := r.u64(t.Name + " offset")
		if r.err == nil && t.Type != ggmlF32 && t.Type != ggmlF16 {
			r.fail("tensor %s has GGML type %d; only F32 (0) and F16 (1) are read", t.Name, t.Type)
		}
		if r.err == nil && off%ggufAlignment != 0 {
			r.fail("tensor %s offset %d is not %d-byte aligned", t.Name, off, ggufAlignment)
		}
		f.Tensors = append(f.Tensors, t)
		infos = append(infos, info{off, n})
	}
	if r.err != nil {
		return nil, r.err
	}
	align := uint64(ggufAlignment)
	if a, ok := f.Metadata["general.alignment"].(uint32); ok && a > 0 {
		align = uint64(a)
	}
	start := (r.pos + align - 1) / align * align
	if start > uint64(len(data)) {
		return nil, fmt.Errorf("%w: truncated before the tensor data", ErrFormat)
	}
	body := data[start:]
	for i := range f.Tensors {
		t := &f.Tensors[i]
		width := uint64(4)
		if t.Type == ggmlF16 {
			width = 2
		}
		off, size := infos[i].off, infos[i].n*width
		if off > uint64(len(body)) || size > uint64(len(body))-off {
			return nil, fmt.Errorf("%w: truncated: tensor %s needs bytes %d..%d of the data section, which has %d", ErrFormat, t.Name, off, off+size, len(body))
		}
		raw := body[off : off+size]
		t.Data = make([]float32, infos[i].n)
		for j := range t.Data {
			if width == 2 {
				t.Data[j] = f16ToF32(binary.LittleEndian.Uint16(raw[2*j:]))
			} else {
				t.Data[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
			}
		}
	}
	return f, nil
}
