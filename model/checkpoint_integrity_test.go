package model

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model/safetensors"
)

// bpeCheckpoint is a small checkpoint with a BPE tokenizer, so that its metadata holds merges.
func bpeCheckpoint(t *testing.T) *Checkpoint {
	tok, err := tokenizer.TrainBPE(strings.Repeat("the cat sat on the mat. ", 20), tokenizer.BPEConfig{VocabSize: tokenizer.MinBPEVocabSize + 6})
	require.NoError(t, err)
	m, err := New(Config{VocabSize: tok.VocabSize(), BlockSize: 4, Layers: 1, Heads: 1, Width: 4}, 5)
	require.NoError(t, err)
	return &Checkpoint{Stage: StageSFT, Model: m, Tokenizer: tok}
}

// headerEnd returns the offset of the first byte after a safetensors file's header.
func headerEnd(b []byte) int { return 8 + int(binary.LittleEndian.Uint64(b)) }

// TestCheckpointFlippedDataByte is the regression test for a flipped byte in the tensor data,
// which loaded silently and changed the model: now it is a "file is damaged" error.
func TestCheckpointFlippedDataByte(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	require.NoError(t, bpeCheckpoint(t).Save(path))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	end := headerEnd(b)
	b[end+(len(b)-end)/2] ^= 0x01 // the lowest mantissa bit of some weight
	require.NoError(t, os.WriteFile(path, b, 0o644))

	_, err = LoadCheckpoint(path)
	require.ErrorIs(t, err, ErrDamaged)
	assert.EqualError(t, err, "model: checkpoint "+path+": file is damaged: its tensor data does not match its checksum (data_sha256)")

	// The header alone is intact.
	_, err = ReadCheckpointInfo(path)
	require.NoError(t, err)
}

// TestCheckpointFlippedMergeByte is the regression test for a changed byte in the tokenizer's
// merges (in the metadata), which loaded silently and changed the tokenizer.
func TestCheckpointFlippedMergeByte(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	require.NoError(t, bpeCheckpoint(t).Save(path))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	at := bytes.Index(b[:headerEnd(b)], []byte(`\"merges\":[[`))
	require.Positive(t, at)
	at += len(`\"merges\":[[`)
	require.True(t, b[at] >= '0' && b[at] <= '9', "a merge's first ID starts with a digit")
	// Another token ID that is still a valid earlier ID: the file stays well-formed.
	if b[at] == '1' {
		b[at] = '2'
	} else {
		b[at] = '1'
	}
	require.NoError(t, os.WriteFile(path, b, 0o644))

	for name, load := range map[string]func(string) error{
		"LoadCheckpoint":     func(p string) error { _, err := LoadCheckpoint(p); return err },
		"ReadCheckpointInfo": func(p string) error { _, err := ReadCheckpointInfo(p); return err },
	} {
		err := load(path)
		require.ErrorIs(t, err, ErrDamaged, name)
		assert.ErrorContains(t, err, path, name)
		assert.ErrorContains(t, err, "file is damaged: its metadata or tensor list does not match its checksum (metadata_sha256)", name)
	}
}

// TestCheckpointNonFinite is the regression test for NaN and infinite weights, which loaded
// (and made chat print empty replies): every one is an error naming the tensor, on load and on
// save.
func TestCheckpointNonFinite(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	cases := []struct {
		tensor string
		index  int
		value  float32
		want   string
	}{
		{"h.0.attn.c_attn.weight", 5, nan, `tensor "h.0.attn.c_attn.weight" holds NaN at index 5 of 192: the weights are not finite`},
		{"wte", 0, inf, fmt.Sprintf(`tensor "wte" holds +Inf at index 0 of %d: the weights are not finite`, 8*testCheckpoint(t).Tokenizer.VocabSize())},
		{"ln_f.bias", 7, -inf, `tensor "ln_f.bias" holds -Inf at index 7 of 8: the weights are not finite`},
		{"optim.wte.m", 1, nan, `tensor "optim.wte.m" holds NaN at index 1 of 2: the weights are not finite`},
	}
	for _, tc := range cases {
		t.Run(tc.tensor, func(t *testing.T) {
			// Written with matching checksums, as a training run that diverged would write it.
			path := filepath.Join(t.TempDir(), "ck.safetensors")
			require.NoError(t, testCheckpoint(t).Save(path))
			rewrite(t, path, func(ts []safetensors.Tensor, _ map[string]string) []safetensors.Tensor {
				for _, x := range ts {
					if x.Name == tc.tensor {
						x.Data[tc.index] = tc.value
					}
				}
				return ts
			})
			_, err := LoadCheckpoint(path)
			assert.EqualError(t, err, "model: checkpoint "+path+": "+tc.want)

			// Save refuses to write such a model, and keeps the good file.
			c := testCheckpoint(t)
			good := filepath.Join(t.TempDir(), "good.safetensors")
			require.NoError(t, c.Save(good))
			before, err := os.ReadFile(good)
			require.NoError(t, err)
			if p := c.Model.Param(tc.tensor); p != nil {
				p.Data[tc.index] = tc.value
			} else {
				c.Optimizer[0].Data[tc.index] = tc.value
			}
			assert.EqualError(t, c.Save(good), "model: saving "+good+": "+tc.want)
			after, err := os.ReadFile(good)
			require.NoError(t, err)
			assert.Equal(t, before, after)
		})
	}
}

// TestCheckpointWithoutChecksums: a current-version file whose checksums were removed is
// damaged, not silently accepted as unchecked.
func TestCheckpointWithoutChecksums(t *testing.T) {
	for _, key := range []string{metaDataSHA256, metaMetadataSHA256} {
		path := filepath.Join(t.TempDir(), "ck.safetensors")
		require.NoError(t, testCheckpoint(t).Save(path))
		f, err := safetensors.ReadFile(path)
		require.NoError(t, err)
		delete(f.Metadata, key)
		if key == metaDataSHA256 { // keep the header's own checksum right
			f.Metadata[metaMetadataSHA256] = headerSHA256(f.Metadata, tensorInfos(f.Tensors))
		}
		require.NoError(t, safetensors.WriteFile(path, f.Tensors, f.Metadata))
		_, err = LoadCheckpoint(path)
		require.ErrorIs(t, err, ErrDamaged)
		assert.ErrorContains(t, err, "file is damaged: it has no "+key+" (a format version 2 checkpoint has one)")
	}
}

// TestCheckpointFormatVersion1 loads a checkpoint written by format version 1 (no checksums),
// committed as testdata/checkpoint-v1.safetensors.
func TestCheckpointFormatVersion1(t *testing.T) {
	const path = "testdata/checkpoint-v1.safetensors"
	raw, err := safetensors.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "1", raw.Metadata["format_version"])
	require.NotContains(t, raw.Metadata, metaDataSHA256)

	c, err := LoadCheckpoint(path)
	require.NoError(t, err)
	assert.Equal(t, StagePretrain, c.Stage)
	assert.Equal(t, 17, c.Step)
	assert.Equal(t, "abc123", c.Parent)
	assert.Equal(t, map[string]float64{"val_loss": 1.5}, c.Metrics)
	assert.Equal(t, map[string]string{"loader": "xyz"}, c.Extra)
	assert.Equal(t, Config{VocabSize: 11, BlockSize: 8, Layers: 1, Heads: 2, Width: 8}, c.Model.Config)
	ids, err := c.Tokenizer.Encode("cafe")
	require.NoError(t, err)
	assert.Equal(t, []int32{7, 5, 10, 9}, ids)
	for _, p := range c.Model.Params {
		want, ok := raw.Get(p.Name)
		require.True(t, ok, p.Name)
		assert.Equal(t, want.Data, p.Data, p.Name)
	}
	assert.Equal(t, []safetensors.Tensor{{Name: "optim.wte.m", Shape: []int{2}, Data: []float32{1, 2}}}, c.Optimizer)

	info, err := ReadCheckpointInfo(path)
	require.NoError(t, err)
	assert.Equal(t, 17, info.Step)

	// Saved again, it becomes a current-version file with checksums.
	out := filepath.Join(t.TempDir(), "v2.safetensors")
	require.NoError(t, c.Save(out))
	meta, err := safetensors.ReadMetadata(out)
	require.NoError(t, err)
	assert.Equal(t, "2", meta["format_version"])
	assert.Len(t, meta[metaDataSHA256], 64)
	assert.Len(t, meta[metaMetadataSHA256], 64)
}

// TestNotACheckpoint: a safetensors file without tinychat's metadata (a Hugging Face export, say)
// is reported as not a tinychat checkpoint, not as a damaged one.
func TestNotACheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	require.NoError(t, safetensors.WriteFile(path, []safetensors.Tensor{{Name: "wte", Shape: []int{2}, Data: []float32{1, 2}}}, map[string]string{"format": "pt"}))
	for name, load := range map[string]func(string) error{
		"LoadCheckpoint":     func(p string) error { _, err := LoadCheckpoint(p); return err },
		"ReadCheckpointInfo": func(p string) error { _, err := ReadCheckpointInfo(p); return err },
	} {
		err := load(path)
		require.Error(t, err, name)
		assert.NotErrorIs(t, err, ErrDamaged, name)
		assert.EqualError(t, err, "model: checkpoint "+path+`: format version "", want 1 to 2 (is this a tinychat checkpoint, written by this version or an older one?)`, name)
	}
}
