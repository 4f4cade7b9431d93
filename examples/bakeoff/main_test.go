package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/pretrain"
	"github.com/tinychat-go/tinychat/reward"
	"github.com/tinychat-go/tinychat/sft"
)

// tinyRun writes a miniature tinychat run (pretrain, sft and reward checkpoints of a tiny model
// and a report.json with a small plan) into dir.
func tinyRun(t *testing.T, dir string) {
	t.Helper()
	world := newWorld(1)
	text := world.PretrainText()
	tok := tokenizer.NewChar(text)
	corpus, err := pretrain.NewCorpus([]data.Document{{Source: "tinyworld", Text: text}}, tok, 0.05)
	require.NoError(t, err)
	pc := pretrain.DefaultConfig()
	pc.Model = model.Config{Layers: 1, Heads: 2, Width: 32, BlockSize: 96}
	pc.Steps, pc.Batch, pc.LR, pc.EvalIters, pc.CheckpointInterval = 60, 8, 3e-3, 2, 0
	pc.Out = filepath.Join(dir, "pretrain.safetensors")
	pre, err := pretrain.Train(context.Background(), pc, corpus)
	require.NoError(t, err)
	sc := sft.DefaultConfig()
	sc.Steps, sc.LR, sc.FormatPrompts, sc.Out = 120, 2e-3, 0, filepath.Join(dir, "sft.safetensors")
	sres, err := sft.Train(context.Background(), sc, pre.Checkpoint, sft.Data{Train: world.SFTConversations(300)})
	require.NoError(t, err)
	rc := reward.DefaultConfig()
	rc.Steps, rc.LR, rc.Out = 30, 3e-4, filepath.Join(dir, "reward.safetensors")
	_, err = reward.Train(context.Background(), rc, sres.Checkpoint, reward.Data{Train: world.Preferences(150)})
	require.NoError(t, err)
	plan := map[string]any{"plan": runPlan{
		Seed: 1, RMPrompts: 40, PPOIterations: 2, PPOPrompts: 8, PPOLR: 1e-4, PPOKL: 0.05, PPOPretrainCoef: 1,
		MaxReplyTokens: 40, EvalPrompts: 12, EvalSamples: 2, CurveInterval: 1, CurvePrompts: 4,
	}}
	b, err := json.Marshal(plan)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "report.json"), b, 0o644))
}

// TestBakeoff runs every method on a miniature run: one row per method (best-of-n one per n),
// the same budget for the trained methods, the report files, and a rerun that trains nothing.
func TestBakeoff(t *testing.T) {
	run, out := t.TempDir(), t.TempDir()
	tinyRun(t, run)
	b, err := newBakeoff(run, out, allMethods)
	require.NoError(t, err)
	b.plan.BestOfN, b.plan.GroupSize = []int{1, 4}, 4
	rep, err := b.run(context.Background())
	require.NoError(t, err)
	var names []string
	for _, r := range rep.Rows {
		names = append(names, r.Method)
		require.GreaterOrEqual(t, r.Gold, 0.0)
		require.LessOrEqual(t, r.Win, 1.0)
	}
	require.Equal(t, []string{"SFT", "best-of-1", "best-of-4", "PPO", "PPO-ptx", "DPO", "GRPO", "RLOO", "GRPO, gold reward"}, names)
	require.Equal(t, 0.5, rep.Rows[0].Win, "SFT against itself: all ties")
	require.Equal(t, 0.0, rep.Rows[1].KL, "best-of-1 is the sampler itself")
	for _, r := range rep.Rows[3:] {
		require.Equal(t, 16, r.Replies, "%s: every trained method samples the budget", r.Method)
	}
	for _, f := range []string{"report.md", "report.json", "plot_bakeoff.png"} {
		require.FileExists(t, filepath.Join(out, f))
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "| GRPO, gold reward |")

	// A rerun finds every checkpoint and only evaluates: the same table.
	b2, err := newBakeoff(run, out, allMethods)
	require.NoError(t, err)
	b2.plan.BestOfN, b2.plan.GroupSize = []int{1, 4}, 4
	rep2, err := b2.run(context.Background())
	require.NoError(t, err)
	strip := func(r *report) string {
		var lines []string
		for _, x := range r.Rows {
			x.Seconds = 0
			lines = append(lines, (&report{Rows: []row{x}}).table())
		}
		return strings.Join(lines, "")
	}
	require.Equal(t, strip(rep), strip(rep2))

	_, err = newBakeoff(run, out, []string{"ppo", "magic"})
	require.ErrorContains(t, err, `unknown method "magic"`)
}
