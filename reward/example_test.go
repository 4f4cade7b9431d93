package reward_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/reward"
)

// Train a reward model from an SFT model on rankings (best reply first) and score replies
// with it.
func Example() {
	dir, _ := os.MkdirTemp("", "reward-example")
	defer os.RemoveAll(dir)
	words := testutil.Words(200, 2)
	sftModel := testutil.ExampleFineTuned(dir, words, 60) // an sft.Train result's Checkpoint

	var rankings []data.Ranking // repeating the asked word beats saying another one
	for i, w := range words {
		rankings = append(rankings, data.Ranking{
			Source: fmt.Sprint("pair ", i), Prompt: testutil.RepeatPrompt(w),
			Responses: []string{w, words[(i+7)%len(words)]},
		})
	}
	cfg := reward.DefaultConfig()
	cfg.Steps, cfg.LR = 400, 1e-3
	cfg.Out = filepath.Join(dir, "reward.safetensors")
	res, err := reward.Train(context.Background(), cfg, sftModel, reward.Data{Train: rankings[:160], Val: rankings[160:]})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Checkpoint.Stage, "held-out accuracy ≥ 0.8:", res.Metrics["val_accuracy"] >= 0.8)

	scorer, err := reward.FromCheckpoint(res.Checkpoint)
	if err != nil {
		panic(err)
	}
	good, _ := scorer.Score(testutil.RepeatPrompt(words[190]), words[190])
	bad, _ := scorer.Score(testutil.RepeatPrompt(words[190]), words[3])
	fmt.Println("the right reply scores higher:", good > bad)
	// Output:
	// reward held-out accuracy ≥ 0.8: true
	// the right reply scores higher: true
}
