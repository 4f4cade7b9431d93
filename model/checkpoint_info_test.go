package model

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadCheckpointInfo(t *testing.T) {
	for _, withOptim := range []bool{true, false} {
		c := testCheckpoint(t)
		if !withOptim {
			c.Optimizer = nil
			c.Metrics = nil
			c.Stage = StageRLHF
		}
		path := filepath.Join(t.TempDir(), "ck.safetensors")
		require.NoError(t, c.Save(path))

		info, err := ReadCheckpointInfo(path)
		require.NoError(t, err)
		require.Equal(t, CheckpointInfo{
			Stage: c.Stage, Config: c.Model.Config, Parent: "abc123", Step: 17,
			Metrics: c.Metrics, Extra: c.Extra, HasOptimizer: withOptim,
		}, info)

		// It agrees with the full load.
		ck, err := LoadCheckpoint(path)
		require.NoError(t, err)
		require.Equal(t, ck.Optimizer != nil, info.HasOptimizer)
		require.Equal(t, ck.Metrics, info.Metrics)
		require.Equal(t, ck.Stage, info.Stage)
	}
}

func TestReadCheckpointInfoErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.safetensors")
	_, err := ReadCheckpointInfo(missing)
	require.ErrorContains(t, err, missing)
	require.ErrorIs(t, err, fs.ErrNotExist)

	garbage := filepath.Join(dir, "garbage.safetensors")
	require.NoError(t, os.WriteFile(garbage, []byte("not a checkpoint at all"), 0o644))
	_, err = ReadCheckpointInfo(garbage)
	require.ErrorContains(t, err, garbage)

	// A truncated file is caught by checking the header against the file size.
	good := filepath.Join(dir, "good.safetensors")
	require.NoError(t, testCheckpoint(t).Save(good))
	b, err := os.ReadFile(good)
	require.NoError(t, err)
	trunc := filepath.Join(dir, "trunc.safetensors")
	require.NoError(t, os.WriteFile(trunc, b[:len(b)-4], 0o644))
	_, err = ReadCheckpointInfo(trunc)
	require.ErrorContains(t, err, trunc)
	require.ErrorContains(t, err, "out of bounds")
}
