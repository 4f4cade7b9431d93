package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzDecode feeds arbitrary file images to Decode (see checkDecode). Its seed
// corpus, a valid file and corruptions of it, runs in plain go test. Use a
// count-based -fuzztime (e.g. 1000000x): with go1.26 a duration can end in a
// spurious "context deadline exceeded" (golang/go#75804).
func FuzzDecode(f *testing.F) {
	valid := encode(f, []Tensor{
		{Name: "a", Shape: []int{2, 2}, Data: []float32{1, -2, float32(math.Inf(1)), math.Float32frombits(0x7fc00001)}},
		{Name: "b", Shape: []int{}, Data: []float32{3}},
		{Name: "e", Shape: []int{0, 3}, Data: nil},
	}, map[string]string{"step": "5"})
	f.Add(valid)
	f.Add(encode(f, nil, nil))
	// Corruptions of the valid file.
	f.Add(valid[:len(valid)-1])                                       // truncated data
	f.Add(append(bytes.Clone(valid), 0, 0, 0, 0))                     // trailing bytes
	f.Add(valid[:12])                                                 // truncated header
	f.Add(append([]byte{0xff, 0xff, 0, 0, 0, 0, 0, 0}, valid[8:]...)) // wrong length
	flipped := bytes.Clone(valid)
	flipped[20] ^= 0x20
	f.Add(flipped)
	f.Add(build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}`, f32le(1, 2)))
	f.Add(build(`{"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`, f32le(1)))
	f.Add(build(`{"__metadata__":{"k":1}}`, nil))
	f.Add(build(`{"a":{"dtype":"F32","shape":[-1,-1],"data_offsets":[0,4]}}`, f32le(1)))
	f.Add(build("{\"\\u2028<&>\\\\\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", f32le(1)))
	f.Add(binary.LittleEndian.AppendUint64(nil, math.MaxUint64))

	f.Fuzz(checkDecode)
}

// FuzzDecodeHeader mutates the JSON header on its own (the length prefix is
// kept right), which reaches the header validation far more often than
// mutating whole files.
func FuzzDecodeHeader(f *testing.F) {
	f.Add(`{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[],"data_offsets":[8,12]}}`, 12)
	f.Add(`{"a":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4)
	f.Add(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8)
	f.Add(`{}`, 0)
	f.Fuzz(func(t *testing.T, header string, dataLen int) {
		if dataLen < 0 || dataLen > 1<<12 {
			return
		}
		data := make([]byte, dataLen)
		for i := range data {
			data[i] = byte(i * 7)
		}
		checkDecode(t, build(header, data))
	})
}

// checkDecode asserts that Decode does not panic and that whatever it
// accepts re-encodes to a file that decodes to the same tensors and metadata,
// and that encoding is then a fixed point.
func checkDecode(t *testing.T, data []byte) {
	file, err := Decode(data)
	if err != nil {
		require.Nil(t, file)
		return
	}
	var buf bytes.Buffer
	require.NoError(t, Encode(&buf, file.Tensors, file.Metadata), "a decoded file must re-encode")
	again, err := Decode(buf.Bytes())
	require.NoError(t, err, "a re-encoded file must decode")
	requireSameTensors(t, file.Tensors, again.Tensors)
	require.Equal(t, file.Metadata, again.Metadata)
	var buf2 bytes.Buffer
	require.NoError(t, Encode(&buf2, again.Tensors, again.Metadata))
	require.Equal(t, buf.Bytes(), buf2.Bytes(), "encoding is a fixed point")
}
