package reward_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/reward"
)

// rankings: the reply that repeats the asked word beats one that says another word.
func rankings(words, all []string, seed uint64) []data.Ranking {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]data.Ranking, len(words))
	for i, w := range words {
		other := all[rng.IntN(len(all))]
		for other == w {
			other = all[rng.IntN(len(all))]
		}
		out[i] = data.Ranking{Source: fmt.Sprint("pairs:", i), Prompt: testutil.RepeatPrompt(w), Responses: []string{w, other}}
	}
	return out
}

// TestRewardLearnsRule trains a reward model on pairs where repeating the asked word beats
// saying another word; held-out pairs (new words) must be ranked right ≥ 90% of the time.
func TestRewardLearnsRule(t *testing.T) {
	words := testutil.Words(400, 2)
	sftPath := testutil.FineTuned(t, words[:340], 100)
	out := filepath.Join(t.TempDir(), "reward.safetensors")
	trainSet := append(rankings(words[:340], words, 3), rankings(words[:340], words, 4)...)
	cfg := reward.DefaultConfig()
	cfg.Steps, cfg.LR, cfg.Seed, cfg.Out = 600, 1e-3, 1, out
	res, err := reward.TrainFile(context.Background(), cfg, sftPath, reward.Data{
		Train: trainSet, Val: rankings(words[340:], words, 5),
		Normalize: testutil.RepeatConversations(words[:50]),
	})
	require.NoError(t, err)
	t.Logf("metrics: %v", res.Metrics)
	require.GreaterOrEqual(t, res.Metrics["val_accuracy"], 0.9)

	s, err := reward.Load(out)
	require.NoError(t, err)
	// After the bias shift the SFT replies' mean reward is ~0.
	var sum float64
	for _, w := range words[:50] {
		r, err := s.Score(testutil.RepeatPrompt(w), w)
		require.NoError(t, err)
		sum += float64(r)
	}
	require.InDelta(t, 0, sum/50, 1e-3)
	require.NotZero(t, s.Std)
	good, err := s.Score(testutil.RepeatPrompt(words[350]), words[350])
	require.NoError(t, err)
	bad, err := s.Score(testutil.RepeatPrompt(words[350]), words[3])
	require.NoError(t, err)
	t.Logf("good %.3f bad %.3f", good, bad)

	// Wrong stage.
	_, err = reward.Load(sftPath)
	require.ErrorContains(t, err, "this needs a reward checkpoint")
	cfg.Out = filepath.Join(t.TempDir(), "r.safetensors")
	_, err = reward.TrainFile(context.Background(), cfg, out, reward.Data{Train: trainSet})
	require.ErrorContains(t, err, "this needs a sft checkpoint")
}

// TestScoreReadsEndPosition: the score is the scalar head at the reply's <|end|> token, the
// same whatever the amount of padding after it and the row it lands in.
func TestScoreReadsEndPosition(t *testing.T) {
	tok, err := tokenizer.NewCharFromAlphabet([]rune(testutil.Alphabet))
	require.NoError(t, err)
	cfg := testutil.TinyConfig()
	cfg.VocabSize = tok.VocabSize()
	chat, err := model.New(cfg, 3)
	require.NoError(t, err)
	m, err := reward.NewModel(chat, 4)
	require.NoError(t, err)
	for i := range m.Param("score.weight").Data {
		m.Param("score.weight").Data[i] = float32(math.Sin(float64(i)))
	}
	prompt, reply := testutil.RepeatPrompt("kibo"), "kibo"
	ids, _, err := data.RenderChat(tok, append(prompt, data.Message{Role: data.RoleAssistant, Content: reply}))
	require.NoError(t, err)
	require.Equal(t, int32(tokenizer.End), ids[len(ids)-1])

	// Reference: the Values graph's output at the <|end|> position of an unpadded row.
	g, err := m.NewGraph(model.GraphConfig{Batch: 1, Block: len(ids), Objective: model.Values})
	require.NoError(t, err)
	copy(g.Tokens, ids)
	require.NoError(t, g.Run())
	want := g.Output[len(ids)-1]

	for _, block := range []int{len(ids), len(ids) + 7, cfg.BlockSize} {
		s, err := reward.NewScorer(m, tok, 3, block)
		require.NoError(t, err)
		got, err := s.ScoreBatch(context.Background(),
			[][]data.Message{testutil.RepeatPrompt("zz"), prompt, prompt}, []string{"a", "b", reply})
		require.NoError(t, err)
		require.InDelta(t, want, got[2], 1e-5, "block %d", block)
		seqScores, err := s.ScoreTokens(context.Background(), [][]int32{ids})
		require.NoError(t, err)
		require.InDelta(t, want, seqScores[0], 1e-5)
	}
}
