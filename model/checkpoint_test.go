package model

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model/safetensors"
)

func testCheckpoint(t *testing.T) *Checkpoint {
	tok := tokenizer.NewChar("abcdef")
	cfg := Config{VocabSize: tok.VocabSize(), BlockSize: 8, Layers: 1, Heads: 2, Width: 8}
	m, err := New(cfg, 3)
	require.NoError(t, err)
	return &Checkpoint{
		Stage: StagePretrain, Model: m, Tokenizer: tok, Parent: "abc123", Step: 17,
		Metrics:   map[string]float64{"val_loss": 1.5},
		Extra:     map[string]string{"loader": "xyz"},
		Optimizer: []safetensors.Tensor{{Name: "optim.wte.m", Shape: []int{2}, Data: []float32{1, 2}}},
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	c := testCheckpoint(t)
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	require.NoError(t, c.Save(path))
	got, err := LoadCheckpoint(path)
	require.NoError(t, err)
	require.Equal(t, c.Stage, got.Stage)
	require.Equal(t, c.Model.Config, got.Model.Config)
	require.Equal(t, c.Parent, got.Parent)
	require.Equal(t, 17, got.Step)
	require.Equal(t, c.Metrics, got.Metrics)
	require.Equal(t, c.Extra, got.Extra)
	require.Equal(t, c.Optimizer, got.Optimizer)
	for i, p := range c.Model.Params {
		require.Equal(t, p.Name, got.Model.Params[i].Name)
		require.Equal(t, p.Data, got.Model.Params[i].Data, p.Name)
	}
	ids, err := got.Tokenizer.Encode("cafe")
	require.NoError(t, err)
	want, _ := c.Tokenizer.Encode("cafe")
	require.Equal(t, want, ids)

	_, err = LoadStage(path, StageSFT)
	require.ErrorContains(t, err, `is from the "pretrain" stage; this needs a sft checkpoint`)
	_, err = LoadStage(path, StageSFT, StagePretrain)
	require.NoError(t, err)

	sum, err := FileSHA256(path)
	require.NoError(t, err)
	require.Len(t, sum, 64)
}

// rewrite loads the file at path as raw safetensors, lets edit change it, and writes it back
// with checksums that match the edited content, so that the loader's other checks see it.
func rewrite(t *testing.T, path string, edit func(ts []safetensors.Tensor, meta map[string]string) []safetensors.Tensor) {
	f, err := safetensors.ReadFile(path)
	require.NoError(t, err)
	ts := edit(f.Tensors, f.Metadata)
	require.NoError(t, seal(f.Metadata, ts))
	require.NoError(t, safetensors.WriteFile(path, ts, f.Metadata))
}

func TestCheckpointValidation(t *testing.T) {
	vocab := testCheckpoint(t).Tokenizer.VocabSize()
	cases := []struct {
		name string
		edit func(ts []safetensors.Tensor, meta map[string]string) []safetensors.Tensor
		want string
	}{
		{"stage", func(ts []safetensors.Tensor, m map[string]string) []safetensors.Tensor {
			m["stage"] = "bogus"
			return ts
		}, `unknown stage "bogus"`},
		{"version", func(ts []safetensors.Tensor, m map[string]string) []safetensors.Tensor {
			delete(m, "format_version")
			return ts
		}, "format version"},
		{"config", func(ts []safetensors.Tensor, m map[string]string) []safetensors.Tensor {
			m["config"] = `{"vocab_size":11,"block_size":8,"n_layer":1,"n_head":3,"n_embd":8}`
			return ts
		}, "heads (3) must divide width (8)"},
		{"vocab", func(ts []safetensors.Tensor, m map[string]string) []safetensors.Tensor {
			var c Config
			_ = json.Unmarshal([]byte(m["config"]), &c)
			c.VocabSize++
			b, _ := json.Marshal(c)
			m["config"] = string(b)
			return ts
		}, fmt.Sprintf("tokenizer has %d tokens but the config's vocab size is %d", vocab, vocab+1)},
		{"missing", func(ts []safetensors.Tensor, m map[string]string) []safetensors.Tensor {
			for i, x := range ts {
				if x.Name == "wpe" {
					return append(ts[:i:i], ts[i+1:]...)
				}
			}
			return ts
		}, `missing tensor "wpe"`},
		{"shape", func(ts []safetensors.Tensor, m map[string]string) []safetensors.Tensor {
			for i, x := range ts {
				if x.Name == "ln_f.bias" {
					ts[i] = safetensors.Tensor{Name: x.Name, Shape: []int{2, 4}, Data: x.Data}
				}
			}
			return ts
		}, `tensor "ln_f.bias" has shape [2 4], the config needs [8]`},
		{"unexpected", func(ts []safetensors.Tensor, m map[string]string) []safetensors.Tensor {
			return append(ts, safetensors.Tensor{Name: "extra.weight", Shape: []int{1}, Data: []float32{0}})
		}, `unexpected tensor "extra.weight"`},
		{"tokenizer", func(ts []safetensors.Tensor, m map[string]string) []safetensors.Tensor {
			m["tokenizer"] = "{"
			return ts
		}, "tokenizer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ck.safetensors")
			require.NoError(t, testCheckpoint(t).Save(path))
			rewrite(t, path, tc.edit)
			_, err := LoadCheckpoint(path)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, path)

			// ReadCheckpointInfo does not parse the tokenizer; it catches the rest.
			if tc.name != "tokenizer" {
				_, err = ReadCheckpointInfo(path)
				require.ErrorContains(t, err, path)
				if tc.name == "vocab" { // caught by the embedding's shape instead
					require.ErrorContains(t, err, fmt.Sprintf(`tensor "wte" has shape [%d 8], the config needs [%d 8]`, vocab, vocab+1))
				} else {
					require.ErrorContains(t, err, tc.want)
				}
			}
		})
	}
}

func TestCheckpointCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	require.NoError(t, os.WriteFile(path, []byte("not a checkpoint at all"), 0o644))
	_, err := LoadCheckpoint(path)
	require.Error(t, err)
	require.ErrorContains(t, err, path)
}

// TestCheckpointFailedSaveKeepsOldFile: a save that fails (here: a tokenizer that does not match
// the model) leaves the previous file untouched.
func TestCheckpointFailedSaveKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ck.safetensors")
	c := testCheckpoint(t)
	require.NoError(t, c.Save(path))
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	c.Optimizer = []safetensors.Tensor{{Name: "wte.m", Shape: []int{1}, Data: []float32{1}}}
	require.ErrorContains(t, c.Save(path), "must be named optim.")
	c.Optimizer = []safetensors.Tensor{{Name: "optim.bad", Shape: []int{3}, Data: []float32{1}}}
	require.Error(t, c.Save(path))
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary files are left behind")
}

// FuzzLoadCheckpoint feeds arbitrary bytes (seeded with a valid checkpoint and corruptions of
// it) to the loader: it must return an error or a valid checkpoint, never panic.
func FuzzLoadCheckpoint(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.safetensors")
	c := &Checkpoint{Stage: StageSFT, Tokenizer: tokenizer.NewChar("ab")}
	m, err := New(Config{VocabSize: c.Tokenizer.VocabSize(), BlockSize: 2, Layers: 1, Heads: 1, Width: 2}, 1)
	if err != nil {
		f.Fatal(err)
	}
	c.Model = m
	if err := c.Save(path); err != nil {
		f.Fatal(err)
	}
	valid, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(append([]byte{0xff, 0xff, 0, 0, 0, 0, 0, 0}, valid[8:]...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "x.safetensors")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ck, err := LoadCheckpoint(p)
		if err == nil && (ck.Model == nil || ck.Tokenizer.VocabSize() != ck.Model.Config.VocabSize) {
			t.Fatalf("loaded an inconsistent checkpoint")
		}
	})
}
