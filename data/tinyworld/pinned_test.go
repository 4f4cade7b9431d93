package tinyworld

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tinychat-go/tinychat/data"
)

// TestOriginalDatasetsPinned pins the original datasets of the default
// world (seed 1) byte for byte: the pretraining text, SFT conversations,
// RL, evaluation and preference data, candidates and judge scores. The new
// skills must not change them (the tinychat pipeline's default run depends
// on them); a deliberate change updates the hash and says so. The hash is
// the one the package gave before the new skills (commit 64ab9fc).
func TestOriginalDatasetsPinned(t *testing.T) {
	w := New(Config{Seed: 1})
	h := sha256.New()
	// The preferences print as data.Ranking did before it had Turns (which they leave nil).
	type rankingBeforeTurns struct {
		Source    string
		Prompt    []data.Message
		Responses []string
	}
	var prefs []rankingBeforeTurns
	for _, r := range w.Preferences(200) {
		assert.Nil(t, r.Turns)
		prefs = append(prefs, rankingBeforeTurns{r.Source, r.Prompt, r.Responses})
	}
	fmt.Fprint(h, w.PretrainText(), w.SFTConversations(1200), prefs, w.Alphabet(), w.People())
	for _, p := range append(w.RLPrompts(600), w.EvalPrompts(500)...) {
		fmt.Fprint(h, p.Messages, p.Kind, p.Person, p.Answer, p.Phrasing)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range w.EvalPrompts(100) {
		fmt.Fprint(h, w.Candidates(p, rng), w.Canonical(p))
		for _, r := range []string{w.Canonical(p), "i do not know.", "whatever", "Anna lives in Oakton. the weather is nice today."} {
			v := w.Judge(p, r, true)
			fmt.Fprint(h, v.Score, v.Correct, v.Polite, v.Concise)
		}
	}
	assert.Equal(t, "2f022a118c2724b5a7d0d5b1346ac5e78497292f549b74a0c16a557778ba85d4", fmt.Sprintf("%x", h.Sum(nil)))
}
