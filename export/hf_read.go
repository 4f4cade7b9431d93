package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/internal/kernels"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/model/safetensors"
)

// ReadHF imports a Hugging Face GPT-2 directory (GPT2LMHeadModel's layout) as a checkpoint:
// config.json, model.safetensors (float32; pickled pytorch_model.bin files are never read)
// and the tokenizer, tokenizer.json or else vocab.json + merges.txt.
//
// The model gets GPT-2's linear biases (Config.LinearBias) unless they are all zero and
// config.json does not ask for them. IDs follow this repository's layout (specials first,
// then the 256 bytes, then one ID per merge; see tokenizer.HFImport), so embedding and LM-head
// rows are moved to their tokens' new IDs; a token keeps its string and its row, and the
// tokenizer encodes text exactly as the file's did. The chat special tokens are added: GPT-2's
// "<|endoftext|>" row becomes <|end|> and also initialises <|bos|> (GPT-2 starts documents
// with it); <|pad|>, <|user|>, <|assistant|> and any other special the file lacks start at
// the mean of the file's embedding rows (and LM-head rows), so SFT can teach them.
//
// The stage is config.json's "tinychat_stage" when a tinychat export wrote it, else
// pretrain; Extra["imported_from"] records dir. A directory written by WriteHF comes back
// bit-identical (weights, config, tokenizer, stage).
//
// Unsupported architectures and options (another model_type, an activation other than
// gelu_new, attention scaled by layer index, a LayerNorm epsilon other than 1e-5, an inner
// width other than 4·n_embd) are errors wrapping ErrUnsupported; missing files, wrong shapes
// and malformed files are errors naming the file.
func ReadHF(ctx context.Context, dir string) (*model.Checkpoint, error) {
	fail := func(err error) (*model.Checkpoint, error) {
		return nil, fmt.Errorf("export: importing %s: %w", dir, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, HFConfigFile))
	if err != nil {
		return fail(err)
	}
	var hc hfConfig
	if err := json.Unmarshal(raw, &hc); err != nil {
		return fail(fmt.Errorf("%s: %w", HFConfigFile, err))
	}
	if err := checkHFConfig(hc); err != nil {
		return fail(fmt.Errorf("%s: %w", HFConfigFile, err))
	}
	imp, err := readHFTokenizer(dir)
	if err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	wpath := filepath.Join(dir, HFWeightsFile)
	if _, err := os.Stat(wpath); errors.Is(err, fs.ErrNotExist) {
		for _, pickle := range []string{"pytorch_model.bin", "model.safetensors.index.json"} {
			if _, err := os.Stat(filepath.Join(dir, pickle)); err == nil {
				return fail(fmt.Errorf("%w: found %s but no %s; only a single safetensors file is read (pickled weights never are: convert them with transformers' save_pretrained(safe_serialization=True))", ErrUnsupported, pickle, HFWeightsFile))
			}
		}
	}
	st, err := safetensors.ReadFile(wpath)
	if err != nil {
		return fail(err)
	}
	ck, err := hfToModel(hc, imp, st)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", HFWeightsFile, err))
	}
	ck.Extra = map[string]string{"imported_from": dir}
	if len(imp.Dropped) > 0 {
		ck.Extra["dropped_tokens"] = strings.Join(imp.Dropped, " ")
	}
	return ck, nil
}

func checkHFConfig(hc hfConfig) error {
	unsupported := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
	}
	switch {
	case hc.ModelType != "gpt2":
		return unsupported("model_type %q (only \"gpt2\" is imported)", hc.ModelType)
	case hc.Activation != "gelu_new" && hc.Activation != "gelu_pytorch_tanh":
		return unsupported("activation_function %q (the model computes GELU's tanh form, \"gelu_new\")", hc.Activation)
	case hc.NInner != nil && *hc.NInner != 4*hc.NEmbd:
		return unsupported("n_inner %d (the MLP is 4·n_embd = %d wide)", *hc.NInner, 4*hc.NEmbd)
	case hc.LayerNormEps != 0 && hc.LayerNormEps != kernels.LayerNormEps:
		return unsupported("layer_norm_epsilon %g (the model uses %g)", hc.LayerNormEps, kernels.LayerNormEps)
	case hc.ScaleAttnByLayerIdx || hc.ReorderAndUpcastAttn:
		return unsupported("scale_attn_by_inverse_layer_idx or reorder_and_upcast_attn")
	case hc.ScaleAttnWeights != nil && !*hc.ScaleAttnWeights:
		return unsupported("scale_attn_weights false")
	}
	return nil
}

// readHFTokenizer reads tokenizer.json, or else vocab.json + merges.txt.
func readHFTokenizer(dir string) (*tokenizer.HFImport, error) {
	data, err := os.ReadFile(filepath.Join(dir, HFTokenizerFile))
	if err == nil {
		return tokenizer.ReadHF(data)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	vocab, err1 := os.ReadFile(filepath.Join(dir, "vocab.json"))
	merges, err2 := os.ReadFile(filepath.Join(dir, "merges.txt"))
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("missing tokenizer: neither %s nor vocab.json + merges.txt is readable (%w)", HFTokenizerFile, errors.Join(err1, err2))
	}
	return tokenizer.ReadGPT2Files(vocab, merges)
}

// hfToModel builds the checkpoint from a validated config, the tokenizer and the weights.
func hfToModel(hc hfConfig, imp *tokenizer.HFImport, st *safetensors.File) (*model.Checkpoint, error) {
	byName := map[string]safetensors.Tensor{}
	for _, t := range st.Tensors {
		name := strings.TrimPrefix(t.Name, "transformer.")
		if strings.HasSuffix(name, ".attn.bias") || strings.HasSuffix(name, ".attn.masked_bias") {
			continue // the causal-mask buffers of older checkpoints
		}
		byName[name] = t
	}
	V := imp.BPE.VocabSize()
	wte, ok := byName["wte.weight"]
	if !ok {
		return nil, errors.New("missing tensor wte.weight")
	}
	if len(wte.Shape) != 2 || wte.Shape[0] < len(imp.FromHF) || wte.Shape[1] != hc.NEmbd {
		return nil, fmt.Errorf("wte.weight has shape %v, want [%d (at least the tokenizer's %d IDs), %d]", wte.Shape, hc.VocabSize, len(imp.FromHF), hc.NEmbd)
	}
	tied := hc.TieWordEmbeddings == nil || *hc.TieWordEmbeddings
	head, hasHead := byName["lm_head.weight"]
	untied := hasHead && !tied
	cfg := model.Config{
		VocabSize: V, BlockSize: hc.NPositions, Layers: hc.NLayer, Heads: hc.NHead, Width: hc.NEmbd,
		UntiedHead: untied, LinearBias: hc.TinychatLinearBias,
	}
	if !cfg.LinearBias {
		for _, t := range byName {
			if isLinearBias(t.Name) && slices.ContainsFunc(t.Data, func(v float32) bool { return v != 0 }) {
				cfg.LinearBias = true
				break
			}
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	m, err := model.New(cfg, 0)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{"wte.weight": true}
	for _, p := range m.Params {
		name := hfName(p.Name)
		if p.Name == "wte" || p.Name == "lm_head.weight" {
			continue
		}
		t, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("missing tensor %s", name)
		}
		if !slices.Equal(t.Shape, p.Shape) {
			return nil, fmt.Errorf("tensor %s has shape %v, the config needs %v", name, t.Shape, p.Shape)
		}
		copy(p.Data, t.Data)
		used[name] = true
	}
	remapRows(m.Param("wte").Data, wte.Data, imp.FromHF, hc.NEmbd)
	if untied {
		if !slices.Equal(head.Shape, wte.Shape) {
			return nil, fmt.Errorf("lm_head.weight has shape %v, want %v like wte.weight", head.Shape, wte.Shape)
		}
		remapRows(m.Param("lm_head.weight").Data, head.Data, imp.FromHF, hc.NEmbd)
	}
	used["lm_head.weight"] = true
	for _, t := range byName {
		if !used[strings.TrimPrefix(t.Name, "transformer.")] && !(isLinearBias(t.Name) && !cfg.LinearBias) {
			return nil, fmt.Errorf("unexpected tensor %s (not part of a GPT-2 with this config)", t.Name)
		}
	}
	stage := model.StagePretrain
	if s := model.Stage(hc.TinychatStage); slices.Contains([]model.Stage{model.StagePretrain, model.StageSFT, model.StageRLHF}, s) {
		stage = s
	}
	return &model.Checkpoint{Stage: stage, Model: m, Tokenizer: imp.BPE}, nil
}

// isLinearBias reports whether a (prefix-stripped) name is one of a block's linear biases.
func isLinearBias(name string) bool {
	name = strings.TrimPrefix(name, "transformer.")
	for _, s := range []string{".attn.c_attn.bias", ".attn.c_proj.bias", ".mlp.c_fc.bias", ".mlp.c_proj.bias"} {
		if strings.HasPrefix(name, "h.") && strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// remapRows fills dst [ours, C] from src [file IDs, C]: row fromHF[i] ← src row i. Rows no
// file token maps to get the mean of the file's rows, except <|bos|>, which copies <|end|>'s
// row when the file had one (GPT-2's <|endoftext|> plays both parts).
func remapRows(dst, src []float32, fromHF []int32, C int) {
	filled := make([]bool, len(dst)/C)
	mean := make([]float64, C)
	for i, o32 := range fromHF {
		o := int(o32)
		row := src[i*C : (i+1)*C]
		for j, v := range row {
			mean[j] += float64(v)
		}
		if o >= 0 {
			copy(dst[o*C:(o+1)*C], row)
			filled[o] = true
		}
	}
	for j := range mean {
		mean[j] /= float64(max(len(fromHF), 1))
	}
	for id, ok := range filled {
		if ok {
			continue
		}
		row := dst[id*C : (id+1)*C]
		if id == tokenizer.BOS && filled[tokenizer.End] {
			copy(row, dst[tokenizer.End*C:(tokenizer.End+1)*C])
			continue
		}
		for j := range row {
			row[j] = float32(mean[j])
		}
	}
}
