package retrieval

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// Hit is one retrieved passage with its score (higher is better; scores of different
// retrievers are not comparable).
type Hit struct {
	Passage Passage
	Score   float64
}

// Retriever returns the k passages that best match a query, best first.
type Retriever interface {
	Search(ctx context.Context, query string, k int) ([]Hit, error)
}

// topK sorts hits by descending score, ties by ascending passage ID, and keeps the first k.
func topK(hits []Hit, k int) []Hit {
	slices.SortFunc(hits, func(a, b Hit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.Passage.ID, b.Passage.ID)
	})
	if k < len(hits) {
		hits = hits[:k]
	}
	return hits
}

// Query is a question with the IDs of the passages that answer it, for [Recall].
type Query struct {
	Text     string
	Relevant []int
}

// Recall returns recall@k of r over queries: the fraction of queries for which at least one
// relevant passage is among the top k retrieved (the question can be answered from the
// retrieved context). A query without relevant passages is an error.
func Recall(ctx context.Context, r Retriever, queries []Query, k int) (float64, error) {
	if len(queries) == 0 {
		return 0, fmt.Errorf("retrieval: recall: no queries")
	}
	if k <= 0 {
		return 0, fmt.Errorf("retrieval: recall: k must be > 0, got %d", k)
	}
	found := 0
	for i, q := range queries {
		if len(q.Relevant) == 0 {
			return 0, fmt.Errorf("retrieval: recall: query %d (%q) has no relevant passages", i, q.Text)
		}
		hits, err := r.Search(ctx, q.Text, k)
		if err != nil {
			return 0, fmt.Errorf("retrieval: recall: query %d: %w", i, err)
		}
		for _, h := range hits {
			if slices.Contains(q.Relevant, h.Passage.ID) {
				found++
				break
			}
		}
	}
	return float64(found) / float64(len(queries)), nil
}
