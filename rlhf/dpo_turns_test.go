package rlhf_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/rlhf"
)

// lookUp is the turn that calls the tool "look" on w, gets w back and replies answer.
func lookUp(w, answer string) []data.Message {
	return []data.Message{
		{Role: data.RoleToolCall, Content: "look " + w},
		{Role: data.RoleToolResult, Content: w},
		{Role: data.RoleAssistant, Content: answer},
	}
}

// TestDPOOnToolTurns: DPO on rankings of assistant turns — the turn that answers with the
// tool's result, then one that answers another word, then the empty reply — ranks held-out
// pairs (40 words never trained on, 3 pairs each) right well above chance.
func TestDPOOnToolTurns(t *testing.T) {
	words := testutil.Words(200, 5)
	sftPath := testutil.FineTuned(t, words[:160], 60)
	rank := func(ws []string, seed uint64) []data.Ranking {
		rng := rand.New(rand.NewPCG(seed, 2))
		out := make([]data.Ranking, len(ws))
		for i, w := range ws {
			other := words[rng.IntN(len(words))]
			for other == w {
				other = words[rng.IntN(len(words))]
			}
			out[i] = data.Ranking{Source: fmt.Sprint("t", i), Prompt: testutil.RepeatPrompt(w), Turns: [][]data.Message{
				lookUp(w, w), lookUp(w, other), {{Role: data.RoleAssistant}},
			}}
		}
		return out
	}
	cfg := rlhf.DefaultDPOConfig()
	cfg.Steps, cfg.LR, cfg.EvalInterval, cfg.WarmupSteps, cfg.Seed = 150, 5e-4, 150, 7, 1
	cfg.Out = filepath.Join(t.TempDir(), "dpo.safetensors")
	res, err := rlhf.TrainDPOFile(context.Background(), cfg, sftPath, rank(words[:160], 1), rank(words[160:], 2))
	require.NoError(t, err)
	t.Logf("metrics %v", res.Metrics)
	require.GreaterOrEqual(t, res.Metrics["reward_accuracy"], 0.75) // of 120 held-out pairs (it lands near 0.87); chance is 0.5 ± 0.046
	require.Greater(t, res.Metrics["reward_margin"], 0.0)
}
