package tinyeval

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tinyworld"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

// lengthScorer scores a reply by its length, so the proxy is known.
type lengthScorer struct{}

func (lengthScorer) ScoreBatch(_ context.Context, _ [][]data.Message, replies []string) ([]float32, error) {
	out := make([]float32, len(replies))
	for i, r := range replies {
		out[i] = float32(len(r))
	}
	return out, nil
}

// TestGoldProxy checks the hook against the judge and scorer applied by hand to the same
// draws, and that calls on unchanged weights repeat exactly.
func TestGoldProxy(t *testing.T) {
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	tok, err := tokenizer.TrainBPE(w.PretrainText()[:20000], tokenizer.BPEConfig{VocabSize: tokenizer.MinBPEVocabSize + 20})
	require.NoError(t, err)
	m, err := model.New(model.Config{Layers: 1, Heads: 2, Width: 16, BlockSize: 64, VocabSize: tok.VocabSize()}, 3)
	require.NoError(t, err)
	prompts := w.EvalPrompts(6)
	sample := model.SampleConfig{MaxNewTokens: 8, Temperature: 1, Seed: 9}
	eval := GoldProxy(w, prompts, lengthScorer{}, tok, sample)
	got, err := eval(context.Background(), m)
	require.NoError(t, err)

	asst, err := chat.NewAssistant(m, tok, len(prompts))
	require.NoError(t, err)
	msgs := make([][]data.Message, len(prompts))
	for i, p := range prompts {
		msgs[i] = p.Messages
	}
	replies, err := asst.Replies(context.Background(), msgs, sample)
	require.NoError(t, err)
	var gold, proxy float64
	for i, r := range replies {
		gold += w.Judge(prompts[i], r.Text, r.Ended).Score
		proxy += float64(len(r.Text))
	}
	assert.InDelta(t, gold/6, got["gold"], 1e-9)
	assert.InDelta(t, proxy/6, got["proxy"], 1e-9)
	assert.Greater(t, got["proxy"], 0.0, "an untrained model writes something")

	again, err := eval(context.Background(), m)
	require.NoError(t, err)
	assert.Equal(t, got, again)

	_, err = GoldProxy(w, nil, lengthScorer{}, tok, sample)(context.Background(), m)
	assert.ErrorContains(t, err, "no prompts")
}
