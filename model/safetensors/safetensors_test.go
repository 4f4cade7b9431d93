package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encode encodes and fails the test on error.
func encode(t testing.TB, tensors []Tensor, meta map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, Encode(&buf, tensors, meta))
	return buf.Bytes()
}

// build assembles a file from a raw header (not padded) and a data buffer.
func build(header string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, data...)
}

// f32le returns vals as little-endian float32 bytes.
func f32le(vals ...float32) []byte {
	var out []byte
	for _, v := range vals {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
	}
	return out
}

func bits(vals []float32) []uint32 {
	out := make([]uint32, len(vals))
	for i, v := range vals {
		out[i] = math.Float32bits(v)
	}
	return out
}

// requireSameTensors compares tensors in order: names, shapes (nil and empty
// are the same) and data bit for bit.
func requireSameTensors(t testing.TB, want, got []Tensor) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, want[i].Name, got[i].Name, "tensor %d", i)
		require.Equal(t, len(want[i].Shape), len(got[i].Shape), "rank of %q", want[i].Name)
		if len(want[i].Shape) > 0 {
			require.Equal(t, want[i].Shape, got[i].Shape, "shape of %q", want[i].Name)
		}
		require.Equal(t, bits(want[i].Data), bits(got[i].Data), "data of %q", want[i].Name)
	}
}

func sortedByName(ts []Tensor) []Tensor {
	out := slices.Clone(ts)
	slices.SortFunc(out, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// specialTensors covers the awkward values and shapes.
func specialTensors() []Tensor {
	return []Tensor{
		{Name: "z.weights", Shape: []int{2, 3}, Data: []float32{1, -2, 3.5, 0, -0.0, 1e-38}},
		{Name: "scalar", Shape: []int{}, Data: []float32{42}},
		{Name: "nilshape_scalar", Data: []float32{-7}},
		{Name: "empty", Shape: []int{0}, Data: []float32{}},
		{Name: "empty3d", Shape: []int{3, 0, 2}, Data: nil},
		{Name: "special", Shape: []int{1, 1, 10}, Data: []float32{
			float32(math.Inf(1)), float32(math.Inf(-1)),
			math.Float32frombits(0x7fc00000), // quiet NaN
			math.Float32frombits(0x7f800001), // signalling NaN
			math.Float32frombits(0xffc12345), // negative NaN with payload
			math.Float32frombits(0x80000000), // -0
			math.Float32frombits(0x00000001), // smallest denormal
			math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32,
		}},
		{Name: "ünïcödé.层", Shape: []int{1}, Data: []float32{0.25}},
		{Name: "quote\"back\\slash\nnl\x01ctl<&>", Shape: []int{2}, Data: []float32{1, 2}},
	}
}

func TestRoundTrip(t *testing.T) {
	in := specialTensors()
	meta := map[string]string{"step": "100", "": "empty key", "empty": "", "json": `{"a":[1,"\n"]}`, "ünï": "层\x00\t"}
	inCopy := slices.Clone(in)

	f, err := Decode(encode(t, in, meta))
	require.NoError(t, err)
	require.Equal(t, inCopy, in, "Encode must not reorder or modify its input")
	requireSameTensors(t, sortedByName(in), f.Tensors)
	assert.Equal(t, meta, f.Metadata)

	got, ok := f.Get("special")
	require.True(t, ok)
	assert.Equal(t, []int{1, 1, 10}, got.Shape)
	assert.Equal(t, uint32(0x7f800001), math.Float32bits(got.Data[3]), "NaN payload is kept")
	sc, ok := f.Get("nilshape_scalar")
	require.True(t, ok)
	assert.Equal(t, []int{}, sc.Shape, "a nil shape is written as a scalar")
	empty, ok := f.Get("empty3d")
	require.True(t, ok)
	assert.Equal(t, []int{3, 0, 2}, empty.Shape)
	assert.Empty(t, empty.Data)
	_, ok = f.Get("missing")
	assert.False(t, ok)
}

func TestRoundTripFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	in := specialTensors()
	// One tensor larger than the streaming chunk so ReadFile crosses chunks.
	big := make([]float32, chunkSize/f32Size*2+3)
	for i := range big {
		big[i] = float32(i) * 0.5
	}
	in = append(in, Tensor{Name: "big", Shape: []int{len(big)}, Data: big})
	meta := map[string]string{"step": "7"}

	require.NoError(t, WriteFile(path, in, meta))
	f, err := ReadFile(path)
	require.NoError(t, err)
	requireSameTensors(t, sortedByName(in), f.Tensors)
	assert.Equal(t, meta, f.Metadata)

	m, err := ReadMetadata(path)
	require.NoError(t, err)
	assert.Equal(t, meta, m)

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, encode(t, in, meta), raw, "WriteFile writes exactly what Encode does")
}

func TestNoTensorsNoMetadata(t *testing.T) {
	data := encode(t, nil, nil)
	assert.Equal(t, append([]byte{8, 0, 0, 0, 0, 0, 0, 0}, "{}      "...), data)
	f, err := Decode(data)
	require.NoError(t, err)
	assert.Empty(t, f.Tensors)
	assert.NotNil(t, f.Metadata)
	assert.Empty(t, f.Metadata)
	// An empty (non-nil) metadata map is not written either.
	assert.Equal(t, data, encode(t, nil, map[string]string{}))
}

func TestExactLayout(t *testing.T) {
	tensors := []Tensor{
		{Name: "b", Shape: []int{2}, Data: []float32{1, -2}},
		{Name: "a", Shape: []int{}, Data: []float32{0.5}},
	}
	header := `{"__metadata__":{"step":"100"},` +
		`"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},` +
		`"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}` +
		"       " // 137 bytes of JSON + 7 spaces = 144
	want := []byte{0x90, 0, 0, 0, 0, 0, 0, 0}
	want = append(want, header...)
	want = append(want,
		0x00, 0x00, 0x00, 0x3f, // a: 0.5
		0x00, 0x00, 0x80, 0x3f, // b: 1
		0x00, 0x00, 0x00, 0xc0, // b: -2
	)
	got := encode(t, tensors, map[string]string{"step": "100"})
	assert.Equal(t, string(want), string(got))
	assert.Equal(t, 8+144+12, len(got))
}

func TestAlignment(t *testing.T) {
	for n := 1; n <= 16; n++ {
		name := strings.Repeat("x", n)
		data := encode(t, []Tensor{{Name: name, Shape: []int{1}, Data: []float32{1}}}, nil)
		hlen := binary.LittleEndian.Uint64(data)
		require.Zero(t, (8+hlen)%8, "data buffer must start 8-byte aligned for name length %d", n)
		hdr := data[8 : 8+hlen]
		trimmed := bytes.TrimRight(hdr, " ")
		require.Less(t, len(hdr)-len(trimmed), 8, "padding is under 8 spaces")
		require.True(t, json.Valid(trimmed))
		require.Equal(t, byte('}'), trimmed[len(trimmed)-1])
	}
}

func TestDeterministic(t *testing.T) {
	in := specialTensors()
	reversed := slices.Clone(in)
	slices.Reverse(reversed)
	meta1 := map[string]string{}
	meta2 := map[string]string{}
	for i := range 50 {
		k := string(rune('a'+i%26)) + strings.Repeat("k", i)
		meta1[k] = k + "v"
	}
	for k, v := range meta1 {
		meta2[k] = v
	}
	first := encode(t, in, meta1)
	for range 5 {
		assert.Equal(t, first, encode(t, in, meta1))
		assert.Equal(t, first, encode(t, reversed, meta2))
	}
}

func TestEncodeValidation(t *testing.T) {
	ok := Tensor{Name: "ok", Shape: []int{1}, Data: []float32{1}}
	cases := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    string
	}{
		{"empty name", []Tensor{ok, {Name: "", Shape: []int{1}, Data: []float32{1}}}, nil, "empty tensor name"},
		{"duplicate", []Tensor{ok, {Name: "ok", Shape: []int{}, Data: []float32{2}}}, nil, `duplicate tensor name "ok"`},
		{"reserved", []Tensor{{Name: "__metadata__", Shape: []int{}, Data: []float32{1}}}, nil, `tensor name "__metadata__" is reserved`},
		{"reserved other", []Tensor{{Name: "__x", Shape: []int{}, Data: []float32{1}}}, nil, `tensor name "__x" is reserved`},
		{"bad utf8 name", []Tensor{{Name: "a\xff", Shape: []int{}, Data: []float32{1}}}, nil, "not valid UTF-8"},
		{"too few values", []Tensor{{Name: "w", Shape: []int{2, 2}, Data: []float32{1, 2, 3}}}, nil, `tensor "w": shape [2 2] holds 4 values but Data has 3`},
		{"too many values", []Tensor{{Name: "w", Shape: []int{0}, Data: []float32{1}}}, nil, `tensor "w": shape [0] holds 0 values but Data has 1`},
		{"nil shape two values", []Tensor{{Name: "w", Data: []float32{1, 2}}}, nil, `tensor "w": shape [] holds 1 values but Data has 2`},
		{"negative dim", []Tensor{{Name: "w", Shape: []int{2, -1}, Data: nil}}, nil, `tensor "w": dimension 1 of shape [2 -1] is negative`},
		{"negative dim with zero", []Tensor{{Name: "w", Shape: []int{0, -1}, Data: nil}}, nil, "is negative"},
		{"overflow", []Tensor{{Name: "w", Shape: []int{1 << 31, 1 << 31, 4}, Data: nil}}, nil, `tensor "w": shape [2147483648 2147483648 4] has too many elements`},
		{"overflow with zero", []Tensor{{Name: "w", Shape: []int{0, math.MaxInt, 2}, Data: nil}}, nil, "too many elements"},
		{"bad utf8 metadata key", []Tensor{ok}, map[string]string{"\xff": "v"}, "metadata key"},
		{"bad utf8 metadata value", []Tensor{ok}, map[string]string{"k": "\xfe"}, `metadata value for key "k" is not valid UTF-8`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Encode(&buf, tc.tensors, tc.meta)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidInput)
			assert.Contains(t, err.Error(), tc.want)
			assert.Zero(t, buf.Len(), "nothing is written on invalid input")
		})
	}
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after <= 0 {
		return 0, errors.New("disk full")
	}
	w.after--
	return len(p), nil
}

func TestEncodeWriteError(t *testing.T) {
	tensors := []Tensor{{Name: "w", Shape: []int{3}, Data: []float32{1, 2, 3}}}
	for after := range 3 {
		err := Encode(&failWriter{after: after}, tensors, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "disk full")
	}
	require.NoError(t, Encode(&failWriter{after: 3}, tensors, nil))
}

// Tensor entries used to build corrupt headers.
const (
	entryA4 = `"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`
)

func TestDecodeValidation(t *testing.T) {
	four := f32le(1)
	eight := f32le(1, 2)
	twelve := f32le(1, 2, 3)
	cases := []struct {
		name string
		data []byte
		want string
		is   error // defaults to ErrFormat
	}{
		{"empty input", nil, "file is 0 bytes, shorter than the 8-byte header length", nil},
		{"short input", []byte{1, 2, 3}, "file is 3 bytes, shorter than the 8-byte header length", nil},
		{"header beyond file", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), "header length 100 exceeds the 2 bytes after the length prefix", nil},
		{"header too large", binary.LittleEndian.AppendUint64(nil, MaxHeaderSize+1), "header length 100000001 exceeds the limit of 100000000 bytes", nil},
		{"header length max uint64", binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "header length 18446744073709551615 exceeds the limit", nil},
		{"empty header", build("", nil), "header is empty", nil},
		{"invalid utf8", build("{\"a\xff\":1}", nil), "header is not valid UTF-8", nil},
		{"not json", build(`{"a":`, nil), "header is not valid JSON", nil},
		{"not json garbage", build(`{xyz}`, nil), "header is not valid JSON", nil},
		{"trailing comma", build(`{`+entryA4+`,}`, four), "header is not valid JSON", nil},
		{"array header", build(`[1,2]`, nil), "header is not a JSON object", nil},
		{"string header", build(`"x"`, nil), "header is not a JSON object", nil},
		{"leading space", build(` {}`, nil), "header is not a JSON object", nil},
		{"trailing data", build(`{} {}`, nil), "unexpected data after the JSON object in header", nil},
		{"duplicate tensor", build(`{`+entryA4+`,`+entryA4+`}`, four), `duplicate key "a" in header`, nil},
		{"entry not object", build(`{"a":[0,4]}`, four), `tensor "a": entry is not a JSON object {dtype, shape, data_offsets}`, nil},
		{"entry null", build(`{"a":null}`, nil), `tensor "a": entry is not a JSON object`, nil},
		{"missing dtype", build(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, four), `tensor "a": missing field "dtype"`, nil},
		{"missing shape", build(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, four), `tensor "a": missing field "shape"`, nil},
		{"missing offsets", build(`{"a":{"dtype":"F32","shape":[1]}}`, four), `tensor "a": missing field "data_offsets"`, nil},
		{"unknown field", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}`, four), `tensor "a": unknown field "extra"`, nil},
		{"duplicate field", build(`{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, four), `duplicate key "dtype" in entry of tensor "a"`, nil},
		{"dtype not string", build(`{"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}`, four), `tensor "a": dtype is not a string`, nil},
		{"dtype null", build(`{"a":{"dtype":null,"shape":[1],"data_offsets":[0,4]}}`, four), `tensor "a": dtype is not a string`, nil},
		{"F16", build(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, four), `unsupported dtype F16 for tensor "a"`, ErrUnsupportedDType},
		{"BF16", build(`{"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`, four), `unsupported dtype BF16 for tensor "a"`, ErrUnsupportedDType},
		{"F64", build(`{"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, eight), `unsupported dtype F64 for tensor "w"`, ErrUnsupportedDType},
		{"I64", build(`{"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, eight), `unsupported dtype I64 for tensor "w"`, ErrUnsupportedDType},
		{"unknown dtype", build(`{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}`, four), `tensor "a": unknown dtype "F33"`, nil},
		{"lowercase dtype", build(`{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}`, four), `tensor "a": unknown dtype "f32"`, nil},
		{"shape not array", build(`{"a":{"dtype":"F32","shape":1,"data_offsets":[0,4]}}`, four), `tensor "a": shape: not a JSON array`, nil},
		{"shape null", build(`{"a":{"dtype":"F32","shape":null,"data_offsets":[0,4]}}`, four), `tensor "a": shape: not a JSON array`, nil},
		{"shape fraction", build(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, four), `tensor "a": shape: element 0 (1.5) is not an integer`, nil},
		{"shape exponent", build(`{"a":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}`, four), `tensor "a": shape: element 0 (1e0) is not an integer`, nil},
		{"shape string", build(`{"a":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}`, four), `tensor "a": shape: element 0 ("1") is not an integer`, nil},
		{"negative dim", build(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, four), `tensor "a": dimension 0 of shape [-1] is negative`, nil},
		{"negative dims multiply", build(`{"a":{"dtype":"F32","shape":[-1,-1],"data_offsets":[0,4]}}`, four), `tensor "a": dimension 0 of shape [-1 -1] is negative`, nil},
		{"dim out of int64 range", build(`{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}`, four), `tensor "a": shape: element 0 (99999999999999999999) is out of range`, nil},
		{"shape overflow", build(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil), `tensor "a": shape [4294967296 4294967296] has too many elements (overflow)`, nil},
		{"shape overflow bytes", build(`{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}`, nil), `tensor "a": shape [4611686018427387904] has too many elements`, nil},
		{"shape overflow despite zero", build(`{"a":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}}`, nil), `has too many elements`, nil},
		{"offsets not array", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":"0,4"}}`, four), `tensor "a": data_offsets: not a JSON array`, nil},
		{"offsets one element", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, four), `tensor "a": data_offsets has 1 elements, want 2`, nil},
		{"offsets three elements", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, four), `data_offsets has 3 elements, want 2`, nil},
		{"offsets negative", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, four), `tensor "a": negative data_offsets [-4,0]`, nil},
		{"offsets huge", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551616]}}`, four), `tensor "a": data_offsets: element 1 (18446744073709551616) is out of range`, nil},
		{"begin after end", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, four), `tensor "a": data_offsets [4,0] begin after they end`, nil},
		{"out of bounds", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, four), `tensor "a": data_offsets [0,8] are out of bounds of the 4-byte data buffer`, nil},
		{"out of bounds large", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[9223372036854775800,9223372036854775804]}}`, four), `are out of bounds`, nil},
		{"length mismatch", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, four), `tensor "a": data_offsets [0,4] span 4 bytes, but shape [2] of F32 needs 8`, nil},
		{"scalar length mismatch", build(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,8]}}`, eight), `tensor "a": data_offsets [0,8] span 8 bytes, but shape [] of F32 needs 4`, nil},
		{"overlap", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, twelve),
			`tensor "b" (data_offsets [4,12]) overlaps tensor "a" (data_offsets [0,8])`, nil},
		{"identical ranges", build(`{"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},`+entryA4+`}`, four), `tensor "b" (data_offsets [0,4]) overlaps tensor "a"`, nil},
		{"empty inside another", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}`, eight), `tensor "e" (data_offsets [4,4]) overlaps tensor "a"`, nil},
		{"gap", build(`{`+entryA4+`,"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, twelve), `4 unused bytes in the data buffer at offset 4, before tensor "b"`, nil},
		{"leading gap", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), `4 unused bytes in the data buffer at offset 0, before tensor "a"`, nil},
		{"trailing bytes", build(`{`+entryA4+`}`, eight), `4 unused bytes at the end of the 8-byte data buffer`, nil},
		{"data without tensors", build(`{}`, []byte{1}), `1 unused bytes at the end of the 1-byte data buffer`, nil},
		{"metadata not object", build(`{"__metadata__":"x"}`, nil), `__metadata__ is not a JSON object`, nil},
		{"metadata null", build(`{"__metadata__":null}`, nil), `__metadata__ is not a JSON object`, nil},
		{"metadata number value", build(`{"__metadata__":{"k":1}}`, nil), `metadata value for key "k" is not a string`, nil},
		{"metadata null value", build(`{"__metadata__":{"k":null}}`, nil), `metadata value for key "k" is not a string`, nil},
		{"metadata object value", build(`{"__metadata__":{"k":{"x":"y"}}}`, nil), `metadata value for key "k" is not a string`, nil},
		{"metadata duplicate key", build(`{"__metadata__":{"k":"a","k":"b"}}`, nil), `duplicate key "k" in __metadata__`, nil},
		{"metadata twice", build(`{"__metadata__":{},"__metadata__":{}}`, nil), `duplicate key "__metadata__" in header`, nil},
		{"empty name", build(`{"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, four), `empty tensor name`, nil},
		{"reserved name", build(`{"__w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, four), `tensor name "__w" is reserved`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var f *File
			var err error
			require.NotPanics(t, func() { f, err = Decode(tc.data) })
			require.Error(t, err)
			assert.Nil(t, f)
			is := tc.is
			if is == nil {
				is = ErrFormat
			}
			assert.ErrorIs(t, err, is)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	// Things a strict reader must still accept: foreign key order, whitespace,
	// unaligned data, offsets listed out of name order, zero-size tensors
	// sharing an offset, escaped names, and -0 as a dimension.
	hdr := "{\n \"b\" : { \"data_offsets\" : [ 0 , 4 ] , \"shape\" : [ 1 ] , \"dtype\" : \"F32\" } ,\t" +
		`"e1":{"dtype":"F32","shape":[0,5],"data_offsets":[4,4]},` +
		`"e2":{"dtype":"F32","shape":[-0],"data_offsets":[4,4]},` +
		`"\u0061":{"shape":[2],"dtype":"F32","data_offsets":[4,12]},` +
		`"__metadata__":{"k":"v\u00e9"}}` + "\r\n\t "
	f, err := Decode(build(hdr, f32le(9, 1, 2)))
	require.NoError(t, err)
	requireSameTensors(t, []Tensor{
		{Name: "a", Shape: []int{2}, Data: []float32{1, 2}},
		{Name: "b", Shape: []int{1}, Data: []float32{9}},
		{Name: "e1", Shape: []int{0, 5}, Data: []float32{}},
		{Name: "e2", Shape: []int{0}, Data: []float32{}},
	}, f.Tensors)
	assert.Equal(t, map[string]string{"k": "vé"}, f.Metadata)
}

func TestDecodeDoesNotAlias(t *testing.T) {
	data := encode(t, []Tensor{{Name: "w", Shape: []int{1}, Data: []float32{1}}}, nil)
	f, err := Decode(data)
	require.NoError(t, err)
	for i := range data {
		data[i] = 0xff
	}
	assert.Equal(t, float32(1), f.Tensors[0].Data[0])
}

func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	v1 := []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1, 2}}}
	v2 := []Tensor{{Name: "w", Shape: []int{3}, Data: []float32{3, 4, 5}}, {Name: "b", Shape: []int{}, Data: []float32{6}}}
	require.NoError(t, WriteFile(path, v1, map[string]string{"step": "1"}))
	require.NoError(t, WriteFile(path, v2, map[string]string{"step": "2"}))
	f, err := ReadFile(path)
	require.NoError(t, err)
	requireSameTensors(t, sortedByName(v2), f.Tensors)
	assert.Equal(t, map[string]string{"step": "2"}, f.Metadata)
	assert.Equal(t, []string{"ckpt.safetensors"}, dirNames(t, dir))
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileInvalidInputKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	require.NoError(t, WriteFile(path, []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1, 2}}}, nil))
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	err = WriteFile(path, []Tensor{{Name: "w", Shape: []int{3}, Data: []float32{1, 2}}}, nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalidInput)
	assert.Contains(t, err.Error(), path)

	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after)
	assert.Equal(t, []string{"ckpt.safetensors"}, dirNames(t, dir))
}

func TestWriteFileRenameFailureRemovesTemp(t *testing.T) {
	// path is a non-empty directory: the temporary file is written, fsynced
	// and closed, then the rename fails and the temporary file must go.
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	require.NoError(t, os.Mkdir(path, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(path, "keep"), []byte("x"), 0o644))

	err := WriteFile(path, []Tensor{{Name: "w", Shape: []int{1}, Data: []float32{1}}}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	assert.Equal(t, []string{"ckpt.safetensors"}, dirNames(t, dir))
	assert.Equal(t, []string{"keep"}, dirNames(t, path))
}

func TestWriteFileReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: directory permissions are not enforced")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	require.NoError(t, WriteFile(path, []Tensor{{Name: "w", Shape: []int{1}, Data: []float32{1}}}, nil))
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o555))
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })

	err = WriteFile(path, []Tensor{{Name: "w", Shape: []int{1}, Data: []float32{2}}}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after)
	assert.Equal(t, []string{"ckpt.safetensors"}, dirNames(t, dir))
}

func TestWriteFileMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope", "ckpt.safetensors")
	err := WriteFile(path, nil, nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), path)
}

func TestReadFileErrorsNamePath(t *testing.T) {
	dir := t.TempDir()
	good := encode(t, []Tensor{{Name: "w", Shape: []int{4}, Data: []float32{1, 2, 3, 4}}}, map[string]string{"k": "v"})
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		return p
	}
	cases := []struct {
		name string
		path string
		want string
		is   error
	}{
		{"missing", filepath.Join(dir, "missing.safetensors"), "no such file", os.ErrNotExist},
		{"directory", dir, "not a regular file", nil},
		{"short", write("short", []byte{1}), "shorter than the 8-byte header length", ErrFormat},
		{"huge header length", write("huge", binary.LittleEndian.AppendUint64(nil, 1<<62)), "exceeds the limit", ErrFormat},
		{"truncated data", write("trunc", good[:len(good)-1]), "out of bounds", ErrFormat},
		{"extra data", write("extra", append(slices.Clone(good), 0)), "1 unused bytes at the end", ErrFormat},
		{"bad dtype", write("f16", build(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, f32le(1))), `unsupported dtype F16 for tensor "a"`, ErrUnsupportedDType},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ReadFile(tc.path)
			require.Error(t, err)
			assert.Nil(t, f)
			assert.Contains(t, err.Error(), tc.path)
			assert.Contains(t, err.Error(), tc.want)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}

			m, err := ReadMetadata(tc.path)
			require.Error(t, err)
			assert.Nil(t, m)
			assert.Contains(t, err.Error(), tc.path)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestReadMetadata(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.safetensors")
	meta := map[string]string{"step": "1200", "loss": "1.25"}
	require.NoError(t, WriteFile(path, []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1, 2}}}, meta))
	got, err := ReadMetadata(path)
	require.NoError(t, err)
	assert.Equal(t, meta, got)

	path2 := filepath.Join(dir, "b.safetensors")
	require.NoError(t, WriteFile(path2, nil, nil))
	got, err = ReadMetadata(path2)
	require.NoError(t, err)
	assert.NotNil(t, got)
	assert.Empty(t, got)
}
