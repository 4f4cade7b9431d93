//go:build unix

package safetensors

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadFileFIFODoesNotBlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo.safetensors")
	require.NoError(t, syscall.Mkfifo(path, 0o600))
	done := make(chan error, 2)
	go func() {
		_, err := ReadFile(path)
		done <- err
		_, err = ReadMetadata(path)
		done <- err
	}()
	for range 2 {
		select {
		case err := <-done:
			require.Error(t, err)
			assert.Contains(t, err.Error(), path)
			assert.Contains(t, err.Error(), "not a regular file")
		case <-time.After(10 * time.Second):
			t.Fatal("reading a FIFO blocked")
		}
	}
}
