package export

import (
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

func TestF16(t *testing.T) {
	for f, h := range map[float32]uint16{
		0: 0, 1: 0x3c00, -2: 0xc000, 65504: 0x7bff, 65520: 0x7c00, 1e9: 0x7c00,
		float32(math.Inf(-1)): 0xfc00, 0x1p-24: 0x0001, 0x1p-25: 0, 0x1.8p-25: 0x0001, 0x1p-14: 0x0400,
		0.1: 0x2e66, 1 + 0x1p-11: 0x3c00, 1 + 0x3p-11: 0x3c02, // ties to even
	} {
		assert.Equal(t, h, f32ToF16(f), "%g", f)
	}
	assert.True(t, math.IsNaN(float64(f16ToF32(f32ToF16(float32(math.NaN()))))))
	// Every half value survives half → float32 → half.
	for h := range 1 << 16 {
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			continue // NaN payloads
		}
		require.Equal(t, uint16(h), f32ToF16(f16ToF32(uint16(h))), "%#04x", h)
	}
	// Rounding picks the nearer neighbour.
	for _, f := range []float32{0.3, 3.14159, -1234.567, 6.1e-5, 1e-7} {
		r := f16ToF32(f32ToF16(f))
		h := f32ToF16(f)
		for _, n := range []uint16{h - 1, h + 1} {
			assert.LessOrEqual(t, math.Abs(float64(r-f)), math.Abs(float64(f16ToF32(n)-f)), "%g", f)
		}
	}
}

// TestGGUFContents writes a checkpoint and reads it back: the keys llama.cpp requires with
// their types, every tensor under its name with its dimensions, matrices transposed to
// llama.cpp's [out, in] layout, zero biases for a model without them, aligned offsets.
func TestGGUFContents(t *testing.T) {
	ck := randomCheckpoint(t, model.Config{BlockSize: 16, Layers: 2, Heads: 2, Width: 8}, model.StageRLHF)
	path := filepath.Join(t.TempDir(), "m.gguf")
	require.NoError(t, WriteGGUF(context.Background(), path, ck, GGUFOptions{}))
	f, err := ReadGGUF(path)
	require.NoError(t, err)
	cfg := ck.Model.Config
	md := f.Metadata
	assert.Equal(t, uint32(3), f.Version)
	assert.Equal(t, "gpt2", md["general.architecture"])
	assert.Equal(t, "tinychat-rlhf", md["general.name"])
	for k, v := range map[string]uint32{
		"gpt2.context_length": 16, "gpt2.embedding_length": 8, "gpt2.block_count": 2,
		"gpt2.feed_forward_length": 32, "gpt2.attention.head_count": 2,
		"tokenizer.ggml.bos_token_id": tokenizer.BOS, "tokenizer.ggml.eos_token_id": tokenizer.End,
	} {
		assert.Equal(t, v, md[k], k)
	}
	assert.Equal(t, float32(1e-5), md["gpt2.attention.layer_norm_epsilon"])
	assert.Equal(t, "gpt2", md["tokenizer.ggml.model"])
	assert.Equal(t, "gpt-2", md["tokenizer.ggml.pre"])
	assert.Equal(t, ChatTemplate, md["tokenizer.chat_template"])
	toks := md["tokenizer.ggml.tokens"].([]any)
	require.Len(t, toks, cfg.VocabSize)
	assert.Equal(t, "<|user|>", toks[tokenizer.User])
	bpe := ck.Tokenizer.(*tokenizer.BPE)
	assert.Equal(t, "Ġ", toks[bpe.Specials()+' '])
	types := md["tokenizer.ggml.token_type"].([]any)
	assert.Equal(t, int32(3), types[tokenizer.End])
	assert.Equal(t, int32(1), types[bpe.Specials()])
	assert.Len(t, md["tokenizer.ggml.merges"].([]any), len(bpe.Merges()))

	want := []string{"token_embd.weight", "position_embd.weight"}
	for _, l := range []string{"0", "1"} {
		for _, n := range []string{"attn_norm.weight", "attn_norm.bias", "attn_qkv.weight", "attn_qkv.bias", "attn_output.weight", "attn_output.bias",
			"ffn_norm.weight", "ffn_norm.bias", "ffn_up.weight", "ffn_up.bias", "ffn_down.weight", "ffn_down.bias"} {
			want = append(want, "blk."+l+"."+n)
		}
	}
	want = append(want, "output_norm.weight", "output_norm.bias")
	var names []string
	for _, tn := range f.Tensors {
		names = append(names, tn.Name)
	}
	assert.Equal(t, want, names, "no output.weight for a tied head")
	assert.Equal(t, []uint64{8, uint64(cfg.VocabSize)}, f.Tensor("token_embd.weight").Dims)
	assert.Equal(t, ck.Model.Param("wte").Data, f.Tensor("token_embd.weight").Data)
	up := f.Tensor("blk.1.ffn_up.weight")
	assert.Equal(t, []uint64{8, 32}, up.Dims)
	w := ck.Model.Param("h.1.mlp.c_fc.weight").Data // [in 8, out 32]
	for i := range 8 {
		for o := range 32 {
			require.Equal(t, w[i*32+o], up.Data[o*8+i])
		}
	}
	assert.Equal(t, make([]float32, 24), f.Tensor("blk.0.attn_qkv.bias").Data)

	// f16 halves the matrices and keeps the vectors in f32.
	p16 := filepath.Join(t.TempDir(), "m16.gguf")
	require.NoError(t, WriteGGUF(context.Background(), p16, ck, GGUFOptions{F16: true, Name: "custom"}))
	f16, err := ReadGGUF(p16)
	require.NoError(t, err)
	assert.Equal(t, "custom", f16.Metadata["general.name"])
	assert.Equal(t, uint32(1), f16.Tensor("blk.0.ffn_up.weight").Type)
	assert.Equal(t, uint32(0), f16.Tensor("blk.0.ffn_norm.weight").Type)
	assert.Equal(t, RoundF16(ck.Model.Param("wte").Data), f16.Tensor("token_embd.weight").Data)
	assert.Equal(t, ck.Model.Param("h.0.ln_2.weight").Data, f16.Tensor("blk.0.ffn_norm.weight").Data)

	// Untied head and biases.
	ck2 := randomCheckpoint(t, model.Config{BlockSize: 16, Layers: 1, Heads: 2, Width: 8, UntiedHead: true, LinearBias: true}, model.StagePretrain)
	p2 := filepath.Join(t.TempDir(), "m2.gguf")
	require.NoError(t, WriteGGUF(context.Background(), p2, ck2, GGUFOptions{}))
	f2, err := ReadGGUF(p2)
	require.NoError(t, err)
	assert.Equal(t, ck2.Model.Param("lm_head.weight").Data, f2.Tensor("output.weight").Data)
	assert.Equal(t, ck2.Model.Param("h.0.attn.c_attn.bias").Data, f2.Tensor("blk.0.attn_qkv.bias").Data)
}

func TestReadGGUFErrors(t *testing.T) {
	ck := randomCheckpoint(t, model.Config{BlockSize: 8, Layers: 1, Heads: 1, Width: 4}, model.StagePretrain)
	path := filepath.Join(t.TempDir(), "m.gguf")
	require.NoError(t, WriteGGUF(context.Background(), path, ck, GGUFOptions{F16: true}))
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	// Every truncation is an error, never a panic.
	for n := 0; n < len(good)-32; n += 1 + n/50 {
		_, err := decodeGGUF(good[:n])
		require.ErrorIs(t, err, ErrFormat, "cut at %d", n)
	}
	bad := func(edit func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		edit(b)
		return b
	}
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"safetensors": {[]byte("\x10\x00\x00\x00\x00\x00\x00\x00{}"), `not "GGUF"`},
		"version":     {bad(func(b []byte) { b[4] = 9 }), "version 9"},
		"kv count":    {bad(func(b []byte) { binary.LittleEndian.PutUint64(b[16:], 1<<40) }), "cannot fit"},
		"key length":  {bad(func(b []byte) { binary.LittleEndian.PutUint64(b[24:], 1<<50) }), "truncated"},
		"value type":  {bad(func(b []byte) { binary.LittleEndian.PutUint32(b[32+len("general.architecture"):], 99) }), "unknown value type 99"},
	} {
		_, err := decodeGGUF(c.data)
		require.ErrorIs(t, err, ErrFormat, name)
		assert.ErrorContains(t, err, c.want, name)
	}
	_, err = ReadGGUF(filepath.Join(t.TempDir(), "missing.gguf"))
	assert.ErrorContains(t, err, "missing.gguf")
	require.NoError(t, os.WriteFile(path, good[:100], 0o644))
	_, err = ReadGGUF(path)
	assert.ErrorContains(t, err, path)
}

func FuzzDecodeGGUF(f *testing.F) {
	tok, err := tokenizer.TrainBPE("ab ab", tokenizer.BPEConfig{})
	if err != nil {
		f.Fatal(err)
	}
	m, err := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: 4, Layers: 1, Heads: 1, Width: 2}, 1)
	if err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(f.TempDir(), "seed.gguf")
	if err := WriteGGUF(context.Background(), path, &model.Checkpoint{Stage: model.StagePretrain, Model: m, Tokenizer: tok}, GGUFOptions{}); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := decodeGGUF(data)
		if err != nil {
			if g != nil {
				t.Fatal("a result with an error")
			}
			return
		}
		for _, tn := range g.Tensors {
			n := uint64(1)
			for _, d := range tn.Dims {
				n *= d
			}
			if uint64(len(tn.Data)) != n {
				t.Fatalf("tensor %s: %d values for dims %v", tn.Name, len(tn.Data), tn.Dims)
			}
		}
	})
}

// TestReadGGUFMutations decodes thousands of randomly damaged copies of a GGUF file: each
// gives an error or a consistent file, never a panic.
func TestReadGGUFMutations(t *testing.T) {
	ck := randomCheckpoint(t, model.Config{BlockSize: 8, Layers: 1, Heads: 1, Width: 4}, model.StagePretrain)
	path := filepath.Join(t.TempDir(), "m.gguf")
	require.NoError(t, WriteGGUF(context.Background(), path, ck, GGUFOptions{}))
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(7, 8))
	for range 3000 {
		b := append([]byte(nil), good...)
		for range 1 + rng.IntN(4) {
			i := rng.IntN(len(b))
			switch rng.IntN(3) {
			case 0:
				b[i] ^= byte(1 << rng.IntN(8))
			case 1:
				b[i] = 0xff
			default:
				b = b[:i]
			}
			if len(b) == 0 {
				break
			}
		}
		f, err := decodeGGUF(b)
		if err != nil {
			require.ErrorIs(t, err, ErrFormat)
			continue
		}
		for _, tn := range f.Tensors {
			n := uint64(1)
			for _, d := range tn.Dims {
				n *= d
			}
			require.Equal(t, n, uint64(len(tn.Data)))
		}
	}
}
