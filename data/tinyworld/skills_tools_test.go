package tinyworld_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tinyworld"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/retrieval"
	"github.com/tinychat-go/tinychat/tools"
)

// demoTools is the calculator and a BM25 search (K 1) over the news store and the passages
// of demonstration d (those about invented people find a store that holds their passage; each
// demonstration gets its own, since two invented people may share a name).
func demoTools(t *testing.T, w *tinyworld.World, d tinyworld.Demo) *tools.Registry {
	t.Helper()
	texts := w.NewsPassages()
	for _, p := range d.Passages {
		if !slices.Contains(texts, p) {
			texts = append(texts, p)
		}
	}
	var ps []retrieval.Passage
	for i, s := range texts {
		ps = append(ps, retrieval.Passage{ID: i, Doc: "news", Text: s})
	}
	bm, err := retrieval.NewBM25(ps, 0, 0)
	require.NoError(t, err)
	reg, err := tools.NewRegistry(tools.Calculator{}, tools.Search{Retriever: bm, K: 1})
	require.NoError(t, err)
	return reg
}

// The demonstrations' tool steps are what the real tools answer: the
// calculator's value, and the first passage a BM25 search of the news store
// finds (a search with K 1; the demonstrations about invented people search
// a store holding their passages too), so that SFT shows the model what it
// will read at run time.
func TestSkillStepsMatchTheTools(t *testing.T) {
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	calls := map[string]int{}
	for _, sk := range []string{tinyworld.SkillCalc, tinyworld.SkillSearchCalc} {
		var demos []tinyworld.Demo
		demos = append(demos, w.SkillDemos(sk, 100)...)
		for _, p := range w.SkillEvalPrompts(sk, 100) {
			demos = append(demos, tinyworld.Demo{Prompt: p, Steps: w.SkillSteps(p)})
		}
		for _, d := range demos {
			reg := demoTools(t, w, d)
			for _, s := range d.Steps {
				if s.Tool == "" {
					continue
				}
				calls[s.Tool]++
				name, got := reg.Run(context.Background(), s.Tool+" "+s.Input)
				assert.Equal(t, s.Tool, name)
				assert.Equal(t, s.Output, got, "%s %s", s.Tool, s.Input)
			}
		}
	}
	assert.Equal(t, map[string]int{tinyworld.ToolCalculator: 400, tinyworld.ToolSearch: 200}, calls)
}

// A scripted model that replays a demonstration's thoughts and calls
// through the tools package's ReAct loop gets the demonstration's
// observations back and answers with its reply.
func TestSkillDemosReplayThroughReAct(t *testing.T) {
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	for _, sk := range []string{tinyworld.SkillCalc, tinyworld.SkillSearchCalc} {
		for _, d := range w.SkillDemos(sk, 20) {
			reg := demoTools(t, w, d)
			i := 0
			model := tools.ModelFunc(func(_ context.Context, _ string) (string, error) {
				s := d.Steps[i]
				i++
				if s.Tool == "" {
					return "Action: answer[" + s.Text + "]", nil
				}
				require.NotEmpty(t, s.Thought)
				return "Thought: " + s.Thought + "\nAction: " + s.Tool + "[" + s.Input + "]", nil
			})
			tr, err := (&tools.ReAct{Model: model, Tools: reg}).Run(context.Background(), d.User())
			require.NoError(t, err)
			require.True(t, tr.Answered)
			assert.Equal(t, d.Reply(), tr.Answer)
			require.Len(t, tr.Steps, len(d.Steps))
			for j, s := range d.Steps[:len(d.Steps)-1] {
				assert.Equal(t, s.Output, tr.Steps[j].Observation, tr.Text)
				assert.Equal(t, s.Thought, tr.Steps[j].Thought)
			}
		}
	}
}

// With retrieval-augmented generation the context turn holds what a
// retriever finds, not only the gold passage: the news chats still fit
// the 96-token chat block with BM25's top 3 passages (the tools' default
// K), as the recipe's tokenizer counts.
func TestNewsChatsFitWithTop3(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a BPE tokenizer")
	}
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	tok, err := tokenizer.TrainBPE(w.PretrainText()+w.SkillPretrainText(0), tokenizer.BPEConfig{VocabSize: 512, PreSplit: tokenizer.PreSplitGPT2})
	require.NoError(t, err)
	var ps []retrieval.Passage
	for i, s := range w.NewsPassages() {
		ps = append(ps, retrieval.Passage{ID: i, Doc: "news", Text: s})
	}
	bm, err := retrieval.NewBM25(ps, 0, 0)
	require.NoError(t, err)
	longest := 0
	for _, p := range append(w.SkillEvalPrompts(tinyworld.SkillNews, 200), w.SkillRLPrompts(tinyworld.SkillNews, 200)...) {
		hits, err := bm.Search(context.Background(), p.User(), 3)
		require.NoError(t, err)
		p.Passages = nil
		for _, h := range hits {
			p.Passages = append(p.Passages, h.Passage.Text)
		}
		ids, _, err := data.RenderChat(tok, tinyworld.Demo{Prompt: p, Steps: w.SkillSteps(p)}.Chat(true))
		require.NoError(t, err)
		longest = max(longest, len(ids))
	}
	t.Logf("news chats with BM25's top 3 passages: at most %d tokens", longest)
	assert.LessOrEqual(t, longest, 96)
}
