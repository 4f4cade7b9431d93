package model

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docScript returns the Python block of docs/checkpoint-format.md.
func docScript(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join("..", "docs", "checkpoint-format.md"))
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(b), "```python\n")
	require.True(t, ok, "docs/checkpoint-format.md has a python block")
	script, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	return script
}

// TestCheckpointFormatDocPython runs the checksum checker of docs/checkpoint-format.md (Python,
// standard library only) on a checkpoint Save wrote, and on one with a flipped data byte: an
// independent implementation of the checksums as documented. Skipped without python3.
func TestCheckpointFormatDocPython(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not available")
	}
	script := docScript(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "ck.safetensors")
	require.NoError(t, bpeCheckpoint(t).Save(path))
	out, err := exec.Command(python, "-c", script, path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.True(t, strings.HasPrefix(string(out), "(1e-05, [{'id': 0, 'text': '<|pad|>'}, {'id': 1, 'text': '<|bos|>'}"), "%s", out)

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[len(b)-3] ^= 0x10
	require.NoError(t, os.WriteFile(path, b, 0o644))
	out, err = exec.Command(python, "-c", script, path).CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "data is damaged")
}
