package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/pretrain"
	"github.com/tinychat-go/tinychat/reward"
	"github.com/tinychat-go/tinychat/rlhf"
	"github.com/tinychat-go/tinychat/sft"
	"github.com/tinychat-go/tinychat/train"
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
	pc.Model = model.Config{Layers: 1, Heads: 2, Width: 32, BlockSize: 192} // the default run's block, longer than the rows the RL methods need
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

var shared struct {
	once sync.Once
	dir  string
}

// sharedRun is one miniature run for the tests that only read it (made once, removed by
// TestMain).
func sharedRun(t *testing.T) string {
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "bakeoff-run")
		require.NoError(t, err)
		tinyRun(t, dir)
		shared.dir = dir
	})
	require.NotEmpty(t, shared.dir, "the shared run failed")
	return shared.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// TestBakeoff runs every method on a miniature run: one row per method (best-of-n one per n),
// the same budget for the trained methods, the report files, and a rerun that trains nothing.
func TestBakeoff(t *testing.T) {
	run, out := sharedRun(t), t.TempDir()
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

	// Every RL method trained on rows sized to the prompts, not the model's block of 192: the
	// longest prompt plus MaxReplyTokens (40), a multiple of 8; DPO on rows holding its pairs.
	rows, err := b.rows()
	require.NoError(t, err)
	want, err := rlhf.RolloutBlock(b.sft.Tokenizer, b.rlPrompts(), 40)
	require.NoError(t, err)
	require.Equal(t, want, rows)
	require.Less(t, rows, 192)
	for _, m := range []string{"ppo", "ppo-ptx", "grpo", "rloo", "grpo-gold", "dpo"} {
		info, err := model.ReadCheckpointInfo(filepath.Join(out, m+".safetensors"))
		require.NoError(t, err)
		if m == "dpo" {
			require.GreaterOrEqual(t, trainedBlock(info), rows, m)
			require.Less(t, trainedBlock(info), 192, m)
			require.Zero(t, trainedBlock(info)%8, m)
			continue
		}
		require.Equal(t, rows, trainedBlock(info), m)
	}

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

// TestReuseNeedsTheSameRows: tinychat's RLHF checkpoint stands in for PPO-ptx only when it was
// trained on the bake-off's rows.
func TestReuseNeedsTheSameRows(t *testing.T) {
	dir := t.TempDir()
	b, err := newBakeoff(sharedRun(t), t.TempDir(), []string{"ppo-ptx"})
	require.NoError(t, err)
	_, err = b.run(context.Background())
	require.NoError(t, err)
	src := filepath.Join(b.out, "ppo-ptx.safetensors")
	rows, err := b.rows()
	require.NoError(t, err)
	require.NoError(t, reuse(src, filepath.Join(dir, "other.safetensors"), rows+8))
	require.NoFileExists(t, filepath.Join(dir, "other.safetensors"))
	require.NoError(t, reuse(src, filepath.Join(dir, "same.safetensors"), rows))
	require.FileExists(t, filepath.Join(dir, "same.safetensors"))
	require.FileExists(t, train.MetricsPath(filepath.Join(dir, "same.safetensors")))
}

// TestDPOBlock: DPO's rows are the RL rows unless a pair needs more (rounded up to 8), and the
// model's block (0) when that is not shorter.
func TestDPOBlock(t *testing.T) {
	dir := sharedRun(t)
	b, err := newBakeoff(dir, t.TempDir(), []string{"sft"})
	require.NoError(t, err)
	b.sft, err = model.LoadStage(filepath.Join(dir, "sft.safetensors"), model.StageSFT)
	require.NoError(t, err)
	prompt := []data.Message{{Role: data.RoleUser, Content: "what is a cat?"}}
	ids, err := data.RenderPrompt(b.sft.Tokenizer, prompt) // ends with <|assistant|>
	require.NoError(t, err)
	pair := func(reply string) []data.Ranking {
		return []data.Ranking{{Source: "x", Prompt: prompt, Responses: []string{"a cat.", reply}}}
	}
	got, err := b.dpoBlock(pair("b"), 40)
	require.NoError(t, err)
	require.Equal(t, 40, got)
	// prompt, 30 characters and <|end|>: len(ids)+31 tokens, one fewer predictions.
	long := strings.Repeat("a", 30)
	enc, err := b.sft.Tokenizer.Encode(long)
	require.NoError(t, err)
	need := len(ids) + len(enc) + 1 - 1
	got, err = b.dpoBlock(pair(long), 8)
	require.NoError(t, err)
	require.Equal(t, (need+7)/8*8, got)
	got, err = b.dpoBlock(pair(strings.Repeat("a ", 120)), 8)
	require.NoError(t, err)
	require.Zero(t, got, "longer than the model's block of 192: the model's")
	got, err = b.dpoBlock(pair("b"), 0)
	require.NoError(t, err)
	require.Zero(t, got)
}

// TestPlanOverride: -plan sets fields of the plan and refuses what the bake-off cannot run,
// leaving the plan as it was.
func TestPlanOverride(t *testing.T) {
	p, err := readPlan(sharedRun(t))
	require.NoError(t, err)
	require.Equal(t, []any{dpoBeta, dpoLR, dpoRPOAlpha, dpoEpochs}, []any{p.DPOBeta, p.DPOLR, p.DPORPOAlpha, p.DPOEpochs})
	require.NoError(t, p.override(`{"DPOBeta":0.5,"DPOLR":1e-5,"DPORPOAlpha":0,"DPOEpochs":2,"BestOfN":[1,3]}`))
	require.Equal(t, []any{0.5, 1e-5, 0.0, 2, []int{1, 3}}, []any{p.DPOBeta, p.DPOLR, p.DPORPOAlpha, p.DPOEpochs, p.BestOfN})
	before := p
	for _, tc := range []struct{ js, want string }{
		{`{"DPOBeta":0}`, "DPOBeta must be positive, got 0"},
		{`{"DPOLR":-1e-5}`, "DPOLR must be positive, got -1e-05"},
		{`{"DPORPOAlpha":-1}`, "DPORPOAlpha must be ≥ 0, got -1"},
		{`{"DPOEpochs":0}`, "DPOEpochs must be positive, got 0"},
		{`{"GroupSize":1}`, "GroupSize is 1, want ≥ 2"},
		{`{"BestOfN":[4,0]}`, "BestOfN holds 0, want every n ≥ 1"},
		{`{"DPOBeta":"big"}`, "cannot unmarshal string"},
		{`{"DPOBta":0.5}`, `unknown field "DPOBta"`},
		{`{"DPOBeta":0.5} {}`, "more than one JSON value"},
		{`[1]`, "cannot unmarshal array"},
		{`{"DPOBeta":`, "unexpected EOF"},
	} {
		err := p.override(tc.js)
		require.ErrorContains(t, err, tc.want, tc.js)
		require.Equal(t, before, p, "%s: the plan is unchanged", tc.js)
	}
}

func TestCommandLine(t *testing.T) {
	require.Equal(t, `go run ./examples/bakeoff -run runs/sk3 -plan '{"DPOBeta":0.5}' -out 'it'\''s'`,
		commandLine([]string{"-run", "runs/sk3", "-plan", `{"DPOBeta":0.5}`, "-out", "it's"}))
}

// TestTableRow: a row as the table prints it; SFT's KL to itself (rounding, a tiny negative)
// prints as 0.00.
func TestTableRow(t *testing.T) {
	r := &report{Rows: []row{
		{Method: "SFT", Gold: 71.141, GoldGreedy: 99.16, Correct: 0.986, Win: 0.5, Ties: 1, KL: -2.5e-7, Proxy: -4.6299},
		{Method: "best-of-2", Gold: 80.2, Win: 0.586, Ties: 0.38, KL: 0.1931, Proxy: -3, Seconds: 12.4, Replies: 1000, NoGreedy: true},
	}}
	require.Equal(t, "| method | gold, sampled | gold, greedy | correct, greedy | win vs SFT (ties) | reward model | KL to SFT | wall time | replies sampled |\n|---|---|---|---|---|---|---|---|---|\n"+
		"| SFT | 71.1 | 99.2 | 0.986 | 50.0% (100%) | -4.63 | 0.00 | 0 s | 0 |\n"+
		"| best-of-2 | 80.2 | — | — | 58.6% (38%) | -3.00 | 0.19 | 12 s | 1000 |\n", r.table())
}
