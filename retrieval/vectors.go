package retrieval

import (
	"context"
	"fmt"
)

// Embedder turns texts into vectors of one dimension, similar texts into similar vectors.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Vectors is the embedding retriever: passages embedded into an Index, and a query embedded
// the same way and looked up there.
type Vectors struct {
	emb      Embedder
	idx      Index
	passages map[int]Passage
}

var _ Retriever = (*Vectors)(nil)

// NewVectors embeds passages with emb and adds them to idx under their IDs (idx should be
// empty; a FlatIndex of the embedder's dimension will do).
func NewVectors(ctx context.Context, emb Embedder, idx Index, passages []Passage) (*Vectors, error) {
	if emb == nil || idx == nil {
		return nil, fmt.Errorf("retrieval: vectors: nil embedder or index")
	}
	v := &Vectors{emb: emb, idx: idx, passages: make(map[int]Passage, len(passages))}
	texts := make([]string, len(passages))
	ids := make([]int, len(passages))
	for i, p := range passages {
		if _, dup := v.passages[p.ID]; dup {
			return nil, fmt.Errorf("retrieval: vectors: two passages have ID %d", p.ID)
		}
		v.passages[p.ID] = p
		texts[i], ids[i] = p.Text, p.ID
	}
	if len(passages) == 0 {
		return v, nil
	}
	vecs, err := emb.Embed(ctx, texts)
	if err != nil {
		return nil, fmt.Errorf("retrieval: embedding passages: %w", err)
	}
	if len(vecs) != len(texts) {
		return nil, fmt.Errorf("retrieval: the embedder returned %d vectors for %d passages", len(vecs), len(texts))
	}
	if err := idx.Add(ctx, ids, vecs); err != nil {
		return nil, fmt.Errorf("retrieval: indexing passages: %w", err)
	}
	return v, nil
}

// Search embeds query and returns the k passages nearest to it, best first, scored by the
// index (cosine similarity for a FlatIndex).
func (v *Vectors) Search(ctx context.Context, query string, k int) ([]Hit, error) {
	vecs, err := v.emb.Embed(ctx, []string{query})
	if err != nil {
		return nil, fmt.Errorf("retrieval: embedding the query: %w", err)
	}
	if len(vecs) != 1 {
		return nil, fmt.Errorf("retrieval: the embedder returned %d vectors for one query", len(vecs))
	}
	ms, err := v.idx.Search(ctx, vecs[0], k)
	if err != nil {
		return nil, fmt.Errorf("retrieval: %w", err)
	}
	hits := make([]Hit, 0, len(ms))
	for _, m := range ms {
		p, ok := v.passages[m.ID]
		if !ok {
			return nil, fmt.Errorf("retrieval: the index returned ID %d, which is no passage", m.ID)
		}
		hits = append(hits, Hit{Passage: p, Score: float64(m.Score)})
	}
	return hits, nil
}
