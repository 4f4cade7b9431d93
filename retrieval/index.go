package retrieval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
)

// Match is one vector found by an Index: the ID it was added with and its cosine similarity
// to the query.
type Match struct {
	ID    int
	Score float32
}

// Index stores vectors under integer IDs and finds the nearest ones to a query by cosine
// similarity. A vector database plugs in by implementing it.
type Index interface {
	// Add stores vecs[i] under ids[i]; every vector has the index's dimension.
	Add(ctx context.Context, ids []int, vecs [][]float32) error
	// Search returns the k stored vectors most similar to query, most similar first.
	Search(ctx context.Context, query []float32, k int) ([]Match, error)
	// Len is the number of stored vectors.
	Len() int
}

// FlatIndex is an in-memory exact index: Search compares the query with every stored
// vector. Vectors are normalised when added; the cosine similarity with a zero vector is 0.
// Ties are broken by the order of Add. A FlatIndex is safe for concurrent use.
type FlatIndex struct {
	dim int

	mu   sync.RWMutex
	ids  []int
	vecs []float32 // len(ids)·dim, each row of unit length (or zero)
}

var _ Index = (*FlatIndex)(nil)

// NewFlatIndex returns an empty index of dim-dimensional vectors.
func NewFlatIndex(dim int) (*FlatIndex, error) {
	if dim <= 0 {
		return nil, fmt.Errorf("retrieval: flat index: dimension must be > 0, got %d", dim)
	}
	return &FlatIndex{dim: dim}, nil
}

// Dim is the dimension of the index's vectors.
func (x *FlatIndex) Dim() int { return x.dim }

// Len is the number of stored vectors.
func (x *FlatIndex) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.ids)
}

// Add stores vecs[i] under ids[i]. Nothing is stored when an error is returned: lengths that
// differ, a vector of the wrong dimension, or a NaN or infinite component.
func (x *FlatIndex) Add(ctx context.Context, ids []int, vecs [][]float32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(ids) != len(vecs) {
		return fmt.Errorf("retrieval: flat index: %d ids for %d vectors", len(ids), len(vecs))
	}
	rows := make([]float32, 0, len(vecs)*x.dim)
	for i, v := range vecs {
		if len(v) != x.dim {
			return fmt.Errorf("retrieval: flat index: vector %d has dimension %d, want %d", i, len(v), x.dim)
		}
		n, err := norm(v)
		if err != nil {
			return fmt.Errorf("retrieval: flat index: vector %d: %w", i, err)
		}
		for _, f := range v {
			if n > 0 {
				f = float32(float64(f) / n)
			}
			rows = append(rows, f)
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.ids = append(x.ids, ids...)
	x.vecs = append(x.vecs, rows...)
	return nil
}

var errNotFinite = errors.New("a component is NaN or infinite")

func norm(v []float32) (float64, error) {
	var s float64
	for _, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return 0, errNotFinite
		}
		s += float64(f) * float64(f)
	}
	return math.Sqrt(s), nil
}

// Search returns the k stored vectors with the highest cosine similarity to query, highest
// first (fewer when fewer are stored).
func (x *FlatIndex) Search(ctx context.Context, query []float32, k int) ([]Match, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(query) != x.dim {
		return nil, fmt.Errorf("retrieval: flat index: query has dimension %d, want %d", len(query), x.dim)
	}
	if k <= 0 {
		return nil, fmt.Errorf("retrieval: flat index: k must be > 0, got %d", k)
	}
	qn, err := norm(query)
	if err != nil {
		return nil, fmt.Errorf("retrieval: flat index: query: %w", err)
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	hits := make([]Hit, len(x.ids))
	for i := range x.ids {
		var dot float64
		if qn > 0 {
			for j, f := range x.vecs[i*x.dim : (i+1)*x.dim] {
				dot += float64(f) * float64(query[j])
			}
			dot /= qn
		}
		// Passage.ID carries the insertion order for topK's tie-break.
		hits[i] = Hit{Passage: Passage{ID: i}, Score: dot}
	}
	hits = topK(hits, k)
	out := make([]Match, len(hits))
	for i, h := range hits {
		out[i] = Match{ID: x.ids[h.Passage.ID], Score: float32(h.Score)}
	}
	return out, nil
}
