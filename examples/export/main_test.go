package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/export"
	"github.com/tinychat-go/tinychat/model"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestExportAndImport(t *testing.T) {
	dir := t.TempDir()
	tok, err := tokenizer.TrainBPE("hello world, hello there", tokenizer.BPEConfig{VocabSize: tokenizer.MinBPEVocabSize + 8})
	require.NoError(t, err)
	m, err := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: 16, Layers: 1, Heads: 2, Width: 8}, 1)
	require.NoError(t, err)
	ckPath := filepath.Join(dir, "sft.safetensors")
	require.NoError(t, (&model.Checkpoint{Stage: model.StageSFT, Model: m, Tokenizer: tok}).Save(ckPath))

	gguf := filepath.Join(dir, "m.gguf")
	code, out, stderr := runCmd(t, "-ckpt", ckPath, "-format", "gguf", "-f16", "-out", gguf)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "wrote "+gguf+" (gguf, sft checkpoint)\n", out)
	f, err := export.ReadGGUF(gguf)
	require.NoError(t, err)
	require.Equal(t, uint32(1), f.Metadata["general.file_type"])

	hf := filepath.Join(dir, "hf")
	code, _, stderr = runCmd(t, "-ckpt", ckPath, "-format", "hf", "-out", hf)
	require.Equal(t, 0, code, stderr)
	back := filepath.Join(dir, "back.safetensors")
	code, out, stderr = runCmd(t, "-import", hf, "-out", back)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "imported "+hf)
	ck, err := model.LoadCheckpoint(back)
	require.NoError(t, err)
	require.Equal(t, model.StageSFT, ck.Stage)
	require.Equal(t, m.Param("wte").Data, ck.Model.Param("wte").Data)

	// Failures: exit 1 with the reason, nothing written.
	code, _, stderr = runCmd(t, "-ckpt", filepath.Join(dir, "missing.safetensors"), "-format", "gguf", "-out", filepath.Join(dir, "x.gguf"))
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "missing.safetensors")
	require.NoFileExists(t, filepath.Join(dir, "x.gguf"))
	code, _, stderr = runCmd(t, "-import", dir, "-out", filepath.Join(dir, "y.safetensors"))
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "config.json")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 4, "no stray or temporary files") // sft, m.gguf, hf, back
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-ckpt", "a", "-out", "b"},
		{"-ckpt", "a", "-format", "onnx", "-out", "b"},
		{"-ckpt", "a", "-import", "d", "-out", "b"},
		{"-import", "d", "-format", "gguf", "-out", "b"},
		{"-ckpt", "a", "-format", "hf", "-f16", "-out", "b"},
		{"-ckpt", "a", "-format", "gguf"},
		{"-ckpt", "a", "-format", "gguf", "-out", "b", "extra"},
	} {
		code, _, stderr := runCmd(t, args...)
		require.Equal(t, 2, code, "%q", args)
		require.Contains(t, stderr, "Usage of export", "%q", args)
	}
}
