package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tinyworld"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/retrieval"
)

// skillsTinyPlan is the smallest plan with the skills on: every stage and every table runs,
// nothing is learned.
func skillsTinyPlan() plan {
	p := quickPlan(1)
	p.Model = model.Config{Layers: 1, Heads: 2, Width: 32, BlockSize: 96}
	p.BPEVocab = 300
	p.PretrainSteps, p.PretrainBatch = 60, 8
	p.SFTConvs, p.SFTSteps = 200, 20
	p.RMPrompts, p.RMSamples, p.RMSteps = 40, 1, 20
	p.PPOIterations, p.PPOPrompts = 2, 8
	p.CurveInterval = 0
	p.EvalPrompts, p.EvalSamples = 10, 1
	p.Skills, p.SkillRL, p.SkillPretrainBytes, p.SkillDemos, p.SkillEvalPrompts = true, true, 20_000, 20, 4
	p.SkillReward = skillRewardGold
	return p
}

// With Skills off (the quick plan) the data are exactly the original ones.
func TestSkillsOffLeavesTheDataAlone(t *testing.T) {
	pl := quickPlan(1)
	require.False(t, pl.Skills)
	pl.SFTConvs = 300
	p := &pipeline{plan: pl, world: newWorld(1)}
	require.Equal(t, p.world.PretrainText(), p.pretrainText())
	require.Equal(t, p.world.SFTConversations(300), p.sftConversations())
	require.Equal(t, pl.SFTBlock, p.sftBlock())
}

// The skills' mix: the original conversations and every skill's demonstrations, shuffled;
// the direct-only ablation differs exactly in the step-by-step multi-hop demonstrations; all
// fit the block.
func TestSkillsSFTMix(t *testing.T) {
	pl := skillsTinyPlan()
	p := &pipeline{plan: pl, world: newWorld(1)}
	require.True(t, strings.HasPrefix(p.pretrainText(), p.world.PretrainText()+"\n"))
	require.True(t, strings.HasSuffix(p.pretrainText(), "\n"+p.world.SkillPretrainText(pl.SkillPretrainBytes)))
	require.Equal(t, 96, p.sftBlock())

	mixed, direct := p.sftMix(false), p.sftMix(true)
	require.Len(t, mixed, 200+7*20)
	require.Len(t, direct, len(mixed))
	perSkill := map[string]int{}
	differ := 0
	for i := range mixed {
		require.Equal(t, mixed[i].Source, direct[i].Source, "the same permutation")
		parts := strings.Split(mixed[i].Source, ":")
		if parts[1] == "skill" {
			perSkill[parts[2]]++
		}
		if !equalMessages(mixed[i].Messages, direct[i].Messages) {
			differ++
			require.Equal(t, "tinyworld:skill:"+tinyworld.SkillMultiHop, strings.Join(parts[:3], ":"))
			require.True(t, strings.HasSuffix(mixed[i].Messages[0].Content, tinyworld.StepTrigger))
		}
	}
	require.Equal(t, 10, differ, "the 10 step-by-step multi-hop demonstrations of 20 (every other one)")
	for _, s := range tinyworld.Skills() {
		require.Equal(t, 20, perSkill[s], s)
	}
	require.NotEqual(t, "tinyworld:sft:0", mixed[0].Source, "shuffled")

	tok, err := tokenizer.TrainBPE(p.world.PretrainText()+p.world.SkillPretrainText(0), tokenizer.BPEConfig{VocabSize: 512, PreSplit: tokenizer.PreSplitGPT2})
	require.NoError(t, err)
	var demos []data.Conversation
	for _, c := range mixed {
		if strings.HasPrefix(c.Source, "tinyworld:skill:") {
			demos = append(demos, c)
		}
	}
	_, stats, err := data.RenderRows(tok, demos, 96)
	require.NoError(t, err)
	require.Equal(t, data.FitStats{Total: 7 * 20}, stats, "every demonstration fits the block whole")

	bad := quickPlan(1)
	require.ErrorContains(t, bad.override(`{"Skills":true}`), "BlockSize ≥ 96")
	require.NoError(t, bad.override(`{"Skills":true,"Model":{"block_size":96}}`))
	require.Equal(t, 96, bad.Model.BlockSize)
	require.Equal(t, 64, bad.Model.Width, "the other model sizes stay")
}

// The reward model's skill rankings (text-only skills, prompts as SFT renders them) and PPO's
// skill prompts and tools; none of them with Skills off.
func TestSkillsRewardAndPPOData(t *testing.T) {
	off := &pipeline{plan: quickPlan(1), world: newWorld(1)}
	require.Nil(t, off.skillRankings())
	require.Nil(t, off.skillRLPrompts())
	tc, err := off.ppoTools()
	require.NoError(t, err)
	require.Nil(t, tc)

	pl := skillsTinyPlan() // RMPrompts 40: 4 rankings and 5 RL prompts per skill
	p := &pipeline{plan: pl, world: newWorld(1)}
	rk := p.skillRankings()
	perSkill := map[string]int{}
	for _, r := range rk {
		skill := strings.Split(r.Source, ":")[2]
		perSkill[skill]++
		require.NoError(t, r.Validate(), r.Source)
		require.GreaterOrEqual(t, len(r.Turns), 3)
		require.Equal(t, []data.Message{{Role: data.RoleAssistant}}, r.Turns[len(r.Turns)-1], "the empty reply ranks last")
		calls := slices.ContainsFunc(r.Turns[0], func(m data.Message) bool { return m.Role == data.RoleToolCall })
		// A step-by-step "who has more stamps" subtracts the two counts with the calculator.
		user := r.Prompt[len(r.Prompt)-1].Content
		more := skill == tinyworld.SkillMultiHop && strings.Contains(user, "stamps") && strings.HasSuffix(user, tinyworld.StepTrigger)
		require.Equal(t, skill == tinyworld.SkillCalc || skill == tinyworld.SkillSearchCalc || more, calls, "the best turn calls tools: %s", r.Source)
		hasContext := r.Prompt[0].Role == data.RoleContext
		require.Equal(t, skill == tinyworld.SkillNews || skill == tinyworld.SkillReading, hasContext, r.Source)
	}
	require.Equal(t, map[string]int{tinyworld.SkillFacts: 4, tinyworld.SkillCalc: 4, tinyworld.SkillUnknown: 4, tinyworld.SkillNews: 4,
		tinyworld.SkillSearchCalc: 4, tinyworld.SkillMultiHop: 4, tinyworld.SkillReading: 4}, perSkill)
	for _, skill := range []string{tinyworld.SkillNews, tinyworld.SkillMultiHop, tinyworld.SkillCalc} {
		for i, sr := range p.world.SkillPreferences(skill, 4) {
			var got data.Ranking
			for _, r := range rk {
				if r.Source == sr.Source {
					got = r
				}
			}
			require.Equal(t, sr.Prompt.User(), got.Prompt[len(got.Prompt)-1].Content, "%s %d", skill, i)
			text := func(turn []data.Message) string { return turn[len(turn)-1].Content }
			require.Equal(t, 100.0, p.world.Judge(sr.Prompt, text(got.Turns[0]), true).Score, "the best is the canonical turn")
			require.Less(t, p.world.Judge(sr.Prompt, text(got.Turns[len(got.Turns)-2]), true).Score, 100.0)
		}
	}

	prompts := p.skillRLPrompts()
	require.Len(t, prompts, 7*5)
	for i, msgs := range prompts {
		require.NoError(t, data.ValidatePrompt(msgs))
		skill := tinyworld.Skills()[i/5]
		require.Equal(t, skill == tinyworld.SkillNews || skill == tinyworld.SkillReading, msgs[0].Role == data.RoleContext, "%s: %v", skill, msgs)
	}
	tc, err = p.ppoTools()
	require.NoError(t, err)
	require.Equal(t, []string{"calc", "search"}, tc.Tools.Names())
}

func equalMessages(a, b []data.Message) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The tools the tables run: the calculator and a one-passage search, and the registry whose
// tools fail in-band; and the retrievers' recall on the news, as retrieval's tests measure it.
func TestSkillsToolsAndRetrievers(t *testing.T) {
	ctx := context.Background()
	w := newWorld(1)
	ps, bm, err := newsIndex(w)
	require.NoError(t, err)
	full, disabled, err := skillRegistries(bm)
	require.NoError(t, err)
	name, res := full.Run(ctx, "calc 3*28")
	require.Equal(t, [2]string{"calc", "84"}, [2]string{name, res})
	_, res = full.Run(ctx, "search Otto stamps")
	require.Contains(t, w.NewsPassages(), res, "one passage")
	require.Contains(t, res, "Otto has 187 stamps.")
	name, res = disabled.Run(ctx, "calc 3*28")
	require.Equal(t, [2]string{"calc", "error: execution disabled"}, [2]string{name, res})
	_, res = disabled.Run(ctx, "search Otto stamps")
	require.Equal(t, "error: execution disabled", res)

	// Every demonstration's calls give their recorded results with the full registry (but the
	// searches for invented people, whose passages the news store does not hold).
	news := map[string]bool{}
	for _, s := range w.NewsPassages() {
		news[s] = true
	}
	for _, skill := range []string{tinyworld.SkillCalc, tinyworld.SkillSearchCalc} {
		for _, d := range w.SkillDemos(skill, 30) {
			if skill == tinyworld.SkillSearchCalc && !news[d.Passages[0]] {
				continue
			}
			for _, s := range d.Steps {
				if s.Tool != "" {
					_, res := full.Run(ctx, s.Tool+" "+s.Input)
					require.Equal(t, s.Output, res, s.String())
				}
			}
		}
	}

	qs, err := newsQueries(append(w.SkillEvalPrompts(tinyworld.SkillNews, 50), w.SkillEvalPrompts(tinyworld.SkillSearchCalc, 50)...), ps)
	require.NoError(t, err)
	require.Len(t, qs, 100)
	r1, err := retrieval.Recall(ctx, bm, qs, 1)
	require.NoError(t, err)
	r3, err := retrieval.Recall(ctx, bm, qs, 3)
	require.NoError(t, err)
	t.Logf("BM25 on the news, %d held-out questions: recall@1 %.2f, recall@3 %.2f", len(qs), r1, r3)
	require.GreaterOrEqual(t, r3, 0.95, "names are unique: BM25 finds nearly every held-out question's passage in its top 3")
	require.LessOrEqual(t, r1, r3)
	_, err = newsQueries([]tinyworld.Prompt{{Messages: []data.Message{{Role: data.RoleUser, Content: "?"}}, Passages: []string{"news: nobody."}}}, ps)
	require.ErrorContains(t, err, "not in the news store")

	// The context turn goes right before the question.
	msgs := withContext([]data.Message{{Role: data.RoleUser, Content: "hi"}, {Role: data.RoleAssistant, Content: "hello"}, {Role: data.RoleUser, Content: "q?"}}, []string{"a.", "b."})
	require.Equal(t, []data.Message{{Role: data.RoleUser, Content: "hi"}, {Role: data.RoleAssistant, Content: "hello"}, data.ContextMessage("a.", "b."), {Role: data.RoleUser, Content: "q?"}}, msgs)
}

// TestSkillsPipeline runs the pipeline with the skills on a tiny plan and checks the report:
// every table with its rows, each figure a rate over the row's prompts (or a judge score),
// the retrievers' recall, the ablation's checkpoint, and report.md's tables.
func TestSkillsPipeline(t *testing.T) {
	dir := t.TempDir()
	pl := skillsTinyPlan()
	pl.RLVRIterations, pl.RLVRPrompts, pl.RLVRGroup, pl.RLVRFactPrompts = 2, 4, 2, 4
	p := &pipeline{plan: pl, paths: paths{dir: dir}, log: io.Discard}
	r, err := p.run(context.Background())
	require.NoError(t, err)
	require.NotNil(t, r.Skills)

	// RLVR: GRPO from the PPO policy, with the judge's rewards for the skills; the report's
	// RLHF model is its policy.
	rlvr, err := model.LoadStage(filepath.Join(dir, "rlvr.safetensors"), model.StageRLHF)
	require.NoError(t, err)
	ppoCk, err := model.LoadStage(filepath.Join(dir, "rlhf.safetensors"), model.StageRLHF)
	require.NoError(t, err)
	ppoID, err := ppoCk.Fingerprint()
	require.NoError(t, err)
	require.Equal(t, ppoID, rlvr.Parent)
	require.Equal(t, "rloo", rlvr.Extra["rlhf.method"], "the default plan's method")
	require.Contains(t, rlvr.Extra["rlhf.reward"], "skills: the tiny world's judge")
	require.Equal(t, pl.RLVRIterations, rlvr.Step)
	require.Contains(t, r.RLHF, "rlvr_seconds")
	require.Greater(t, r.RLHF["kl"], 0.0, "the final policy's KL to SFT on the held-out prompts")
	require.Contains(t, r.RLHF, "ppo_kl")
	// A second run finds every stage done, RLVR's too, and reports the same models.
	again, err := p.run(context.Background())
	require.NoError(t, err)
	require.Equal(t, r.RLHF["gold_score"], again.RLHF["gold_score"])
	require.Equal(t, r.Skills.Tables, again.Skills.Tables)

	// The ablation is SFT from the same pretrained checkpoint, with the same steps.
	direct, err := model.LoadStage(filepath.Join(dir, "sft-direct.safetensors"), model.StageSFT)
	require.NoError(t, err)
	sftCk, err := model.LoadStage(filepath.Join(dir, "sft.safetensors"), model.StageSFT)
	require.NoError(t, err)
	require.Equal(t, sftCk.Parent, direct.Parent)
	require.Equal(t, pl.SFTSteps, direct.Step)
	require.Equal(t, sftCk.Step, direct.Step)
	require.NoError(t, tokenizer.RequireToolTokens(direct.Tokenizer))
	require.Greater(t, r.Skills.SFTDirect["val_loss"], 0.0)
	rl, err := model.LoadStage(filepath.Join(dir, "rlhf.safetensors"), model.StageRLHF)
	require.NoError(t, err)
	require.Contains(t, rl.Extra["rlhf.reward"], "skills: the tiny world's judge", "SkillReward gold scores the skills with the judge")

	n := pl.SkillEvalPrompts
	want := []struct {
		skill string
		rows  int
	}{
		{tinyworld.SkillFacts, 2}, {tinyworld.SkillCalc, 4}, {tinyworld.SkillUnknown, 4}, {tinyworld.SkillNews, 10},
		{tinyworld.SkillSearchCalc, 4}, {tinyworld.SkillMultiHop, 6}, {tinyworld.SkillReading, 2}, {"fewshot", 9},
	}
	require.Len(t, r.Skills.Tables, len(want))
	for i, tb := range r.Skills.Tables {
		require.Equal(t, want[i].skill, tb.Skill)
		require.Len(t, tb.Rows, want[i].rows, tb.Skill)
		for _, row := range tb.Rows {
			require.Equal(t, n, row.N, "%s %s %s", tb.Skill, row.Model, row.Setting)
			cols := len(tb.Columns)
			if row.Model == "rlhf" && tb.Skill != "fewshot" {
				// RLHF's rows carry the paired difference to SFT's in the same setting.
				cols += 2
				require.Contains(t, row.Values, "gold_sampled_vs_sft", "%s %s", tb.Skill, row.Setting)
				require.GreaterOrEqual(t, row.Values["gold_sampled_vs_sft_se"], 0.0)
			}
			require.Len(t, row.Values, cols, "%s %s %s: %v", tb.Skill, row.Model, row.Setting, row.Values)
			for _, c := range tb.Columns {
				v, ok := row.Values[c]
				require.True(t, ok, "%s %s %s lacks %s", tb.Skill, row.Model, row.Setting, c)
				switch {
				case strings.HasSuffix(c, "_rate") && c != "passage_hit_rate" || c == "shots" && tb.Skill == "fewshot":
					// A count over the row's n prompts.
					require.InDelta(t, math.Round(v*float64(n)), v*float64(n), 1e-9, "%s %s %s %s = %v", tb.Skill, row.Model, row.Setting, c, v)
					if c != "shots" {
						require.True(t, v >= 0 && v <= 1, "%s %s = %v", tb.Skill, c, v)
					}
				case strings.HasPrefix(c, "gold"):
					require.True(t, v >= 0 && v <= 100, "%s %s = %v", tb.Skill, c, v)
				}
			}
		}
	}
	news := r.Skills.Tables[3]
	for _, row := range news.Rows {
		switch row.Setting {
		case "closed-book":
			require.Equal(t, 0.0, row.Values["passages"])
		case "the right passage":
			require.Equal(t, 1.0, row.Values["passage_hit_rate"])
		case "retrieved by bm25":
			require.Equal(t, 1.0, row.Values["passage_hit_rate"], "the block leaves room for BM25's best passage")
		}
	}
	fewshot := r.Skills.Tables[7]
	for i, k := range []float64{0, 1, 4, 8, 0, 4} {
		require.LessOrEqual(t, fewshot.Rows[i].Values["shots"], k, fewshot.Rows[i].Setting)
	}
	require.Greater(t, fewshot.Rows[2].Values["shots"], 0.0, "some examples fit")

	require.Equal(t, 2.0*float64(n), r.Skills.Retrieval["queries"])
	ps, bm, err := newsIndex(p.world)
	require.NoError(t, err)
	qs, err := newsQueries(append(p.world.SkillEvalPrompts(tinyworld.SkillNews, n), p.world.SkillEvalPrompts(tinyworld.SkillSearchCalc, n)...), ps)
	require.NoError(t, err)
	r3, err := retrieval.Recall(context.Background(), bm, qs, 3)
	require.NoError(t, err)
	require.Equal(t, r3, r.Skills.Retrieval["bm25_recall@3"], "BM25 over the news, on the tables' questions")
	for _, k := range []string{"bm25_recall@1", "pooled_recall@1", "pooled_recall@3", "encoder_recall@1", "encoder_recall@3"} {
		v, ok := r.Skills.Retrieval[k]
		require.True(t, ok, k)
		require.InDelta(t, math.Round(v*2*float64(n)), v*2*float64(n), 1e-9, k)
	}

	raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	var card struct {
		Skills *SkillsReport `json:"skills"`
		Plan   plan          `json:"plan"`
	}
	require.NoError(t, json.Unmarshal(raw, &card))
	require.Equal(t, r.Skills.Tables, card.Skills.Tables)
	require.True(t, card.Plan.Skills)
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	for _, s := range []string{"| RLHF (PPO, then RLVR) |", "then RLVR (RLOO on the skills' prompts scored by the judge, and 4 original prompts", "plot_rlvr.png", "## Skills", "### calc:", "### news:", "### fewshot:", "| sft-direct | with the trigger | 4 |", "| bm25 | "} {
		require.Contains(t, string(md), s)
	}

	// A rerun skips every stage, the ablation included, and evaluates to the same tables.
	var log strings.Builder
	p2 := &pipeline{plan: pl, paths: paths{dir: dir}, log: &log}
	r2, err := p2.run(context.Background())
	require.NoError(t, err)
	require.Contains(t, log.String(), "sft-direct: "+filepath.Join(dir, "sft-direct.safetensors")+" exists, skipping")
	require.Equal(t, r.Skills.Tables, r2.Skills.Tables, "the evaluation is deterministic")
	require.Equal(t, r.Skills.SFTDirect, r2.Skills.SFTDirect)

	// An ablation trained from another model is refused.
	raw, err = os.ReadFile(filepath.Join(dir, "rlhf.safetensors"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sft-direct.safetensors"), raw, 0o644))
	_, err = (&pipeline{plan: pl, paths: paths{dir: dir}, log: io.Discard}).run(context.Background())
	require.ErrorContains(t, err, "sft-direct.safetensors was not trained from the pretrained model")
}

// News demonstrations carry the right passage and up to two others of the training news (never
// a held-out item's) in their context turn, as a retriever's top 3 would.
func TestNewsDemosHaveDistractors(t *testing.T) {
	w := newWorld(1)
	held := map[string]bool{}
	for _, n := range w.News() {
		for _, s := range n.Passages {
			held[s] = n.Held
		}
	}
	distract := newsDistractors(w, 1)
	counts := map[int]int{}
	for i, d := range w.SkillDemos(tinyworld.SkillNews, 200) {
		msgs := distract(d.Chat(true), i)
		require.Equal(t, msgs, distract(d.Chat(true), i), "deterministic")
		var ctx []string
		for _, m := range msgs {
			if m.Role == data.RoleContext {
				ctx = strings.Split(m.Content, "\n")
			}
		}
		require.Subset(t, ctx, d.Passages, "the right passage is there")
		for _, s := range ctx {
			if !slices.Contains(d.Passages, s) {
				require.False(t, held[s], "a held-out passage: %q", s)
			}
		}
		counts[len(ctx)]++
	}
	require.Len(t, counts, 3, "one, two and three passages: %v", counts)
}

func TestPairedRLHFvsSFT(t *testing.T) {
	mean, se := pairedDifference([]float64{1, 2, 3}, []float64{0, 0, 0})
	require.InDelta(t, 2, mean, 1e-12)
	require.InDelta(t, 1/math.Sqrt(3), se, 1e-12, "sample sd 1 over √3")
	mean, se = pairedDifference([]float64{5, 7, 9}, []float64{4, 6, 8})
	require.InDelta(t, 1, mean, 1e-12)
	require.Zero(t, se, "the same difference on every prompt is no noise")

	tab := SkillTable{Rows: []SkillRow{
		{Model: "sft", Setting: "a", Values: map[string]float64{}, Sampled: []float64{100, 0, 100, 0}},
		{Model: "rlhf", Setting: "a", Values: map[string]float64{}, Sampled: []float64{100, 100, 100, 0}},
		{Model: "rlhf", Setting: "b", Values: map[string]float64{}, Sampled: []float64{100, 100}}, // no SFT row
		{Model: "sft-direct", Setting: "a", Values: map[string]float64{}, Sampled: []float64{0, 0, 0, 0}},
	}}
	pairedRLHFvsSFT(&tab)
	require.InDelta(t, 25, tab.Rows[1].Values["gold_sampled_vs_sft"], 1e-12)
	require.InDelta(t, 25, tab.Rows[1].Values["gold_sampled_vs_sft_se"], 1e-12, "differences 0,100,0,0: sd 50, over √4")
	require.NotContains(t, tab.Rows[2].Values, "gold_sampled_vs_sft")
	require.NotContains(t, tab.Rows[3].Values, "gold_sampled_vs_sft", "only RLHF is compared")
	require.Equal(t, []string{"RLHF − SFT, sampled gold over the same prompts (± one standard error of the paired difference): a +25.0 ± 25.0"}, tab.Notes)
}

// RLVR's search finds the invented people's passages of its search-then-calculate prompts; the
// evaluation's (and PPO's) search, the news store alone, does not.
func TestRLVRSearchFindsInventedPeople(t *testing.T) {
	pl := defaultPlan(1)
	p := &pipeline{plan: pl, world: newWorld(pl.Seed)}
	prs := p.world.InventedSearchCalcRLPrompts(3)
	var extra []string
	for _, pr := range prs {
		extra = append(extra, pr.Passages...)
	}
	rl, err := p.ppoTools(extra...)
	require.NoError(t, err)
	news, err := p.ppoTools()
	require.NoError(t, err)
	for _, pr := range prs {
		steps := p.world.SkillSteps(pr)
		require.Equal(t, tinyworld.ToolSearch, steps[0].Tool)
		_, got := rl.Tools.Run(context.Background(), tinyworld.ToolSearch+" "+steps[0].Input)
		require.Equal(t, pr.Passages[0], got, "RLVR's search finds %q", steps[0].Input)
		_, got = news.Tools.Run(context.Background(), tinyworld.ToolSearch+" "+steps[0].Input)
		require.NotEqual(t, pr.Passages[0], got, "the news store alone does not")
	}
	// The news store's own people are found either way.
	for _, pr := range p.world.SkillRLPrompts(tinyworld.SkillSearchCalc, 3) {
		steps := p.world.SkillSteps(pr)
		_, a := rl.Tools.Run(context.Background(), tinyworld.ToolSearch+" "+steps[0].Input)
		_, b := news.Tools.Run(context.Background(), tinyworld.ToolSearch+" "+steps[0].Input)
		require.Equal(t, steps[0].Output, a)
		require.Equal(t, a, b)
	}
}
