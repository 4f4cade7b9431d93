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
	cfg.Steps, cfg.LR = 800, 1e-3
	cfg.Out = filepath.Join(dir, "reward.safetensors")
	res, err := reward.Train(context.Background(), cfg, sftModel, reward.Data{Train: rankings[:160], Val: rankings[160:]})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Checkpoint.Stage, "held-out accuracy ≥ 0.75:", res.Metrics["val_accuracy"] >= 0.75)

	scorer, err := reward.FromCheckpoint(res.Checkpoint)
	if err != nil {
		panic(err)
	}
	wins := 0 // the asked word against another one, on the held-out prompts
	for i := 160; i < len(words); i++ {
		good, _ := scorer.Score(testutil.RepeatPrompt(words[i]), words[i])
		bad, _ := scorer.Score(testutil.RepeatPrompt(words[i]), words[(i+3)%len(words)])
		if good > bad {
			wins++
		}
	}
	fmt.Println("the right reply scores higher on 30 or more of 40 held-out prompts:", wins >= 30)
	// Output:
	// reward held-out accuracy ≥ 0.75: true
	// the right reply scores higher on 30 or more of 40 held-out prompts: true
}
