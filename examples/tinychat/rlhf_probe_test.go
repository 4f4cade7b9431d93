package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tinyworld"
	"github.com/tinychat-go/tinychat/model"
)

// TestRLHFSkillsProbe asks a run's final policy (DIR/rlvr.safetensors, or DIR/rlhf.safetensors
// in a run without RLVR or with TINYCHAT_STAGE=rlhf, DIR/sft.safetensors with
// TINYCHAT_STAGE=sft; DIR from TINYCHAT_RUN, relative to the repository's root) the held-out
// multi-hop questions step by step, the search-then-calculate questions, the news questions with
// the right passage and 200 of RLVR's news questions about invented people (their passage
// given), greedy, with the report card's tools,
// and logs the wrong turns with their calls and the count of wrong ones per kind: where RL's
// changes to SFT's skills show, and whether RLVR's prompts have something to teach.
// The world is the default plan's of TINYCHAT_SEED (default 1). It runs only with
// TINYCHAT_RUN set:
//
//	TINYCHAT_RUN=runs/final13 go test -run RLHFSkillsProbe -v ./examples/tinychat
func TestRLHFSkillsProbe(t *testing.T) {
	dir := os.Getenv("TINYCHAT_RUN")
	if dir == "" {
		t.Skip("skipped: set TINYCHAT_RUN to a run folder with rlhf.safetensors to probe the RLHF model's skills")
	}
	dir = fromRepoRoot(dir)
	pl := defaultPlan(1)
	if s := os.Getenv("TINYCHAT_SEED"); s != "" {
		require.NoError(t, pl.override(`{"Seed":`+s+`}`))
	}
	ctx := context.Background()
	w := newWorld(pl.Seed)
	stage := os.Getenv("TINYCHAT_STAGE")
	if stage == "" {
		stage = "rlhf"
		if _, err := os.Stat(filepath.Join(dir, "rlvr.safetensors")); err == nil {
			stage = "rlvr"
		}
	}
	t.Logf("probing %s", filepath.Join(dir, stage+".safetensors"))
	ck, err := model.LoadStage(filepath.Join(dir, stage+".safetensors"), model.StageRLHF, model.StageSFT)
	require.NoError(t, err)
	asst, err := chat.NewAssistant(ck.Model, ck.Tokenizer, 1)
	require.NoError(t, err)
	_, bm, err := newsIndex(w)
	require.NoError(t, err)
	full, _, err := skillRegistries(bm)
	require.NoError(t, err)
	wrong := map[string][2]int{} // per kind: n, wrong
	askWith := func(kind string, pr tinyworld.Prompt, msgs []data.Message, want string) {
		g, err := asst.ReplyWithTools(ctx, msgs, model.SampleConfig{MaxNewTokens: skillReplyTokens}, chat.ToolConfig{Tools: full})
		require.NoError(t, err)
		c := wrong[kind]
		c[0]++
		if v := w.Judge(pr, turnText(g), g.Ended); !v.Correct || !v.Ended {
			c[1]++
			t.Logf("WRONG %s | %q | want %q | got %s", kind, pr.User(), want, showTurn(g))
		}
		wrong[kind] = c
	}
	ask := func(kind string, pr tinyworld.Prompt, want string) { askWith(kind, pr, pr.Messages, want) }
	n := pl.skillEvalPrompts()
	for _, pr := range w.SkillEvalPrompts(tinyworld.SkillMultiHop, n) {
		pr = tinyworld.WithStepByStep(pr)
		ask("multihop "+pr.Kind, pr, w.SkillCanonical(pr))
	}
	for _, pr := range w.SkillEvalPrompts(tinyworld.SkillSearchCalc, n) {
		ask(tinyworld.SkillSearchCalc, pr, pr.Expression+"="+pr.Answer)
	}
	// The held-out news questions with the right passage (the news table's row), and RLVR's
	// news questions about invented people (plan.RLVRInventedNews), their passage given.
	news := w.SkillEvalPrompts(tinyworld.SkillNews, n)
	for i, msgs := range goldContext(news) {
		askWith("news, the right passage", news[i], msgs, news[i].Answer)
	}
	for _, pr := range w.InventedNewsRLPrompts(200) {
		askWith("invented news (RLVR's prompts)", pr, skillPrompt(pr, w.SkillSteps(pr)), pr.Answer)
	}
	t.Logf("%s, wrong turns per kind [n, wrong]: %v", stage, wrong)
}
