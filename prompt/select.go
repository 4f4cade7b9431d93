package prompt

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"unicode"
)

// Random returns k examples of pool drawn at random without replacement,
// skipping those whose question is the one asked (so that a prompt never
// shows its own answer), in the order drawn. Fewer come back if the pool
// has fewer. The same pool, question, k and seed give the same examples.
func Random(pool []Example, question string, k int, seed uint64) []Example {
	idx := candidates(pool, question)
	rng := rand.New(rand.NewPCG(seed, 0x70726f6d7074)) // "prompt"
	rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	out := make([]Example, 0, min(k, len(idx)))
	for _, i := range idx[:min(k, len(idx))] {
		out = append(out, pool[i])
	}
	return out
}

// candidates returns the indices of the examples whose question is not q.
func candidates(pool []Example, q string) []int {
	idx := make([]int, 0, len(pool))
	for i, e := range pool {
		if e.Question != q {
			idx = append(idx, i)
		}
	}
	return idx
}

// Embedder turns texts into vectors; [Nearest] compares them by cosine
// similarity. It is the retrieval package's Embedder interface, so its
// embedders (the trained encoder, pooled chat-model states) fit;
// [HashEmbedder] is a bag-of-words stand-in.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// ErrEmbed reports an embedder that returned the wrong number of vectors
// or vectors of different lengths.
var ErrEmbed = errors.New("prompt: bad embeddings")

// Nearest returns the k examples of pool whose questions are nearest to
// question by the cosine similarity of their embeddings, most similar
// first (ties keep the pool's order), skipping those whose question is the
// one asked. Put them in a prompt in reverse to have the most similar one
// right before the question.
func Nearest(ctx context.Context, pool []Example, question string, k int, emb Embedder) ([]Example, error) {
	idx := candidates(pool, question)
	texts := make([]string, 0, len(idx)+1)
	texts = append(texts, question)
	for _, i := range idx {
		texts = append(texts, pool[i].Question)
	}
	vs, err := emb.Embed(ctx, texts)
	if err != nil {
		return nil, fmt.Errorf("prompt: embedding %d questions: %w", len(texts), err)
	}
	if len(vs) != len(texts) {
		return nil, fmt.Errorf("%w: %d vectors for %d texts", ErrEmbed, len(vs), len(texts))
	}
	sim := make([]float64, len(idx))
	for j := range idx {
		if len(vs[j+1]) != len(vs[0]) {
			return nil, fmt.Errorf("%w: vector %d has length %d, the question's %d", ErrEmbed, j+1, len(vs[j+1]), len(vs[0]))
		}
		sim[j] = cosine(vs[0], vs[j+1])
	}
	order := make([]int, len(idx))
	for j := range order {
		order[j] = j
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case sim[a] > sim[b]:
			return -1
		case sim[a] < sim[b]:
			return 1
		}
		return 0
	})
	out := make([]Example, 0, min(k, len(order)))
	for _, j := range order[:min(k, len(order))] {
		out = append(out, pool[idx[j]])
	}
	return out, nil
}

// cosine is the cosine similarity of a and b (0 if either is zero).
func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// DefaultHashDim is the vector length of a zero [HashEmbedder].
const DefaultHashDim = 256

// HashEmbedder embeds a text as the counts of its lower-case words hashed
// (FNV-1a) into Dim buckets: similar questions share words, so it is a
// lexical stand-in until a trained embedder plugs in.
type HashEmbedder struct {
	// Dim is the vector length; 0 means DefaultHashDim.
	Dim int
}

// Embed returns one vector per text. It fails only if ctx is done.
func (h HashEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dim := h.Dim
	if dim <= 0 {
		dim = DefaultHashDim
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, dim)
		for _, w := range strings.FieldsFunc(strings.ToLower(t), func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
		}) {
			f := fnv.New32a()
			f.Write([]byte(w))
			v[f.Sum32()%uint32(dim)]++
		}
		out[i] = v
	}
	return out, nil
}
