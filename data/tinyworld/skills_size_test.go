package tinyworld

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tokenizer"
)

// Chat-format overheads assumed by TestSkillTokenLengths: <|bos|>, the user
// turn's role token and <|end|>, <|assistant|> and the closing <|end|>; a
// context passage's role token and <|end|>; a tool call's opening, closing,
// result and end-of-result tokens.
const (
	chatOverhead    = 5
	passageOverhead = 2
	callOverhead    = 4
	chatBlock       = 96
)

// demoTokens is the length in tokens of d rendered as one chat: the
// passages as context turns (unless a search step brings them), the user
// turn, and the steps, tool names, inputs and outputs included.
func demoTokens(t *testing.T, tok tokenizer.Tokenizer, d Demo) int {
	n := chatOverhead
	enc := func(s string) int {
		ids, err := tok.Encode(s)
		require.NoError(t, err)
		return len(ids)
	}
	searched := slices.ContainsFunc(d.Steps, func(s Step) bool { return s.Tool == ToolSearch })
	if !searched {
		for _, p := range d.Passages {
			n += passageOverhead + enc(p)
		}
	}
	n += enc(d.User())
	for _, s := range d.Steps {
		if s.Tool == "" {
			n += enc(s.Text)
			continue
		}
		n += callOverhead + enc(s.Tool+" "+s.Input) + enc(s.Output)
	}
	return n
}

// TestSkillTokenLengths trains the byte-level BPE of the tinychat recipe
// (384 tokens) on the world's pretraining text and the skills' text and
// checks that every demonstration fits the chat block of 96 tokens; with
// -v it logs the lengths per skill.
func TestSkillTokenLengths(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a BPE tokenizer")
	}
	w := New(Config{Seed: 1})
	text := w.PretrainText() + w.SkillPretrainText(0)
	tok, err := tokenizer.TrainBPE(text, tokenizer.BPEConfig{VocabSize: 384})
	require.NoError(t, err)
	ids, err := tok.Encode(w.SkillPretrainText(0))
	require.NoError(t, err)
	orig, err := tok.Encode(w.PretrainText())
	require.NoError(t, err)
	t.Logf("pretraining text: original %d bytes = %d tokens, skills %d bytes = %d tokens (%.2f bytes/token)",
		len(w.PretrainText()), len(orig), len(w.SkillPretrainText(0)), len(ids), float64(len(w.SkillPretrainText(0)))/float64(len(ids)))
	for _, sk := range Skills() {
		var lens []int
		for _, d := range w.SkillDemos(sk, 300) {
			lens = append(lens, demoTokens(t, tok, d))
		}
		for _, p := range w.SkillEvalPrompts(sk, 300) {
			if sk == SkillMultiHop {
				p = WithStepByStep(p)
			}
			d := Demo{Prompt: p, Steps: []Step{{Text: w.SkillCanonical(p)}}}
			if p.Expression != "" {
				d.Steps = append([]Step{{Tool: ToolCalculator, Input: p.Expression, Output: p.Answer}}, d.Steps...)
			}
			lens = append(lens, demoTokens(t, tok, d))
		}
		slices.Sort(lens)
		sum := 0
		for _, l := range lens {
			sum += l
		}
		distinct := make(map[string]bool)
		for _, p := range w.SkillEvalPrompts(sk, 500) {
			distinct[p.User()+strings.Join(p.Passages, " ")] = true
		}
		t.Logf("%-12s tokens per chat: mean %5.1f, median %d, max %d; %d distinct of 500 eval prompts",
			sk, float64(sum)/float64(len(lens)), lens[len(lens)/2], lens[len(lens)-1], len(distinct))
		assert.LessOrEqual(t, lens[len(lens)-1], chatBlock, sk)
	}
}
