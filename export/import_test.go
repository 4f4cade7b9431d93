package export

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/internal/extools"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/model/safetensors"
)

// gpt2Fixture writes a directory laid out like the original GPT-2 on the Hugging Face hub
// (config.json, model.safetensors without the "transformer." prefix and with the causal-mask
// buffers, vocab.json + merges.txt with the byte tokens in GPT-2's order and <|endoftext|>
// last) holding src's weights, nonzero biases included. It returns hfOf: the file's ID of
// each of src's tokens (-1 for the specials GPT-2 lacks).
func gpt2Fixture(t *testing.T, dir string, src *model.Checkpoint) (hfOf []int) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	tok := src.Tokenizer.(*tokenizer.BPE)
	strs, err := tokenizer.TokenStrings(tok)
	require.NoError(t, err)
	specials := tok.Specials()
	hfOf = make([]int, tok.VocabSize())
	for i := range hfOf {
		hfOf[i] = -1
	}
	vocab := map[string]int{}
	n := 0
	// GPT-2's vocab.json starts with the byte tokens in the order of their runes.
	byRune := slices.Clone(strs[specials : specials+256])
	slices.SortFunc(byRune, func(a, b string) int { return int([]rune(a)[0]) - int([]rune(b)[0]) })
	for _, s := range byRune {
		vocab[s] = n
		hfOf[slices.Index(strs, s)] = n
		n++
	}
	var merges strings.Builder
	merges.WriteString("#version: 0.2\n")
	for i, m := range tok.Merges() {
		id := specials + 256 + i
		vocab[strs[id]] = n
		hfOf[id] = n
		n++
		fmt.Fprintf(&merges, "%s %s\n", strs[m[0]], strs[m[1]])
	}
	vocab[tokenizer.GPT2EndOfText] = n
	hfOf[tokenizer.End] = n
	n++
	vj, err := json.Marshal(vocab)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "vocab.json"), vj, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "merges.txt"), []byte(merges.String()), 0o644))

	cfg := src.Model.Config
	hc := fmt.Sprintf(`{"activation_function":"gelu_new","architectures":["GPT2LMHeadModel"],"attn_pdrop":0.1,
"bos_token_id":%d,"embd_pdrop":0.1,"eos_token_id":%d,"initializer_range":0.02,"layer_norm_epsilon":1e-05,
"model_type":"gpt2","n_ctx":%d,"n_embd":%d,"n_head":%d,"n_layer":%d,"n_positions":%d,"resid_pdrop":0.1,
"summary_activation":null,"summary_first_dropout":0.1,"summary_proj_to_labels":true,"summary_type":"cls_index",
"summary_use_proj":true,"task_specific_params":{"text-generation":{"do_sample":true,"max_length":50}},"vocab_size":%d}`,
		n-1, n-1, cfg.BlockSize, cfg.Width, cfg.Heads, cfg.Layers, cfg.BlockSize, n)
	require.NoError(t, os.WriteFile(filepath.Join(dir, HFConfigFile), []byte(hc), 0o644))

	C := cfg.Width
	var tensors []safetensors.Tensor
	for _, p := range src.Model.Params {
		if p.Name == "wte" {
			w := make([]float32, n*C)
			for o, h := range hfOf {
				if h >= 0 {
					copy(w[h*C:(h+1)*C], p.Data[o*C:(o+1)*C])
				}
			}
			tensors = append(tensors, safetensors.Tensor{Name: "wte.weight", Shape: []int{n, C}, Data: w})
			continue
		}
		tensors = append(tensors, safetensors.Tensor{Name: hfName(p.Name), Shape: p.Shape, Data: p.Data})
	}
	T := cfg.BlockSize
	mask := make([]float32, T*T)
	for i := range T {
		for j := 0; j <= i; j++ {
			mask[i*T+j] = 1
		}
	}
	for l := range cfg.Layers {
		tensors = append(tensors, safetensors.Tensor{Name: fmt.Sprintf("h.%d.attn.bias", l), Shape: []int{1, 1, T, T}, Data: mask})
	}
	require.NoError(t, safetensors.WriteFile(filepath.Join(dir, HFWeightsFile), tensors, map[string]string{"format": "pt"}))
	return hfOf
}

// gpt2Source is a random model with nonzero linear biases and GPT-2's pre-splitting.
func gpt2Source(t *testing.T) *model.Checkpoint {
	t.Helper()
	ck := randomCheckpoint(t, model.Config{BlockSize: 24, Layers: 2, Heads: 2, Width: 16, LinearBias: true}, model.StagePretrain)
	gpt2Tok, err := tokenizer.NewBPE(ck.Tokenizer.(*tokenizer.BPE).Merges(), tokenizer.PreSplitGPT2)
	require.NoError(t, err)
	ck.Tokenizer = gpt2Tok
	for _, p := range ck.Model.Params {
		if strings.HasSuffix(p.Name, ".bias") {
			require.NotZero(t, p.Data[0], p.Name)
		}
	}
	return ck
}

func TestImportGPT2Layout(t *testing.T) {
	src := gpt2Source(t)
	dir := filepath.Join(t.TempDir(), "gpt2")
	gpt2Fixture(t, dir, src)
	got, err := ReadHF(context.Background(), dir)
	require.NoError(t, err)
	require.Equal(t, model.StagePretrain, got.Stage)
	require.Equal(t, src.Model.Config, got.Model.Config, "LinearBias is found from the nonzero biases")
	require.Equal(t, dir, got.Extra["imported_from"])
	C := src.Model.Config.Width
	for i, p := range src.Model.Params {
		q := got.Model.Params[i]
		require.Equal(t, p.Name, q.Name)
		if p.Name != "wte" {
			require.Equal(t, p.Data, q.Data, p.Name)
			continue
		}
		// Every token GPT-2 has keeps its row; <|bos|> copies <|end|> (<|endoftext|>); the
		// other specials start at the mean row.
		specials := src.Tokenizer.(*tokenizer.BPE).Specials()
		for id := range src.Model.Config.VocabSize {
			row, want := q.Data[id*C:(id+1)*C], p.Data[id*C:(id+1)*C]
			switch {
			case id == tokenizer.BOS:
				want = p.Data[tokenizer.End*C : (tokenizer.End+1)*C]
			case id < specials && id != tokenizer.End:
				want = meanRow(p.Data, C, specials, tokenizer.End)
			}
			for j := range row {
				require.InDelta(t, want[j], row[j], 1e-6, "wte row %d", id)
			}
		}
	}
	for _, s := range append(append([]string{}, ggufSampleStrings...), gpt2OnlyStrings...) {
		want, _ := src.Tokenizer.Encode(s)
		have, _ := got.Tokenizer.Encode(s)
		require.Equal(t, want, have, "%q", s)
	}
}

// meanRow is the mean of the rows of w [rows, C] that the GPT-2 fixture holds: the ordinary
// tokens (from first) and row end.
func meanRow(w []float32, C, first, end int) []float32 {
	sum := make([]float64, C)
	n := 0
	for r := range len(w) / C {
		if r >= first || r == end {
			for j := range C {
				sum[j] += float64(w[r*C+j])
			}
			n++
		}
	}
	out := make([]float32, C)
	for j := range out {
		out[j] = float32(sum[j] / float64(n))
	}
	return out
}

// TestImportGPT2ToLlamaCpp takes the GPT-2-layout fixture (nonzero biases) through ReadHF and
// WriteGGUF to llama.cpp: the same tokens as the imported tokenizer on every sample string,
// and logits within 5e-3 of our engine on the imported model.
func TestImportGPT2ToLlamaCpp(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: runs llama.cpp")
	}
	extools.NodeModules(t, "node-llama-cpp")
	src := gpt2Source(t)
	dir := t.TempDir()
	gpt2Fixture(t, filepath.Join(dir, "gpt2"), src)
	ck, err := ReadHF(context.Background(), filepath.Join(dir, "gpt2"))
	require.NoError(t, err)
	path := filepath.Join(dir, "gpt2.gguf")
	require.NoError(t, WriteGGUF(context.Background(), path, ck, GGUFOptions{}))
	strs := append(append([]string{}, ggufSampleStrings...), gpt2OnlyStrings...)
	prompt, err := ck.Tokenizer.Encode("hello world, hello there! 123 456\n\n  ok")
	require.NoError(t, err)
	// node-llama-cpp shifts its context before evaluating a token that fills it (that position's
	// logits then differ), so the prompt stays one token short of the block size.
	prompt = prompt[:min(len(prompt), ck.Model.Config.BlockSize-1)]
	res := runLlama(t, []llamaJob{{Model: path, Vocab: ck.Model.Config.VocabSize, Context: ck.Model.Config.BlockSize,
		Strings: strs, Prompts: [][]int32{prompt}}})[0]
	for i, s := range strs {
		assert.Equal(t, encodeWithSpecials(t, ck.Tokenizer, s), res.Tokens[i], "tokens of %q", s)
	}
	_, logits := ourRun(t, ck.Model, prompt, 0)
	worst := maxLogitDiff(t, logits, res.Runs[0].Logits)
	t.Logf("imported GPT-2 layout: largest logit difference from our engine %.2g", worst)
	assert.LessOrEqual(t, worst, 5e-3)
	assert.False(t, math.IsNaN(worst))
}

func TestImportErrors(t *testing.T) {
	src := gpt2Source(t)
	ctx := context.Background()
	fixture := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "gpt2")
		gpt2Fixture(t, dir, src)
		return dir
	}
	editConfig := func(t *testing.T, dir string, edit func(map[string]any)) {
		raw, err := os.ReadFile(filepath.Join(dir, HFConfigFile))
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		edit(m)
		raw, err = json.Marshal(m)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, HFConfigFile), raw, 0o644))
	}
	editWeights := func(t *testing.T, dir string, edit func([]safetensors.Tensor) []safetensors.Tensor) {
		path := filepath.Join(dir, HFWeightsFile)
		f, err := safetensors.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, safetensors.WriteFile(path, edit(f.Tensors), f.Metadata))
	}
	for _, c := range []struct {
		name        string
		edit        func(t *testing.T, dir string)
		unsupported bool
		want        string
	}{
		{"no config", func(t *testing.T, dir string) { require.NoError(t, os.Remove(filepath.Join(dir, HFConfigFile))) }, false, "config.json"},
		{"config not json", func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, HFConfigFile), []byte("GGUF\x03\x00"), 0o644))
		}, false, "config.json: invalid character"},
		{"llama", func(t *testing.T, dir string) {
			editConfig(t, dir, func(m map[string]any) { m["model_type"] = "llama" })
		}, true, `model_type "llama"`},
		{"relu", func(t *testing.T, dir string) {
			editConfig(t, dir, func(m map[string]any) { m["activation_function"] = "relu" })
		}, true, `activation_function "relu"`},
		{"n_inner", func(t *testing.T, dir string) { editConfig(t, dir, func(m map[string]any) { m["n_inner"] = 7 }) }, true, "n_inner 7"},
		{"eps", func(t *testing.T, dir string) {
			editConfig(t, dir, func(m map[string]any) { m["layer_norm_epsilon"] = 1e-6 })
		}, true, "layer_norm_epsilon"},
		{"heads", func(t *testing.T, dir string) { editConfig(t, dir, func(m map[string]any) { m["n_head"] = 3 }) }, false, "heads (3) must divide width (16)"},
		{"no tokenizer", func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(filepath.Join(dir, "merges.txt")))
		}, false, "missing tokenizer"},
		{"bad tokenizer.json", func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, HFTokenizerFile), []byte(`{"model":{"type":"Unigram"}}`), 0o644))
		}, false, `model.type is "Unigram"`},
		{"pickle only", func(t *testing.T, dir string) {
			require.NoError(t, os.Rename(filepath.Join(dir, HFWeightsFile), filepath.Join(dir, "pytorch_model.bin")))
		}, true, "pytorch_model.bin"},
		{"truncated weights", func(t *testing.T, dir string) {
			path := filepath.Join(dir, HFWeightsFile)
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, raw[:len(raw)-100], 0o644))
		}, false, "model.safetensors"},
		{"weights are not safetensors", func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, HFWeightsFile), []byte("GGUF\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), 0o644))
		}, false, "model.safetensors"},
		{"wrong shape", func(t *testing.T, dir string) {
			editWeights(t, dir, func(ts []safetensors.Tensor) []safetensors.Tensor {
				for i := range ts {
					if ts[i].Name == "h.1.mlp.c_fc.weight" {
						ts[i].Shape = []int{ts[i].Shape[1], ts[i].Shape[0]}
					}
				}
				return ts
			})
		}, false, "tensor h.1.mlp.c_fc.weight has shape [64 16], the config needs [16 64]"},
		{"missing tensor", func(t *testing.T, dir string) {
			editWeights(t, dir, func(ts []safetensors.Tensor) []safetensors.Tensor {
				return slices.DeleteFunc(ts, func(x safetensors.Tensor) bool { return x.Name == "ln_f.bias" })
			})
		}, false, "missing tensor ln_f.bias"},
		{"extra tensor", func(t *testing.T, dir string) {
			editWeights(t, dir, func(ts []safetensors.Tensor) []safetensors.Tensor {
				return append(ts, safetensors.Tensor{Name: "h.9.ln_1.weight", Shape: []int{16}, Data: make([]float32, 16)})
			})
		}, false, "unexpected tensor h.9.ln_1.weight"},
		{"small wte", func(t *testing.T, dir string) {
			editWeights(t, dir, func(ts []safetensors.Tensor) []safetensors.Tensor {
				for i := range ts {
					if ts[i].Name == "wte.weight" {
						ts[i].Shape[0] -= 2
						ts[i].Data = ts[i].Data[:ts[i].Shape[0]*ts[i].Shape[1]]
					}
				}
				return ts
			})
		}, false, "wte.weight has shape"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := fixture(t)
			c.edit(t, dir)
			_, err := ReadHF(ctx, dir)
			require.Error(t, err)
			assert.ErrorContains(t, err, c.want)
			assert.ErrorContains(t, err, dir)
			if c.unsupported {
				assert.ErrorIs(t, err, ErrUnsupported)
			}
		})
	}
}
