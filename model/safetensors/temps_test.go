package safetensors

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "ckpt.safetensors")
	write := func(name string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
		return p
	}
	// What a write killed before its rename leaves: a real temporary file.
	f, tmp, err := createTemp(dir, "ckpt.safetensors")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	stale := []string{
		tmp,
		write(".ckpt.safetensors.tmp-" + strconv.FormatUint(1<<64-1, 36)), // the longest suffix (13 digits)
		write(".ckpt.safetensors.tmp-0"),
	}
	keep := []string{
		write("ckpt.safetensors"),
		write(".other.safetensors.tmp-abc123"),        // another target's temporary file
		write(".ckpt.safetensors.tmp-"),               // no suffix
		write(".ckpt.safetensors.tmp-ABC"),            // not WriteFile's alphabet
		write(".ckpt.safetensors.tmp-abc.bak"),        // something else
		write("ckpt.safetensors.tmp-abc"),             // no leading dot
		write(".ckpt.safetensors.tmp-abcdefghijklmn"), // 14 digits: longer than a uint64
		write(".x.ckpt.safetensors.tmp-abc"),          // another base ending the same
	}
	subdir := filepath.Join(dir, ".ckpt.safetensors.tmp-dir1")
	require.NoError(t, os.Mkdir(subdir, 0o755))
	keep = append(keep, subdir)
	link := filepath.Join(dir, ".ckpt.safetensors.tmp-link1")
	require.NoError(t, os.Symlink(keep[0], link))
	keep = append(keep, link)

	removed, err := RemoveStaleTemps(target)
	require.NoError(t, err)
	assert.ElementsMatch(t, stale, removed)
	for _, p := range stale {
		assert.NoFileExists(t, p)
	}
	for _, p := range keep {
		_, err := os.Lstat(p)
		assert.NoError(t, err, "%s must be kept", p)
	}

	removed, err = RemoveStaleTemps(target)
	require.NoError(t, err)
	assert.Empty(t, removed, "a second call finds nothing")

	removed, err = RemoveStaleTemps(filepath.Join(dir, "missing", "x.safetensors"))
	require.NoError(t, err)
	assert.Empty(t, removed)
}

// TestWriteFileTempIsRecognised ties the recogniser to WriteFile's naming.
func TestWriteFileTempIsRecognised(t *testing.T) {
	dir := t.TempDir()
	for range 50 {
		f, tmp, err := createTemp(dir, "a.safetensors")
		require.NoError(t, err)
		require.NoError(t, f.Close())
		assert.True(t, isTempFor(filepath.Base(tmp), "a.safetensors"), tmp)
		assert.False(t, isTempFor(filepath.Base(tmp), "b.safetensors"), tmp)
	}
}
