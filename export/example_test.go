package export_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/export"
	"github.com/tinychat-go/tinychat/model"
)

// exampleCheckpoint stands for a checkpoint loaded with model.LoadCheckpoint.
func exampleCheckpoint() *model.Checkpoint {
	tok, _ := tokenizer.TrainBPE("hello world, hello there", tokenizer.BPEConfig{VocabSize: tokenizer.MinBPEVocabSize + 8})
	m, _ := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: 32, Layers: 2, Heads: 2, Width: 16}, 1)
	return &model.Checkpoint{Stage: model.StageSFT, Model: m, Tokenizer: tok}
}

func ExampleWriteGGUF() {
	dir, _ := os.MkdirTemp("", "export")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tinychat.gguf")
	if err := export.WriteGGUF(context.Background(), path, exampleCheckpoint(), export.GGUFOptions{}); err != nil {
		panic(err)
	}
	f, err := export.ReadGGUF(path)
	if err != nil {
		panic(err)
	}
	fmt.Println(f.Metadata["general.architecture"], f.Metadata["gpt2.context_length"], f.Metadata["tokenizer.ggml.eos_token_id"])
	fmt.Println(f.Tensors[2].Name, f.Tensors[2].Dims)
	// Output:
	// gpt2 32 4
	// blk.0.attn_norm.weight [16]
}

func ExampleReadGGUF() {
	dir, _ := os.MkdirTemp("", "export")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "m.gguf")
	_ = export.WriteGGUF(context.Background(), path, exampleCheckpoint(), export.GGUFOptions{F16: true})
	f, err := export.ReadGGUF(path)
	if err != nil {
		panic(err)
	}
	qkv := f.Tensor("blk.1.attn_qkv.weight")
	fmt.Println(qkv.Dims, qkv.Type) // [in, out], F16
	// Output:
	// [16 48] 1
}

func ExampleWriteHF() {
	dir, _ := os.MkdirTemp("", "export")
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "tinychat-hf")
	if err := export.WriteHF(context.Background(), out, exampleCheckpoint()); err != nil {
		panic(err)
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	// Output:
	// config.json
	// generation_config.json
	// model.safetensors
	// special_tokens_map.json
	// tokenizer.json
	// tokenizer_config.json
}

func ExampleReadHF() {
	dir, _ := os.MkdirTemp("", "export")
	defer os.RemoveAll(dir)
	ck := exampleCheckpoint()
	_ = export.WriteHF(context.Background(), dir, ck)
	back, err := export.ReadHF(context.Background(), dir)
	if err != nil {
		panic(err)
	}
	fmt.Println(back.Stage, back.Model.Config == ck.Model.Config)
	// Output:
	// sft true
}

func ExampleRoundF16() {
	fmt.Println(export.RoundF16([]float32{0.1, 1, 65504, 1e-8}))
	// Output:
	// [0.099975586 1 65504 0]
}

// GPT-2's tokenizer files for a BPE trained with GPT-2's pre-splitting rule, saved under their
// usual names, HFVocabFile and HFMergesFile.
func ExampleGPT2Files() {
	tok, err := tokenizer.TrainBPE("hello hello hello", tokenizer.BPEConfig{VocabSize: tokenizer.MinBPEVocabSize + 3, PreSplit: tokenizer.PreSplitGPT2})
	if err != nil {
		panic(err)
	}
	vocab, merges, err := export.GPT2Files(tok)
	if err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "export")
	defer os.RemoveAll(dir)
	for name, b := range map[string][]byte{export.HFVocabFile: vocab, export.HFMergesFile: merges} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			panic(err)
		}
	}
	fmt.Print(string(merges))
	lines := strings.Split(string(vocab), "\n")
	fmt.Println(strings.Join(lines[:3], "\n"))
	fmt.Println(len(lines)-3, "tokens, one a line, of", tok.VocabSize())
	// Output:
	// #version: 0.2
	// e l
	// h el
	// l o
	// {
	//   "!": 43,
	//   "\"": 44,
	// 269 tokens, one a line, of 269
}

// A tokenizer trained with GPT-2's pre-splitting rule also gets GPT-2's vocab.json and
// merges.txt (GPT2Files), for transformers' slow GPT2Tokenizer.
func ExampleWriteHF_gpt2Files() {
	ck := exampleCheckpoint()
	tok, err := tokenizer.TrainBPE("hello world, hello there", tokenizer.BPEConfig{VocabSize: tokenizer.MinBPEVocabSize + 8, PreSplit: tokenizer.PreSplitGPT2})
	if err != nil {
		panic(err)
	}
	ck.Tokenizer = tok
	dir, _ := os.MkdirTemp("", "export")
	defer os.RemoveAll(dir)
	if err := export.WriteHF(context.Background(), dir, ck); err != nil {
		panic(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	// Output:
	// config.json
	// generation_config.json
	// merges.txt
	// model.safetensors
	// special_tokens_map.json
	// tokenizer.json
	// tokenizer_config.json
	// vocab.json
}
