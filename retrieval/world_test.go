package retrieval_test

import (
	"context"
	"flag"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tinyworld"
	"github.com/tinychat-go/tinychat/retrieval"
)

// worldNews returns the tiny world's news store as passages and its held-out news and
// search-then-calculate questions with the passages that answer them.
func worldNews(t *testing.T) ([]retrieval.Passage, []retrieval.Query) {
	t.Helper()
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	var ps []retrieval.Passage
	for i, s := range w.NewsPassages() {
		ps = append(ps, retrieval.Passage{ID: i, Doc: "news", Text: s})
	}
	var qs []retrieval.Query
	for _, skill := range []string{tinyworld.SkillNews, tinyworld.SkillSearchCalc} {
		for _, p := range w.SkillEvalPrompts(skill, 100) {
			var rel []int
			for _, want := range p.Passages {
				for _, q := range ps {
					if q.Text == want {
						rel = append(rel, q.ID)
					}
				}
			}
			require.NotEmpty(t, rel, "%q: %v", p.User(), p.Passages)
			qs = append(qs, retrieval.Query{Text: p.User(), Relevant: rel})
		}
	}
	return ps, qs
}

// TestBM25RecallOnTheWorld measures BM25 on the tiny world's news store with the eval
// questions as queries: names are unique, so the right passage is found.
func TestBM25RecallOnTheWorld(t *testing.T) {
	ps, qs := worldNews(t)
	bm, err := retrieval.NewBM25(ps, 0, 0)
	require.NoError(t, err)
	got := map[int]float64{}
	for _, k := range []int{1, 3} {
		r, err := retrieval.Recall(context.Background(), bm, qs, k)
		require.NoError(t, err)
		got[k] = r
	}
	t.Logf("BM25 on the world's news (%d passages, %d questions): recall@1 %.3f, recall@3 %.3f", len(ps), len(qs), got[1], got[3])
	assert.GreaterOrEqual(t, got[3], 0.95)
	assert.True(t, slices.IsSorted([]float64{got[1], got[3]}))
}

// worldPairs returns training pairs from the world's news, search-then-calculate and reading
// demonstrations (never the held-out items; the reading passages are about invented people,
// which teaches matching names never seen): each question, and each search query, with its
// passage.
func worldPairs() []retrieval.Pair {
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	var pairs []retrieval.Pair
	for _, skill := range []string{tinyworld.SkillNews, tinyworld.SkillSearchCalc, tinyworld.SkillReading} {
		for _, d := range w.SkillDemos(skill, 400) {
			for _, p := range d.Passages {
				pairs = append(pairs, retrieval.Pair{Query: d.User(), Passage: p})
			}
			for _, s := range d.Steps {
				if s.Tool == tinyworld.ToolSearch {
					pairs = append(pairs, retrieval.Pair{Query: s.Input, Passage: s.Output})
				}
			}
		}
	}
	return pairs
}

var encoderSeeds = flag.Int("encoder-seeds", 1, "TestEncoderRecallOnTheWorld trains and measures the encoder with seeds 1..N")

// TestEncoderRecallOnTheWorld trains the contrastive encoder on the world's demonstrations
// and measures it on the held-out questions (about news items never in any chat data). With
// -args -encoder-seeds N it also reports seeds 2..N (seed 1 is asserted).
func TestEncoderRecallOnTheWorld(t *testing.T) {
	ctx := context.Background()
	ps, qs := worldNews(t)
	pairs := worldPairs()
	for seed := uint64(1); seed <= uint64(max(*encoderSeeds, 1)); seed++ {
		enc, loss, err := retrieval.TrainEncoder(ctx, pairs, retrieval.EncoderConfig{Seed: seed})
		require.NoError(t, err)
		idx, err := retrieval.NewFlatIndex(enc.Dim())
		require.NoError(t, err)
		v, err := retrieval.NewVectors(ctx, enc, idx, ps)
		require.NoError(t, err)
		got := map[int]float64{}
		for _, k := range []int{1, 3} {
			got[k], err = retrieval.Recall(ctx, v, qs, k)
			require.NoError(t, err)
		}
		t.Logf("encoder seed %d (%d training pairs, final loss %.3f) on the world's news (%d passages, %d held-out questions): recall@1 %.3f, recall@3 %.3f",
			seed, len(pairs), loss, len(ps), len(qs), got[1], got[3])
		if seed == 1 {
			assert.GreaterOrEqual(t, got[3], 0.95)
		}
	}
}
