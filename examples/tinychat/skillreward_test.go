package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tinyworld"
	"github.com/tinychat-go/tinychat/data/tokenizer"
)

// constScorer gives every sequence the same score and counts what it was asked.
type constScorer struct {
	score float32
	asked *int
}

func (s constScorer) ScoreTokens(_ context.Context, seqs [][]int32) ([]float32, error) {
	*s.asked += len(seqs)
	out := make([]float32, len(seqs))
	for i := range out {
		out[i] = s.score
	}
	return out, nil
}

// The gold skill scorer gives a skill prompt's reply the judge's points / 20 — the canonical
// turn (tool calls and results included) 100 points, a wrong answer fewer, a turn without
// <|end|> a tenth — and every other reply the reward model's score.
func TestGoldSkillScorer(t *testing.T) {
	pl := skillsTinyPlan()
	p := &pipeline{plan: pl, world: newWorld(1)}
	tok, err := tokenizer.TrainBPE(p.world.PretrainText()+p.world.SkillPretrainText(0), tokenizer.BPEConfig{VocabSize: 512, PreSplit: tokenizer.PreSplitGPT2})
	require.NoError(t, err)
	items := p.skillRLItems()
	require.Len(t, items, 7*5)
	asked := 0
	s, err := newGoldSkillScorer(constScorer{-7, &asked}, tok, p.world, items)
	require.NoError(t, err)

	render := func(msgs []data.Message) []int32 {
		ids, _, err := data.RenderChat(tok, msgs)
		require.NoError(t, err)
		return ids
	}
	var seqs [][]int32
	var want []float32
	for _, it := range items {
		if it.prompt.Skill != tinyworld.SkillCalc && it.prompt.Skill != tinyworld.SkillSearchCalc && it.prompt.Skill != tinyworld.SkillNews {
			continue
		}
		demo := tinyworld.Demo{Prompt: it.prompt, Steps: p.world.SkillSteps(it.prompt)}
		full := render(demo.Chat(true)) // the prompt, the canonical turn and <|end|>
		prompt, err := data.RenderPrompt(tok, it.msgs)
		require.NoError(t, err)
		require.Equal(t, prompt, full[:len(prompt)], "the demonstration starts with the RL prompt")
		text, ended, calls, err := assistantTurn(tok, full[len(prompt):])
		require.NoError(t, err)
		require.True(t, ended)
		require.Equal(t, demo.Reply(), text, "tool calls and results are left out")
		var wantCalls []string
		for _, st := range demo.Steps {
			if st.Tool != "" {
				wantCalls = append(wantCalls, st.Tool)
			}
		}
		require.Equal(t, wantCalls, calls, "the turn's calls, in order")
		seqs, want = append(seqs, full), append(want, 5)
		// The same right answer without the calls: a calculation's or a searched count's
		// points for a correct answer are lost; a news answer needs no tool.
		bare := append(append([]int32(nil), prompt...), render([]data.Message{{Role: data.RoleAssistant, Content: demo.Reply()}})[2:]...)
		v := p.world.Judge(it.prompt, demo.Reply(), true)
		require.True(t, v.Correct)
		wantBare := v.Score / 20
		if it.prompt.Skill != tinyworld.SkillNews {
			wantBare = (v.Score - tinyworld.CorrectPoints) / 20
		}
		seqs, want = append(seqs, bare), append(want, float32(wantBare))
		seqs, want = append(seqs, full[:len(full)-1]), append(want, float32(p.world.Judge(it.prompt, text, false).Score/20))
		wrong := append(append([]int32(nil), prompt...), render([]data.Message{{Role: data.RoleAssistant, Content: "i do not know."}})[2:]...) // without <|bos|><|assistant|>
		seqs, want = append(seqs, wrong), append(want, float32(p.world.Judge(it.prompt, "i do not know.", true).Score/20))
	}
	require.NotEmpty(t, seqs)
	fact := render(append(p.world.RLPrompts(1)[0].Messages, data.Message{Role: data.RoleAssistant, Content: "hello"}))
	seqs, want = append(seqs, fact), append(want, -7)
	got, err := s.ScoreTokens(context.Background(), seqs)
	require.NoError(t, err)
	for i := range want {
		require.InDelta(t, want[i], got[i], 1e-6, "sequence %d", i)
	}
	require.Equal(t, 1, asked, "only the fact prompt's reply goes to the reward model")
	require.Equal(t, tinyworld.SkillCalc, items[len(items)/7].prompt.Skill, "the first scored prompt is a calculation")
	require.InDelta(t, (100-tinyworld.CorrectPoints)/20, want[1], 1e-6, "a right calculation without the calculator loses the points for being right")
	require.Less(t, want[2], float32(0.6), "an unended turn is worth a tenth")
	require.Less(t, want[3], float32(5), "a refusal of a known answer is not correct")

	// A special token out of place ends the text, not ended.
	hello, err := tok.Encode("hello")
	require.NoError(t, err)
	text, ended, err := assistantText(tok, append(append([]int32(nil), hello...), tokenizer.User, hello[0], tokenizer.End))
	require.NoError(t, err)
	require.False(t, ended)
	require.Equal(t, "hello", text)

	bad := quickPlan(1)
	require.ErrorContains(t, bad.override(`{"SkillReward":"judge"}`), `SkillReward is "judge", want "rm" (the reward model) or "gold" (the judge)`)
}

// RLVR's prompts end with the invented people's news questions, their passage in the context
// turn, and the judge scores them: the canonical answer 5, another answer, or the passage's
// fact about someone else, less.
func TestRLVRScoresInventedNews(t *testing.T) {
	pl := skillsTinyPlan()
	pl.RLVRInventedSearchCalc, pl.RLVRInventedNews = 500, 40
	p := &pipeline{plan: pl, world: newWorld(1)}
	tok, err := tokenizer.TrainBPE(p.world.PretrainText()+p.world.SkillPretrainText(0), tokenizer.BPEConfig{VocabSize: 512, PreSplit: tokenizer.PreSplitGPT2})
	require.NoError(t, err)
	items, extra := p.rlvrItems()
	require.Len(t, items, 7*5+500+40)
	require.Len(t, extra, 500, "only the search-then-calculate prompts' passages go to the search")
	news := items[len(items)-40:]
	searched := map[string]bool{}
	for _, it := range items[7*5 : 7*5+500] {
		searched[it.prompt.Person], searched[it.prompt.Other] = true, true
	}
	shared := 0
	for _, pr := range p.world.InventedNewsRLPrompts(40) {
		if searched[pr.Person] {
			shared++
		}
	}
	require.NotZero(t, shared, "the first 40 invented news people drawn alone include a search-then-calculate one")
	for i, it := range news {
		require.Equal(t, tinyworld.SkillReading, it.prompt.Skill)
		require.False(t, searched[it.prompt.Person], "item %d: %s is no search-then-calculate prompt's person (their facts differ)", i, it.prompt.Person)
	}
	asked := 0
	s, err := newGoldSkillScorer(constScorer{-7, &asked}, tok, p.world, items)
	require.NoError(t, err)
	reply := func(it skillRLItem, text string) []int32 {
		ids, _, err := data.RenderChat(tok, append(append([]data.Message(nil), it.msgs...), data.Message{Role: data.RoleAssistant, Content: text}))
		require.NoError(t, err)
		return ids
	}
	for i, it := range news {
		require.Equal(t, data.RoleContext, it.msgs[0].Role)
		require.Equal(t, it.prompt.Passages[0], it.msgs[0].Content, "item %d: the passage is the context turn", i)
		right := tinyworld.Demo{Prompt: it.prompt, Steps: p.world.SkillSteps(it.prompt)}.Reply()
		wrong := strings.Replace(right, it.prompt.Answer, "Nowhere", 1)
		require.NotEqual(t, right, wrong)
		got, err := s.ScoreTokens(context.Background(), [][]int32{reply(it, right), reply(it, wrong)})
		require.NoError(t, err)
		require.InDelta(t, 5, got[0], 1e-6, "item %d: %q", i, right)
		require.Less(t, got[1], float32(5)-float32(tinyworld.CorrectPoints)/20+1e-3, "item %d: %q is not correct", i, wrong)
	}
	require.Zero(t, asked, "no reply went to the reward model")
}
