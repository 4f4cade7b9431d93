// Package testutil builds the small models and datasets that the stage tests share: a tiny
// character-level GPT pretrained in a few seconds, and dialogues with a learnable rule (the
// assistant repeats the word it is asked to repeat).
package testutil

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/pretrain"
	"github.com/tinychat-go/tinychat/sft"
	"github.com/tinychat-go/tinychat/train"
)

// Alphabet is every character the test texts use.
const Alphabet = "abcdefghijklmnopqrstuvwxyz .:!?,'\n"

// Words returns n distinct pronounceable 4-letter words, deterministic in seed.
func Words(n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 11))
	cons, vow := "bdfgklmnprstvz", "aeiou"
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		w := string([]byte{cons[rng.IntN(len(cons))], vow[rng.IntN(len(vow))], cons[rng.IntN(len(cons))], vow[rng.IntN(len(vow))]})
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// RepeatPrompt is the user turn asking to repeat w.
func RepeatPrompt(w string) []data.Message {
	return []data.Message{{Role: data.RoleUser, Content: "repeat " + w}}
}

// RepeatConversations are dialogues in which the assistant repeats the asked word.
func RepeatConversations(words []string) []data.Conversation {
	out := make([]data.Conversation, len(words))
	for i, w := range words {
		out[i] = data.Conversation{
			Source:   fmt.Sprintf("repeat:%d", i),
			Messages: append(RepeatPrompt(w), data.Message{Role: data.RoleAssistant, Content: w}),
		}
	}
	return out
}

// TinyConfig is the tests' model: 2 layers, 2 heads, width 48, block 40.
func TinyConfig() model.Config {
	return model.Config{Layers: 2, Heads: 2, Width: 48, BlockSize: 40}
}

// Pretrained pretrains a tiny character model on text made of words and returns the checkpoint
// path (in t's temporary directory).
func Pretrained(t testing.TB, words []string, steps int) string {
	t.Helper()
	tok, err := tokenizer.NewCharFromAlphabet([]rune(Alphabet))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var b strings.Builder
	for b.Len() < 60000 {
		w := words[rng.IntN(len(words))]
		fmt.Fprintf(&b, "repeat %s: %s. ", w, w)
		if rng.IntN(4) == 0 {
			b.WriteString("\n")
		}
	}
	corpus, err := pretrain.NewCorpus([]data.Document{{Source: "test", Text: b.String()}}, tok, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pretrain.safetensors")
	_, err = pretrain.Train(context.Background(), pretrain.Config{
		Model: TinyConfig(), Batch: 8, Steps: steps, LR: 3e-3, MinLR: 3e-4, Warmup: 10,
		EvalIters: 4, EvalInterval: steps, Out: path, Progress: train.ProgressQuiet,
	}, corpus)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// FineTuned pretrains (Pretrained) and then fine-tunes on RepeatConversations(words) for steps
// steps, returning the SFT checkpoint path.
func FineTuned(t testing.TB, words []string, steps int) string {
	t.Helper()
	base := Pretrained(t, words, 400)
	out := filepath.Join(t.TempDir(), "sft.safetensors")
	_, err := sft.Train(context.Background(), sft.Config{
		Batch: 16, Steps: steps, LR: 1e-3, FormatPrompts: -1, Out: out, Progress: train.ProgressQuiet,
	}, base, sft.Data{Train: RepeatConversations(words)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
