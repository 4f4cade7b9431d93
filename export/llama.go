package export

import (
	"bufio"
	"context"
	"errors"
	"fmt"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/internal/kernels"
	"github.com/tinychat-go/tinychat/model"
)

// GGUFOptions tunes WriteGGUF. The zero value writes every tensor as float32.
type GGUFOptions struct {
	// F16 stores the weight matrices (embeddings included) as half precision, halving the
	// file; LayerNorm weights and all biases stay float32, as llama.cpp's own converter does.
	F16 bool
	// Name is general.name; empty means "tinychat-<stage>".
	Name string
}

// llama.cpp token types.
const (
	llamaTokenNormal  int32 = 1
	llamaTokenControl int32 = 3
)

// ErrUnsupported is wrapped by the errors for checkpoints or files that a format cannot
// hold: a reward model's scalar head, a character tokenizer, an unknown architecture.
var ErrUnsupported = errors.New("export: unsupported")

// WriteGGUF writes the checkpoint as a GGUF file for llama.cpp (and Ollama, LM Studio, ...),
// architecture "gpt2", atomically. Every generating checkpoint (pretrain, SFT, RLHF) can be
// written; a reward model's scalar head has no place in llama.cpp's gpt2 graph and is an
// error wrapping ErrUnsupported, as is a character tokenizer (the format needs a byte-level
// BPE).
//
// The file holds the true block size as gpt2.context_length (llama.cpp aborts on positions
// beyond it), the vocabulary as GPT-2 byte-level strings with the special tokens as CONTROL
// tokens, <|bos|> as BOS and <|end|> as EOS/EOT, the chat template (Jinja, see ChatTemplate),
// and zero biases where the model has none. The tokenizer's pre-splitting is written as
// llama.cpp's "gpt-2" pre-tokenizer, which is exact for tokenizers with
// tokenizer.PreSplitGPT2 (imported ones); for this package's default pre-splitting it differs
// only where tokenizer.PreSplitGPT2's documentation says (digit runs over three, upper-case
// contractions, combining marks, whitespace runs before a word that do not end in a space).
func WriteGGUF(ctx context.Context, path string, ck *model.Checkpoint, opt GGUFOptions) error {
	kvs, tensors, err := ggufContents(ck, opt)
	if err != nil {
		return fmt.Errorf("export: GGUF %s: %w", path, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("export: GGUF %s: %w", path, err)
	}
	if err := writeAtomic(path, func(w *bufio.Writer) error { return writeGGUF(w, kvs, tensors) }); err != nil {
		return fmt.Errorf("export: writing GGUF: %w", err)
	}
	return nil
}

// byteBPE returns the checkpoint's tokenizer as a BPE, or an error naming what it is.
func byteBPE(ck *model.Checkpoint) (*tokenizer.BPE, error) {
	if ck == nil || ck.Model == nil {
		return nil, errors.New("nil checkpoint or model")
	}
	bpe, ok := ck.Tokenizer.(*tokenizer.BPE)
	if !ok {
		kind := "none"
		if ck.Tokenizer != nil {
			kind = ck.Tokenizer.Kind()
		}
		return nil, fmt.Errorf("%w: the checkpoint's tokenizer is %q; GGUF and Hugging Face tokenizers need a byte-level BPE", ErrUnsupported, kind)
	}
	if bpe.VocabSize() != ck.Model.Config.VocabSize {
		return nil, fmt.Errorf("tokenizer has %d tokens but the model's vocab size is %d", bpe.VocabSize(), ck.Model.Config.VocabSize)
	}
	if ck.Model.Config.ScalarHead {
		return nil, fmt.Errorf("%w: a %s checkpoint with a scalar head (a reward or value model) has no language-model output to export", ErrUnsupported, ck.Stage)
	}
	return bpe, nil
}

func ggufContents(ck *model.Checkpoint, opt GGUFOptions) ([]ggufKV, []ggufTensor, error) {
	bpe, err := byteBPE(ck)
	if err != nil {
		return nil, nil, err
	}
	strs, err := tokenizer.TokenStrings(bpe)
	if err != nil {
		return nil, nil, err
	}
	types := make([]int32, len(strs))
	for i := range types {
		types[i] = llamaTokenNormal
		if i < bpe.Specials() {
			types[i] = llamaTokenControl
		}
	}
	merges := make([]string, 0, len(bpe.Merges()))
	for _, m := range bpe.Merges() {
		merges = append(merges, strs[m[0]]+" "+strs[m[1]])
	}
	cfg := ck.Model.Config
	name := opt.Name
	if name == "" {
		name = "tinychat-" + string(ck.Stage)
	}
	fileType := uint32(0) // ALL_F32
	if opt.F16 {
		fileType = 1 // MOSTLY_F16
	}
	kvs := []ggufKV{
		{"general.architecture", "gpt2"},
		{"general.name", name},
		{"general.file_type", fileType},
		{"general.alignment", uint32(ggufAlignment)},
		{"gpt2.context_length", uint32(cfg.BlockSize)},
		{"gpt2.embedding_length", uint32(cfg.Width)},
		{"gpt2.block_count", uint32(cfg.Layers)},
		{"gpt2.feed_forward_length", uint32(4 * cfg.Width)},
		{"gpt2.attention.head_count", uint32(cfg.Heads)},
		{"gpt2.attention.layer_norm_epsilon", float32(kernels.LayerNormEps)},
		{"tokenizer.ggml.model", "gpt2"},
		{"tokenizer.ggml.pre", "gpt-2"},
		{"tokenizer.ggml.tokens", strs},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.merges", merges},
		{"tokenizer.ggml.bos_token_id", uint32(tokenizer.BOS)},
		{"tokenizer.ggml.eos_token_id", uint32(tokenizer.End)},
		{"tokenizer.ggml.eot_token_id", uint32(tokenizer.End)},
		{"tokenizer.ggml.padding_token_id", uint32(tokenizer.Pad)},
		{"tokenizer.ggml.add_bos_token", false},
		{"tokenizer.ggml.add_eos_token", false},
		{"tokenizer.chat_template", ChatTemplate},
	}

	m := ck.Model
	C := uint64(cfg.Width)
	var tensors []ggufTensor
	var missing []string
	get := func(name string) []float32 {
		p := m.Param(name)
		if p == nil {
			missing = append(missing, name)
			return nil
		}
		return p.Data
	}
	// vec writes a 1-D tensor (always f32); zeros when the model has no such parameter.
	vec := func(gname, ours string, n uint64) {
		data := make([]float32, n)
		if ours != "" {
			data = get(ours)
		}
		tensors = append(tensors, ggufTensor{Name: gname, Dims: []uint64{n}, Data: data})
	}
	// rows writes a row-major [rows, cols] parameter as is: GGUF dims [cols, rows].
	rows := func(gname, ours string, r, c uint64) {
		tensors = append(tensors, ggufTensor{Name: gname, Dims: []uint64{c, r}, Data: get(ours), F16: opt.F16})
	}
	// linear writes our [in, out] matrix (y = x·W) as llama.cpp's [out, in] weight
	// (y = W·x): transposed, GGUF dims [in, out].
	linear := func(gname, ours string, in, out uint64) {
		w := get(ours)
		if w == nil {
			return
		}
		t := make([]float32, len(w))
		for i := range in {
			for o := range out {
				t[o*in+i] = w[i*out+o]
			}
		}
		tensors = append(tensors, ggufTensor{Name: gname, Dims: []uint64{in, out}, Data: t, F16: opt.F16})
	}
	bias := func(gname, ours string, n uint64) {
		if cfg.LinearBias {
			vec(gname, ours, n)
		} else {
			vec(gname, "", n)
		}
	}
	V, T := uint64(cfg.VocabSize), uint64(cfg.BlockSize)
	rows("token_embd.weight", "wte", V, C)
	rows("position_embd.weight", "wpe", T, C)
	for l := range cfg.Layers {
		g, p := fmt.Sprintf("blk.%d.", l), fmt.Sprintf("h.%d.", l)
		vec(g+"attn_norm.weight", p+"ln_1.weight", C)
		vec(g+"attn_norm.bias", p+"ln_1.bias", C)
		linear(g+"attn_qkv.weight", p+"attn.c_attn.weight", C, 3*C)
		bias(g+"attn_qkv.bias", p+"attn.c_attn.bias", 3*C)
		linear(g+"attn_output.weight", p+"attn.c_proj.weight", C, C)
		bias(g+"attn_output.bias", p+"attn.c_proj.bias", C)
		vec(g+"ffn_norm.weight", p+"ln_2.weight", C)
		vec(g+"ffn_norm.bias", p+"ln_2.bias", C)
		linear(g+"ffn_up.weight", p+"mlp.c_fc.weight", C, 4*C)
		bias(g+"ffn_up.bias", p+"mlp.c_fc.bias", 4*C)
		linear(g+"ffn_down.weight", p+"mlp.c_proj.weight", 4*C, C)
		bias(g+"ffn_down.bias", p+"mlp.c_proj.bias", C)
	}
	vec("output_norm.weight", "ln_f.weight", C)
	vec("output_norm.bias", "ln_f.bias", C)
	if cfg.UntiedHead {
		rows("output.weight", "lm_head.weight", V, C)
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("the model lacks parameters %v", missing)
	}
	return kvs, tensors, nil
}
