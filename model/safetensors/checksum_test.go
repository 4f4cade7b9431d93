package safetensors

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDataSHA256 checks that the data hash is the SHA-256 of the bytes after
// the header, the same from DataSHA256, Decode and ReadFile, and that it
// changes with one flipped byte of the data.
func TestDataSHA256(t *testing.T) {
	in := specialTensors()
	want, err := DataSHA256(in)
	require.NoError(t, err)

	raw := encode(t, in, map[string]string{"k": "v"})
	n := binary.LittleEndian.Uint64(raw)
	sum := sha256.Sum256(raw[prefixSize+n:])
	assert.Equal(t, hex.EncodeToString(sum[:]), want)

	f, err := Decode(raw)
	require.NoError(t, err)
	assert.Equal(t, want, f.DataSHA256)

	p := filepath.Join(t.TempDir(), "a.safetensors")
	require.NoError(t, WriteFile(p, in, nil))
	f, err = ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, want, f.DataSHA256)

	raw[len(raw)-1] ^= 1
	require.NoError(t, os.WriteFile(p, raw, 0o644))
	f, err = ReadFile(p)
	require.NoError(t, err, "a flipped data byte is still a well-formed file")
	assert.NotEqual(t, want, f.DataSHA256)

	// An empty data buffer has the SHA-256 of nothing.
	empty, err := DataSHA256(nil)
	require.NoError(t, err)
	assert.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", empty)

	_, err = DataSHA256([]Tensor{{Name: "x", Shape: []int{2}, Data: []float32{1}}})
	assert.ErrorIs(t, err, ErrInvalidInput)
}
