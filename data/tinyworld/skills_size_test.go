package tinyworld

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
)

// chatBlock is the tinychat recipe's block size.
const chatBlock = 96

// demoTokens is the length in tokens of d rendered by the chat template,
// its passages as a context turn and its tool calls and results included.
func demoTokens(t *testing.T, tok tokenizer.Tokenizer, d Demo) int {
	ids, _, err := data.RenderChat(tok, d.Chat(true))
	require.NoError(t, err, "%v", d.Chat(true))
	return len(ids)
}

// TestSkillTokenLengths trains the byte-level BPE of the tinychat recipe
// (512 tokens) on the world's pretraining text and the skills' text,
// renders demonstrations and held-out prompts with their canonical turns
// by the chat template (passages as a context turn, tool calls and
// results), and checks that every one fits the chat block of 96 tokens;
// with -v it logs the lengths per skill.
func TestSkillTokenLengths(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a BPE tokenizer")
	}
	w := New(Config{Seed: 1})
	original, skills := w.PretrainText(), w.SkillPretrainText(0)
	tok, err := tokenizer.TrainBPE(original+skills, tokenizer.BPEConfig{VocabSize: 512, PreSplit: tokenizer.PreSplitGPT2})
	require.NoError(t, err)
	ids, err := tok.Encode(skills)
	require.NoError(t, err)
	orig, err := tok.Encode(original)
	require.NoError(t, err)
	t.Logf("pretraining text: original %d bytes = %d tokens, skills %d bytes = %d tokens (%.2f bytes/token)",
		len(original), len(orig), len(skills), len(ids), float64(len(skills))/float64(len(ids)))
	for _, sk := range Skills() {
		var lens []int
		for _, d := range w.SkillDemos(sk, 300) {
			lens = append(lens, demoTokens(t, tok, d))
		}
		for _, p := range w.SkillEvalPrompts(sk, 300) {
			if sk == SkillMultiHop {
				p = WithStepByStep(p)
			}
			lens = append(lens, demoTokens(t, tok, Demo{Prompt: p, Steps: w.SkillSteps(p)}))
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
