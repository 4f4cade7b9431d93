package rlhf_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/reward"
	"github.com/tinychat-go/tinychat/rlhf"
	"github.com/tinychat-go/tinychat/train"
)

// lengthScorer is a reward program: replies score their length in tokens, up to 4.
type lengthScorer struct{}

func (lengthScorer) ScoreTokens(_ context.Context, seqs [][]int32) ([]float32, error) {
	out := make([]float32, len(seqs))
	for i, q := range seqs {
		out[i] = float32(min(len(q), 4))
	}
	return out, nil
}

// Run PPO on an SFT model. TrainPPO takes a reward checkpoint; PPO takes any Scorer, here a
// program, and a value model (a reward model's shape: the policy with a scalar head).
func ExamplePPO() {
	dir, _ := os.MkdirTemp("", "ppo-example")
	defer os.RemoveAll(dir)
	words := testutil.Words(40, 3)
	policy := testutil.ExampleFineTuned(dir, words, 40) // an sft.Train result's Checkpoint
	value, err := reward.NewModel(policy.Model, 1)
	if err != nil {
		panic(err)
	}
	prompts := make([][]data.Message, len(words))
	for i, w := range words {
		prompts[i] = testutil.RepeatPrompt(w)
	}
	cfg := rlhf.DefaultPPOConfig()
	cfg.Steps, cfg.Batch, cfg.MaxReplyTokens = 4, 8, 8
	cfg.Out = filepath.Join(dir, "rlhf.safetensors")
	res, err := rlhf.PPO(context.Background(), cfg, policy, value, lengthScorer{}, "reply length", prompts)
	if err != nil {
		panic(err)
	}
	lines, err := train.ReadMetrics(train.MetricsPath(cfg.Out))
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Checkpoint.Stage, res.Steps, "iterations,", len(lines), "metrics lines")
	// Output: rlhf 4 iterations, 4 metrics lines
}

// Run DPO on an SFT model with preference pairs.
func ExampleTrainDPO() {
	dir, _ := os.MkdirTemp("", "dpo-example")
	defer os.RemoveAll(dir)
	words := testutil.Words(100, 5)
	policy := testutil.ExampleFineTuned(dir, words, 60)
	var pairs []data.Ranking
	for i, w := range words {
		pairs = append(pairs, data.Ranking{Source: fmt.Sprint(i), Prompt: testutil.RepeatPrompt(w), Responses: []string{w, words[(i+1)%len(words)]}})
	}
	cfg := rlhf.DefaultDPOConfig()
	cfg.Steps, cfg.LR = 40, 5e-4
	cfg.Out = filepath.Join(dir, "dpo.safetensors")
	res, err := rlhf.TrainDPO(context.Background(), cfg, policy, pairs[:80], pairs[80:])
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Checkpoint.Stage, res.Checkpoint.Extra["rlhf.method"], "margin > 0:", res.Metrics["reward_margin"] > 0)
	// Output: rlhf dpo margin > 0: true
}

// Size PPO's rows to the prompts: the longest prompt and a reply of MaxReplyTokens.
func ExampleRolloutBlock() {
	prompts := [][]data.Message{testutil.RepeatPrompt("abc"), testutil.RepeatPrompt("abcdefgh")}
	block, err := rlhf.RolloutBlock(testutil.Tokenizer(), prompts, 8)
	if err != nil {
		panic(err)
	}
	cfg := rlhf.DefaultPPOConfig()
	cfg.MaxReplyTokens, cfg.Block = 8, block
	fmt.Println("rows of", cfg.Block, "tokens")
	// Output: rows of 32 tokens
}
