package prompt

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tinyworld"
	"github.com/tinychat-go/tinychat/retrieval"
)

// The builders and the parser agree with the tiny world: its trigger, its
// corpus's question form and its step-by-step replies.
func TestTinyworldAgreement(t *testing.T) {
	assert.Equal(t, tinyworld.StepTrigger, StepTrigger)
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	step := 0
	for _, d := range w.SkillDemos(tinyworld.SkillMultiHop, 40) {
		p := Parse(d.Reply())
		v := w.Judge(d.Prompt, d.Reply(), true)
		if !d.StepByStep {
			assert.Empty(t, p.Reasoning, d.Reply())
			continue
		}
		step++
		assert.Equal(t, d.Reasoning, p.Steps, d.Reply())
		assert.Equal(t, v.Reasoning, p.Reasoning)
		assert.True(t, strings.HasPrefix(p.Answer, "so "), p.Answer)
		// A chain-of-thought example built from the demo writes it back.
		q := strings.TrimSuffix(d.User(), " "+StepTrigger)
		assert.Equal(t, d.Reply(), FromReply(q, d.Reply()).Reply(true))
	}
	assert.Equal(t, 20, step)

	// A base-model prompt from the world's RL prompts has the corpus's
	// form: every example line occurs in the pretraining text's form.
	var pool []Example
	for _, p := range w.RLPrompts(50) {
		if p.Kind != tinyworld.KindGreet && p.Kind != tinyworld.KindThanks {
			pool = append(pool, Example{Question: p.User(), Answer: w.TextAnswer(p)})
		}
	}
	ev := w.EvalPrompts(1)[0]
	txt := Text(Random(pool, ev.User(), 4, 1), ev.User(), Options{})
	lines := strings.Split(txt, "\n")
	require.Len(t, lines, 5)
	corpus := w.PretrainText()
	for _, l := range lines[:4] {
		assert.Regexp(t, `^question: .*\? answer: .*\.$`, l)
	}
	assert.Contains(t, corpus, "question: "+ev.User()+" answer:")
	assert.Equal(t, "question: "+ev.User()+" answer:", lines[4])
}

// retrieval's embedders plug into Nearest.
var _ Embedder = (*retrieval.PooledEmbedder)(nil)
var _ Embedder = (*retrieval.Encoder)(nil)
