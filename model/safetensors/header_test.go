package safetensors

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadHeader(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.safetensors")
	meta := map[string]string{"step": "3"}
	tensors := []Tensor{
		{Name: "z", Shape: []int{2, 3}, Data: make([]float32, 6)},
		{Name: "a", Shape: []int{}, Data: []float32{1}},
		{Name: "m", Shape: []int{0, 4}},
	}
	require.NoError(t, WriteFile(path, tensors, meta))
	h, err := ReadHeader(path)
	require.NoError(t, err)
	assert.Equal(t, []TensorInfo{{"a", []int{}}, {"m", []int{0, 4}}, {"z", []int{2, 3}}}, h.Tensors)
	assert.Equal(t, meta, h.Metadata)

	empty := filepath.Join(dir, "empty.safetensors")
	require.NoError(t, WriteFile(empty, nil, nil))
	h, err = ReadHeader(empty)
	require.NoError(t, err)
	assert.Empty(t, h.Tensors)
	assert.NotNil(t, h.Metadata)
}

func TestReadHeaderErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.safetensors")
	require.NoError(t, WriteFile(path, []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1, 2}}}, nil))
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	trunc := filepath.Join(dir, "trunc.safetensors")
	require.NoError(t, os.WriteFile(trunc, good[:len(good)-1], 0o644))
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "missing.safetensors"), "no such file"},
		{dir, "not a regular file"},
		{trunc, "out of bounds"}, // the header is checked against the file size
	} {
		h, err := ReadHeader(tc.path)
		require.Error(t, err, tc.path)
		assert.Nil(t, h)
		assert.ErrorContains(t, err, tc.path)
		assert.ErrorContains(t, err, tc.want)
	}
}
