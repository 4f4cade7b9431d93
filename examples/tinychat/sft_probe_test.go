package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data/tinyworld"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

// TestSFTSkillsProbe trains SFT from a run's pretrained checkpoint with the default plan
// changed by TINYCHAT_PROBE_PLAN (a JSON object as -plan takes) into the folder
// TINYCHAT_PROBE_OUT (default: the run's folder), unless its sft.safetensors is there — or,
// when the folder has no pretrained checkpoint either, pretrains first — and prints the SFT
// model's skill tables (the report card's, with the SFT model in every model's place and no
// few-shot table); for the multi-hop questions asked step by step, held-out and training
// combinations, where the wrong replies go wrong (a reasoning step that is not the world's
// fact, or the right steps and a wrong conclusion); the first wrong calculator turns; the news
// questions answered wrong with BM25's top 3 in front of them, and per kind and person with
// the right passage; the search-then-calculate turns per new person; and unseen reasoning
// drills (tinyworld.ReasoningDrills past the plan's). It is the cheap loop for trying SFT data
// (SFT and this evaluation take about four minutes, eight with pretraining; a whole run,
// twenty); a plan with another "Seed" probes another world. It runs only with TINYCHAT_RUN
// set, relative to the repository's root:
//
//	TINYCHAT_RUN=runs/final TINYCHAT_PROBE_OUT=runs/x TINYCHAT_PROBE_PLAN='{"SkillDrills":8000}' \
//	  go test -run SFTSkillsProbe -v -count=1 -timeout 1h ./examples/tinychat
func TestSFTSkillsProbe(t *testing.T) {
	src := os.Getenv("TINYCHAT_RUN")
	if src == "" {
		t.Skip("skipped: set TINYCHAT_RUN to a run folder with pretrain.safetensors to probe SFT's skills")
	}
	src = fromRepoRoot(src)
	out := src
	if o := os.Getenv("TINYCHAT_PROBE_OUT"); o != "" {
		out = fromRepoRoot(o)
	}
	pl := defaultPlan(1)
	if js := os.Getenv("TINYCHAT_PROBE_PLAN"); js != "" {
		require.NoError(t, pl.override(js))
	}
	require.NoError(t, os.MkdirAll(out, 0o755))
	if out != src && !exists(filepath.Join(out, "pretrain.safetensors")) {
		b, err := os.ReadFile(filepath.Join(src, "pretrain.safetensors"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(out, "pretrain.safetensors"), b, 0o644))
	}
	ctx := context.Background()
	p := &pipeline{plan: pl, paths: paths{dir: out}, log: testLog{t}, world: newWorld(pl.Seed),
		seconds: map[string]float64{}, metrics: map[string]map[string]float64{}, recorded: map[string]float64{}}
	tok, err := p.pretrain(ctx)
	require.NoError(t, err)
	require.NoError(t, p.timed("sft", func() error { return p.sft(ctx, tok) }))
	t.Logf("SFT: %v (%.0f s)", p.metrics["sft"], p.seconds["sft"])

	ck, err := model.LoadStage(p.paths.stage("sft"), model.StageSFT)
	require.NoError(t, err)
	require.NoError(t, tokenizer.RequireToolTokens(ck.Tokenizer))
	asst, err := chat.NewAssistant(ck.Model, ck.Tokenizer, 1)
	require.NoError(t, err)
	e := &skillEval{p: p, w: p.world, n: pl.skillEvalPrompts(), seed: pl.Seed + 1000, tok: ck.Tokenizer, block: ck.Model.Config.BlockSize,
		models: map[string]*chat.Assistant{"sft": asst, "sft-direct": asst, "rlhf": asst}}
	e.passages, e.retrievers, err = newsRetrievers(ctx, p.world, ck.Model, ck.Tokenizer, pl.skillDemos(), pl.Seed)
	require.NoError(t, err)
	_, bm, err := newsIndex(p.world)
	require.NoError(t, err)
	e.full, e.disabled, err = skillRegistries(bm)
	require.NoError(t, err)
	r := &SkillsReport{Retrieval: map[string]float64{}, SFTDirect: map[string]float64{}}
	for _, f := range []func(context.Context) (SkillTable, error){
		e.factsTable, e.calcTable, e.unknownTable, e.newsTable, e.searchCalcTable, e.multiHopTable, e.readingTable,
	} {
		tb, err := f(ctx)
		require.NoError(t, err)
		var rows []SkillRow
		for _, row := range tb.Rows {
			if row.Model == "sft" {
				rows = append(rows, row)
			}
		}
		tb.Rows = rows
		r.Tables = append(r.Tables, tb)
	}
	t.Log("\n" + r.markdown())
	js, _ := json.MarshalIndent(r.Tables, "", " ")
	require.NoError(t, os.WriteFile(filepath.Join(out, "sft-probe.json"), js, 0o644))

	// Multi-hop, step by step: where the wrong replies go wrong.
	for _, set := range []struct {
		name string
		ps   []tinyworld.Prompt
	}{
		{"held-out", p.world.SkillEvalPrompts(tinyworld.SkillMultiHop, e.n)},
		{"training combinations", p.world.SkillRLPrompts(tinyworld.SkillMultiHop, e.n)},
	} {
		multiHopFailures(t, ctx, p.world, asst, e, set.name, set.ps)
	}
	// Calculations with the calculator: the wrong turns, with their calls.
	shownCalc := 0
	for _, pr := range p.world.SkillEvalPrompts(tinyworld.SkillCalc, e.n) {
		g, err := asst.ReplyWithTools(ctx, pr.Messages, model.SampleConfig{MaxNewTokens: skillReplyTokens}, chat.ToolConfig{Tools: e.full})
		require.NoError(t, err)
		if v := p.world.Judge(pr, turnText(g), g.Ended); (!v.Correct || !v.Ended) && shownCalc < 15 {
			shownCalc++
			t.Logf("CALC WRONG %q | want %s=%s | got %s", pr.User(), pr.Expression, pr.Answer, showTurn(g))
		}
	}

	// News with BM25's top 3: the wrong replies, with the passages in front of them.
	newsPs := p.world.SkillEvalPrompts(tinyworld.SkillNews, e.n)
	newsMsgs, _, _, err := e.retrievedContext(ctx, e.retrievers["bm25"], newsPs)
	require.NoError(t, err)
	wrongNews := map[string][2]int{}
	for i, pr := range newsPs {
		g, err := asst.ReplyWithTools(ctx, newsMsgs[i], model.SampleConfig{MaxNewTokens: skillReplyTokens}, chat.ToolConfig{Tools: e.full})
		require.NoError(t, err)
		v := p.world.Judge(pr, turnText(g), g.Ended)
		c := wrongNews[pr.Kind]
		c[0]++
		if !v.Correct || !v.Ended {
			c[1]++
			t.Logf("NEWS WRONG %q | context %q | want %q | got %q", pr.User(), newsMsgs[i][len(newsMsgs[i])-2].Content, pr.Answer, turnText(g))
		}
		wrongNews[pr.Kind] = c
	}
	t.Logf("news with BM25's top 3 per kind [n, wrong]: %v", wrongNews)
	wrongGold := map[string][2]int{}
	for i, m := range goldContext(newsPs) {
		g, err := asst.ReplyWithTools(ctx, m, model.SampleConfig{MaxNewTokens: skillReplyTokens}, chat.ToolConfig{Tools: e.full})
		require.NoError(t, err)
		v := p.world.Judge(newsPs[i], turnText(g), g.Ended)
		c := wrongGold[newsPs[i].Kind+" "+newsPs[i].Person]
		c[0]++
		if !v.Correct || !v.Ended {
			c[1]++
		}
		wrongGold[newsPs[i].Kind+" "+newsPs[i].Person] = c
	}
	t.Logf("news with the right passage per kind and person [n, wrong]: %v", wrongGold)

	// Search then calculate, per new person: searched for (with the demonstrations' query) and
	// right.
	per := map[string][3]int{}
	for _, pr := range p.world.SkillEvalPrompts(tinyworld.SkillSearchCalc, e.n) {
		g, err := asst.ReplyWithTools(ctx, pr.Messages, model.SampleConfig{MaxNewTokens: skillReplyTokens}, chat.ToolConfig{Tools: e.full})
		require.NoError(t, err)
		who := searchedPerson(p.world, pr)
		c := per[who]
		c[0]++
		if len(g.Calls) > 0 && g.Calls[0].Text == tinyworld.ToolSearch+" "+who+" stamps" {
			c[1]++
		}
		if v := p.world.Judge(pr, turnText(g), g.Ended); v.Correct && v.Ended {
			c[2]++
		}
		per[who] = c
	}
	t.Logf("search-calc per new person [n, searched first with the right query, right]: %v", per)

	// Reasoning drills past the ones SFT trains on: the facts in the context turn.
	right := map[string][2]int{}
	for _, d := range p.world.ReasoningDrills(pl.SkillDrills + 200)[pl.SkillDrills:] {
		g, err := asst.ReplyWithTools(ctx, d.Chat(true)[:len(d.Chat(true))-1], model.SampleConfig{MaxNewTokens: skillReplyTokens}, chat.ToolConfig{Tools: e.full})
		require.NoError(t, err)
		k := fmt.Sprintf("%s step=%v", d.Kind, d.StepByStep)
		c := right[k]
		c[0]++
		if g.Ended && turnText(g) == d.Steps[0].Text {
			c[1]++
		} else if c[0]-c[1] <= 2 {
			t.Logf("DRILL %q: want %q, got %q", d.User(), d.Steps[0].Text, turnText(g))
		}
		right[k] = c
	}
	t.Logf("unseen reasoning drills (exact replies): %v", right)
}

// multiHopFailures asks ps step by step and logs where the wrong replies go wrong.
func multiHopFailures(t *testing.T, ctx context.Context, w *tinyworld.World, asst *chat.Assistant, e *skillEval, name string, ps []tinyworld.Prompt) {
	p := e.p
	kinds := map[string][4]int{} // n, right, a wrong step, right steps but a wrong conclusion
	shown := 0
	for _, pr := range ps {
		pr = tinyworld.WithStepByStep(pr)
		g, err := asst.ReplyWithTools(ctx, pr.Messages, model.SampleConfig{MaxNewTokens: skillReplyTokens}, chat.ToolConfig{Tools: e.full})
		require.NoError(t, err)
		text := turnText(g)
		v := p.world.Judge(pr, text, g.Ended)
		c := kinds[pr.Kind]
		c[0]++
		switch {
		case v.Correct && v.Ended:
			c[1]++
		case !strings.HasPrefix(text, strings.Join(pr.Reasoning, " ")):
			c[2]++
			if shown < 20 && name == "held-out" {
				shown++
				t.Logf("WRONG STEP  %s | want %q | got %q", pr.User(), strings.Join(pr.Reasoning, " "), text)
			}
		default:
			c[3]++
			if shown < 20 && name == "held-out" {
				shown++
				t.Logf("WRONG CONCL %s | want %q | got %q", pr.User(), p.world.SkillCanonical(pr), text)
			}
		}
		kinds[pr.Kind] = c
	}
	for k, c := range kinds {
		t.Logf("multihop with the trigger, %s, %-12s n=%3d right=%3d wrong-step=%3d right-steps-wrong-conclusion=%3d", name, k, c[0], c[1], c[2], c[3])
	}
}

// fromRepoRoot is dir, a probe's run folder, as the tests (run in this package's folder) reach
// it: relative paths are the repository root's.
func fromRepoRoot(dir string) string {
	if filepath.IsAbs(dir) {
		return dir
	}
	return filepath.Join("..", "..", dir)
}

type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
