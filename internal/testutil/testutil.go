package testutil

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/pretrain"
	"github.com/tinychat-go/tinychat/sft"
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

// Tokenizer is the tests' character tokenizer over Alphabet.
func Tokenizer() tokenizer.Tokenizer {
	tok, err := tokenizer.NewCharFromAlphabet([]rune(Alphabet))
	if err != nil {
		panic(err)
	}
	return tok
}

// RepeatText is about 60 KB of "repeat WORD: WORD." sentences over words, the tests'
// pretraining text.
func RepeatText(words []string) string {
	rng := rand.New(rand.NewPCG(5, 6))
	var b strings.Builder
	for b.Len() < 60000 {
		w := words[rng.IntN(len(words))]
		fmt.Fprintf(&b, "repeat %s: %s. ", w, w)
		if rng.IntN(4) == 0 {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// Pretrained pretrains a tiny character model on text made of words and returns the checkpoint
// path (in t's temporary directory). Runs are cached per process: the same words and steps give
// a copy of the same file.
func Pretrained(t testing.TB, words []string, steps int) string {
	t.Helper()
	path, err := copyCached(t.TempDir(), "pretrain.safetensors", pretrainKey(words, steps), func(dir string) error {
		_, err := pretrainRepeat(dir, words, steps)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func pretrainKey(words []string, steps int) string { return fmt.Sprint("pretrain", words, steps) }

// cache holds the bytes of checkpoints made by Pretrained and FineTuned, by their arguments.
var cache sync.Map

// copyCached writes the checkpoint cached under key to dir/file and returns its path; the
// first time, make writes it into a fresh directory (as dir/file) and it is cached.
func copyCached(dir, file, key string, make func(dir string) error) (string, error) {
	b, ok := cache.Load(key)
	if !ok {
		tmp, err := os.MkdirTemp("", "testutil-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(tmp)
		if err := make(tmp); err != nil {
			return "", err
		}
		data, err := os.ReadFile(filepath.Join(tmp, file))
		if err != nil {
			return "", err
		}
		b, _ = cache.LoadOrStore(key, data)
	}
	out := filepath.Join(dir, file)
	return out, os.WriteFile(out, b.([]byte), 0o644)
}

// pretrainRepeat pretrains the tiny model on RepeatText(words) into dir/pretrain.safetensors.
func pretrainRepeat(dir string, words []string, steps int) (*model.Checkpoint, error) {
	corpus, err := pretrain.NewCorpus([]data.Document{{Source: "test", Text: RepeatText(words)}}, Tokenizer(), 0.1)
	if err != nil {
		return nil, err
	}
	cfg := pretrain.DefaultConfig()
	cfg.Model, cfg.Batch, cfg.Steps, cfg.LR, cfg.WarmupSteps = TinyConfig(), 8, steps, 3e-3, 10
	cfg.EvalIters, cfg.EvalInterval, cfg.CheckpointInterval = 4, steps, 0
	cfg.Out = filepath.Join(dir, "pretrain.safetensors")
	res, err := pretrain.Train(context.Background(), cfg, corpus)
	if err != nil {
		return nil, err
	}
	return res.Checkpoint, nil
}

// fineTuneRepeat fine-tunes base on RepeatConversations(words) for steps steps into
// dir/sft.safetensors.
func fineTuneRepeat(dir string, base *model.Checkpoint, words []string, steps int) (*model.Checkpoint, error) {
	cfg := sft.DefaultConfig()
	cfg.Steps, cfg.LR, cfg.WarmupSteps, cfg.FormatPrompts, cfg.Seed = steps, 1e-3, steps/20, 0, 1
	cfg.Out = filepath.Join(dir, "sft.safetensors")
	res, err := sft.Train(context.Background(), cfg, base, sft.Data{Train: RepeatConversations(words)})
	if err != nil {
		return nil, err
	}
	return res.Checkpoint, nil
}

// FineTuned pretrains (Pretrained, 400 steps) and then fine-tunes on
// RepeatConversations(words) for steps steps, returning the SFT checkpoint path. Runs are
// cached per process, as Pretrained's are.
func FineTuned(t testing.TB, words []string, steps int) string {
	t.Helper()
	path, err := fineTunedPath(t.TempDir(), words, steps)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func fineTunedPath(dir string, words []string, steps int) (string, error) {
	return copyCached(dir, "sft.safetensors", fmt.Sprint("sft", words, steps), func(tmp string) error {
		basePath, err := copyCached(tmp, "pretrain.safetensors", pretrainKey(words, 400), func(d string) error {
			_, err := pretrainRepeat(d, words, 400)
			return err
		})
		if err != nil {
			return err
		}
		base, err := model.LoadCheckpoint(basePath)
		if err != nil {
			return err
		}
		_, err = fineTuneRepeat(tmp, base, words, steps)
		return err
	})
}
