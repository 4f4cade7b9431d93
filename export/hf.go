package export

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/internal/kernels"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/model/safetensors"
)

// The files of a Hugging Face GPT-2 directory.
const (
	HFConfigFile           = "config.json"
	HFWeightsFile          = "model.safetensors"
	HFTokenizerFile        = "tokenizer.json"
	HFTokenizerConfigFile  = "tokenizer_config.json"
	HFSpecialTokensFile    = "special_tokens_map.json"
	HFGenerationConfigFile = "generation_config.json"
)

// hfConfig is transformers' GPT2Config as config.json holds it (the fields read and written
// here), plus tinychat's own keys, which transformers ignores.
type hfConfig struct {
	Architectures        []string `json:"architectures,omitempty"`
	ModelType            string   `json:"model_type"`
	VocabSize            int      `json:"vocab_size"`
	NPositions           int      `json:"n_positions"`
	NCtx                 int      `json:"n_ctx,omitempty"`
	NEmbd                int      `json:"n_embd"`
	NLayer               int      `json:"n_layer"`
	NHead                int      `json:"n_head"`
	NInner               *int     `json:"n_inner"`
	Activation           string   `json:"activation_function"`
	ResidPdrop           float64  `json:"resid_pdrop"`
	EmbdPdrop            float64  `json:"embd_pdrop"`
	AttnPdrop            float64  `json:"attn_pdrop"`
	LayerNormEps         float64  `json:"layer_norm_epsilon"`
	InitializerRange     float64  `json:"initializer_range"`
	BOSTokenID           *int     `json:"bos_token_id,omitempty"`
	EOSTokenID           *int     `json:"eos_token_id,omitempty"`
	PadTokenID           *int     `json:"pad_token_id,omitempty"`
	TieWordEmbeddings    *bool    `json:"tie_word_embeddings,omitempty"`
	ScaleAttnWeights     *bool    `json:"scale_attn_weights,omitempty"`
	ScaleAttnByLayerIdx  bool     `json:"scale_attn_by_inverse_layer_idx"`
	ReorderAndUpcastAttn bool     `json:"reorder_and_upcast_attn"`
	TorchDType           string   `json:"torch_dtype,omitempty"`
	UseCache             bool     `json:"use_cache"`
	// tinychat's keys: what a round trip needs to give back the same checkpoint.
	TinychatStage      string `json:"tinychat_stage,omitempty"`
	TinychatLinearBias bool   `json:"tinychat_linear_bias,omitempty"`
}

// WriteHF writes the checkpoint as a Hugging Face GPT-2 directory, loadable with
// transformers' GPT2LMHeadModel and AutoTokenizer: config.json (GPT2Config, activation
// "gelu_new", the true block size as n_positions), model.safetensors (float32 under
// transformers' names, "transformer.h.0.attn.c_attn.weight" and so on, zero biases where the
// model has none, "lm_head.weight" only for an untied head), tokenizer.json (see
// tokenizer.BPE.MarshalHF), tokenizer_config.json with the chat template in Jinja
// (ChatTemplate) and the special tokens, special_tokens_map.json and generation_config.json;
// and, when the tokenizer pre-splits as GPT-2 does (tokenizer.PreSplitGPT2), GPT-2's
// vocab.json and merges.txt for transformers' slow GPT2Tokenizer (see GPT2Files; with the
// other rule that tokenizer would split some texts differently, so they are not written, and
// any left in dir by an earlier export are removed). Each file is written atomically; dir is
// created if needed. Token IDs are unchanged. The same checkpoints as WriteGGUF can be
// written.
func WriteHF(ctx context.Context, dir string, ck *model.Checkpoint) error {
	fail := func(err error) error { return fmt.Errorf("export: Hugging Face directory %s: %w", dir, err) }
	bpe, err := byteBPE(ck)
	if err != nil {
		return fail(err)
	}
	tokJSON, err := bpe.MarshalHF()
	if err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	cfg := ck.Model.Config
	tied := !cfg.UntiedHead
	yes := true
	bos, eos, pad := tokenizer.BOS, tokenizer.End, tokenizer.Pad
	hc := hfConfig{
		Architectures: []string{"GPT2LMHeadModel"}, ModelType: "gpt2",
		VocabSize: cfg.VocabSize, NPositions: cfg.BlockSize, NCtx: cfg.BlockSize,
		NEmbd: cfg.Width, NLayer: cfg.Layers, NHead: cfg.Heads,
		Activation: "gelu_new", ResidPdrop: cfg.Dropout, EmbdPdrop: cfg.Dropout,
		LayerNormEps: kernels.LayerNormEps, InitializerRange: 0.02,
		BOSTokenID: &bos, EOSTokenID: &eos, PadTokenID: &pad,
		TieWordEmbeddings: &tied, ScaleAttnWeights: &yes, TorchDType: "float32", UseCache: true,
		TinychatStage: string(ck.Stage), TinychatLinearBias: cfg.LinearBias,
	}
	var tensors []safetensors.Tensor
	for _, ps := range cfg.ParamShapes() {
		if ps.Name == "lm_head.weight" {
			continue
		}
		tensors = append(tensors, safetensors.Tensor{Name: "transformer." + hfName(ps.Name), Shape: ps.Shape, Data: ck.Model.Param(ps.Name).Data})
	}
	if !cfg.LinearBias {
		C := cfg.Width
		for l := range cfg.Layers {
			for _, b := range []struct {
				name string
				n    int
			}{{"attn.c_attn", 3 * C}, {"attn.c_proj", C}, {"mlp.c_fc", 4 * C}, {"mlp.c_proj", C}} {
				tensors = append(tensors, safetensors.Tensor{Name: fmt.Sprintf("transformer.h.%d.%s.bias", l, b.name), Shape: []int{b.n}, Data: make([]float32, b.n)})
			}
		}
	}
	if cfg.UntiedHead {
		p := ck.Model.Param("lm_head.weight")
		tensors = append(tensors, safetensors.Tensor{Name: "lm_head.weight", Shape: p.Shape, Data: p.Data})
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, HFWeightsFile), tensors, map[string]string{"format": "pt"}); err != nil {
		return fail(err)
	}
	added := map[string]any{}
	for id := range bpe.Specials() {
		added[fmt.Sprint(id)] = map[string]any{
			"content": tokenizer.SpecialNames[id], "lstrip": false, "normalized": false,
			"rstrip": false, "single_word": false, "special": true,
		}
	}
	specials := map[string]any{
		"bos_token": tokenizer.SpecialNames[bos], "eos_token": tokenizer.SpecialNames[eos],
		"pad_token": tokenizer.SpecialNames[pad],
	}
	tokCfg := map[string]any{
		"tokenizer_class": "GPT2Tokenizer", "add_bos_token": false, "add_prefix_space": false,
		"clean_up_tokenization_spaces": false, "model_max_length": cfg.BlockSize,
		"unk_token": nil, "chat_template": ChatTemplate, "added_tokens_decoder": added,
	}
	for k, v := range specials {
		tokCfg[k] = v
	}
	gen := map[string]any{
		"bos_token_id": bos, "eos_token_id": eos, "pad_token_id": pad, "max_length": cfg.BlockSize,
	}
	files := []hfFile{
		{HFConfigFile, hc}, {HFTokenizerFile, json.RawMessage(tokJSON)},
		{HFTokenizerConfigFile, tokCfg}, {HFSpecialTokensFile, specials}, {HFGenerationConfigFile, gen},
	}
	if bpe.PreSplit() == tokenizer.PreSplitGPT2 {
		vocab, merges, err := gpt2Files(bpe)
		if err != nil {
			return fail(err)
		}
		files = append(files, hfFile{HFVocabFile, rawFile(vocab)}, hfFile{HFMergesFile, rawFile(merges)})
	} else {
		// Files left by an earlier export would not match this tokenizer.
		for _, name := range []string{HFVocabFile, HFMergesFile} {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
				return fail(err)
			}
		}
	}
	for _, f := range files {
		data, raw := f.v.(rawFile)
		if !raw {
			var err error
			if data, err = json.MarshalIndent(f.v, "", "  "); err != nil {
				return fail(fmt.Errorf("%s: %w", f.name, err))
			}
			data = append(data, '\n')
		}
		if err := writeAtomic(filepath.Join(dir, f.name), func(w *bufio.Writer) error {
			_, err := w.Write(data)
			return err
		}); err != nil {
			return fail(err)
		}
	}
	return nil
}

// hfFile is one file of the directory: its name and either a value written as indented JSON
// or a rawFile.
type hfFile struct {
	name string
	v    any
}

// rawFile is a file's exact content, written as it is.
type rawFile []byte

// hfName is transformers' name (without "transformer.") of one of our parameters: "wte" and
// "wpe" gain ".weight"; the rest already use GPT-2's names.
func hfName(ours string) string {
	if ours == "wte" || ours == "wpe" {
		return ours + ".weight"
	}
	return ours
}
