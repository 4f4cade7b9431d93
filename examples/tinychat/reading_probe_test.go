package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tinyworld"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/prompt"
)

// TestBaseModelReads measures whether a run's pretrained model reads: 100 held-out reading and
// news questions, each after its passages in the pretraining text's form ("news: … question: …
// answer:"), greedy, judged by the gold judge of the run's world (the seed in its report.json).
// It fails below 0.5 correct on either: the default plan's pretraining gets 0.72 and 0.75, and
// a model that only memorises gets about 0.05 (docs/tinyworld-skills.md). It runs only with
// TINYCHAT_RUN set to a run folder with the skills, relative to the repository's root:
//
//	TINYCHAT_RUN=runs/tinychat go test -run BaseModelReads -v ./examples/tinychat
func TestBaseModelReads(t *testing.T) {
	dir, pl := probedRun(t, "its pretrained model's reading")
	ck, err := model.LoadStage(filepath.Join(dir, "pretrain.safetensors"), model.StagePretrain)
	require.NoError(t, err)
	eng, err := model.NewEngine(ck.Model, 1)
	require.NoError(t, err)
	w := newWorld(pl.Seed)
	for _, skill := range []string{tinyworld.SkillReading, tinyworld.SkillNews} {
		var correct float64
		ps := w.SkillEvalPrompts(skill, 100)
		for i, p := range ps {
			text := "news: " + strings.Join(p.Passages, " news: ") + " question: " + p.User() + " answer:"
			enc, err := ck.Tokenizer.Encode(text)
			require.NoError(t, err)
			out, err := eng.Generate(context.Background(), append([]int32{tokenizer.BOS}, enc...), model.SampleConfig{MaxNewTokens: 24})
			require.NoError(t, err)
			toks := out[0].Tokens
			for j, id := range toks {
				if tokenizer.IsSpecial(ck.Tokenizer, id) {
					toks = toks[:j]
					break
				}
			}
			cont, err := ck.Tokenizer.Decode(toks)
			require.NoError(t, err)
			answer, stopped := prompt.CutText(cont, prompt.DefaultTextFormat)
			correct += b2f(w.Judge(p, answer, stopped).Correct)
			if i < 2 {
				t.Logf("%s → %s", text, answer)
			}
		}
		t.Logf("base model, %s questions after their passages: correct %.2f of %d", skill, correct/float64(len(ps)), len(ps))
		require.GreaterOrEqual(t, correct/float64(len(ps)), 0.5, "the pretrained model does not read its context (%s)", skill)
	}
}

// probedRun returns the run folder TINYCHAT_RUN names (relative to the repository's root) and
// the plan its report.json records, or skips the test, saying what it would probe.
func probedRun(t *testing.T, what string) (string, plan) {
	t.Helper()
	dir := os.Getenv("TINYCHAT_RUN")
	if dir == "" {
		t.Skip("skipped: set TINYCHAT_RUN to a run folder to probe " + what)
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", "..", dir) // relative to the repository's root, not this package
	}
	var report struct {
		Plan plan `json:"plan"`
	}
	js, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err, "the run's report.json holds its plan")
	require.NoError(t, json.Unmarshal(js, &report))
	return dir, report.Plan
}
