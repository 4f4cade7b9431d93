package export

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
)

// The GGUF container (version 3), as llama.cpp reads it: a header ("GGUF", version, tensor
// count, key-value count), the key-value metadata, the tensor infos (name, dimensions with
// the fastest-varying first, type, offset), padding to the alignment, then the tensor data,
// each tensor starting at an aligned offset from the start of the data section.

// GGUF constants.
const (
	ggufMagic     = "GGUF"
	ggufVersion   = 3
	ggufAlignment = 32
)

// GGUF value types.
const (
	ggufUint8   uint32 = 0
	ggufInt8    uint32 = 1
	ggufUint16  uint32 = 2
	ggufInt16   uint32 = 3
	ggufUint32  uint32 = 4
	ggufInt32   uint32 = 5
	ggufFloat32 uint32 = 6
	ggufBool    uint32 = 7
	ggufString  uint32 = 8
	ggufArray   uint32 = 9
	ggufUint64  uint32 = 10
	ggufInt64   uint32 = 11
	ggufFloat64 uint32 = 12
)

// GGML tensor types this package writes and reads.
const (
	ggmlF32 uint32 = 0
	ggmlF16 uint32 = 1
)

// ggufKV is one metadata entry. Value is one of uint32, int32, float32, bool, string,
// []string or []int32.
type ggufKV struct {
	Key   string
	Value any
}

// ggufTensor is one tensor to write: Dims in GGUF order (fastest-varying first), Data in that
// layout, stored as F16 when F16 is set (else F32).
type ggufTensor struct {
	Name string
	Dims []uint64
	Data []float32
	F16  bool
}

func (t ggufTensor) size() uint64 {
	n := uint64(len(t.Data)) * 4
	if t.F16 {
		n = uint64(len(t.Data)) * 2
	}
	return n
}

func alignUp(n uint64) uint64 { return (n + ggufAlignment - 1) / ggufAlignment * ggufAlignment }

// writeGGUF writes a GGUF file. Dimensions must multiply to len(Data).
func writeGGUF(w *bufio.Writer, kvs []ggufKV, tensors []ggufTensor) error {
	le := binary.LittleEndian
	var n int64 // bytes written
	put := func(b []byte) {
		w.Write(b) // errors are sticky in bufio.Writer and reported by Flush
		n += int64(len(b))
	}
	u32 := func(v uint32) { put(le.AppendUint32(nil, v)) }
	u64 := func(v uint64) { put(le.AppendUint64(nil, v)) }
	str := func(s string) { u64(uint64(len(s))); put([]byte(s)) }

	put([]byte(ggufMagic))
	u32(ggufVersion)
	u64(uint64(len(tensors)))
	u64(uint64(len(kvs)))
	for _, kv := range kvs {
		str(kv.Key)
		switch v := kv.Value.(type) {
		case uint32:
			u32(ggufUint32)
			u32(v)
		case int32:
			u32(ggufInt32)
			u32(uint32(v))
		case float32:
			u32(ggufFloat32)
			u32(math.Float32bits(v))
		case bool:
			u32(ggufBool)
			b := byte(0)
			if v {
				b = 1
			}
			put([]byte{b})
		case string:
			u32(ggufString)
			str(v)
		case []string:
			u32(ggufArray)
			u32(ggufString)
			u64(uint64(len(v)))
			for _, s := range v {
				str(s)
			}
		case []int32:
			u32(ggufArray)
			u32(ggufInt32)
			u64(uint64(len(v)))
			buf := make([]byte, 0, 4*len(v))
			for _, x := range v {
				buf = le.AppendUint32(buf, uint32(x))
			}
			put(buf)
		default:
			return fmt.Errorf("gguf: metadata %s has unsupported type %T", kv.Key, kv.Value)
		}
	}
	var off uint64
	for _, t := range tensors {
		want := uint64(1)
		for _, d := range t.Dims {
			want *= d
		}
		if want != uint64(len(t.Data)) {
			return fmt.Errorf("gguf: tensor %s: dimensions %v hold %d values, have %d", t.Name, t.Dims, want, len(t.Data))
		}
		str(t.Name)
		u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			u64(d)
		}
		typ := ggmlF32
		if t.F16 {
			typ = ggmlF16
		}
		u32(typ)
		u64(off)
		off = alignUp(off + t.size())
	}
	pad := func() { put(make([]byte, alignUp(uint64(n))-uint64(n))) }
	pad()
	start := n
	buf := make([]byte, 0, 1<<16)
	for _, t := range tensors {
		for i, v := range t.Data {
			if t.F16 {
				buf = le.AppendUint16(buf, f32ToF16(v))
			} else {
				buf = le.AppendUint32(buf, math.Float32bits(v))
			}
			if len(buf) >= 1<<16-4 || i == len(t.Data)-1 {
				put(buf)
				buf = buf[:0]
			}
		}
		// Pad to the next tensor's aligned offset (relative to the data section).
		rel := uint64(n - start)
		put(make([]byte, alignUp(rel)-rel))
	}
	return w.Flush()
}
