package retrieval

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
)

// BM25 defaults, as in Robertson and Zaragoza's "The Probabilistic Relevance Framework".
const (
	DefaultK1 = 1.2
	DefaultB  = 0.75
)

// BM25 is the lexical retriever: Okapi BM25 over the passages' [Terms], with the
// non-negative IDF log(1 + (N − n + 0.5)/(n + 0.5)). It is built once and safe for concurrent
// searches.
type BM25 struct {
	k1, b    float64
	passages []Passage
	tf       []map[string]int // term frequencies per passage
	lens     []float64
	avgLen   float64
	idf      map[string]float64
	terms    []string // the indexed terms, sorted (for prefix matching)
	// prefixMin, when positive, lets a query term of at least that many letters that occurs
	// in no passage match the passage terms it begins (see WithPrefixes).
	prefixMin int
}

var _ Retriever = (*BM25)(nil)

// NewBM25 indexes passages with parameters k1 and b (zero means DefaultK1 and DefaultB; b
// must be in [0, 1]).
func NewBM25(passages []Passage, k1, b float64) (*BM25, error) {
	if k1 == 0 {
		k1 = DefaultK1
	}
	if b == 0 {
		b = DefaultB
	}
	if k1 < 0 || b < 0 || b > 1 || math.IsNaN(k1) || math.IsNaN(b) {
		return nil, fmt.Errorf("retrieval: BM25 parameters k1=%g b=%g: want k1 ≥ 0 and 0 ≤ b ≤ 1", k1, b)
	}
	r := &BM25{k1: k1, b: b, passages: passages, idf: map[string]float64{}}
	df := map[string]int{}
	var total float64
	for _, p := range passages {
		tf := map[string]int{}
		terms := Terms(p.Text)
		for _, t := range terms {
			if tf[t] == 0 {
				df[t]++
			}
			tf[t]++
		}
		r.tf = append(r.tf, tf)
		r.lens = append(r.lens, float64(len(terms)))
		total += float64(len(terms))
	}
	n := float64(len(passages))
	if n > 0 {
		r.avgLen = total / n
	}
	for t, d := range df {
		r.idf[t] = math.Log(1 + (n-float64(d)+0.5)/(float64(d)+0.5))
		r.terms = append(r.terms, t)
	}
	sort.Strings(r.terms)
	return r, nil
}

// WithPrefixes returns a copy of r whose searches let a query term of at least minLen
// letters that occurs in no passage match the passage terms it is the beginning of ("cle"
// finds "cleo"), each passage scored by the best of them: a query whose name was cut short
// or mistyped at its end still finds the passage, as a search engine's prefix queries do.
// Terms found in the passages match only themselves. minLen ≤ 0 turns it off; r is not
// changed.
func (r *BM25) WithPrefixes(minLen int) *BM25 {
	c := *r
	c.prefixMin = max(0, minLen)
	return &c
}

// expand returns the indexed terms that t begins, when prefix matching applies to t.
func (r *BM25) expand(t string) []string {
	if r.prefixMin <= 0 || len([]rune(t)) < r.prefixMin || r.idf[t] > 0 {
		return nil
	}
	var out []string
	for i := sort.SearchStrings(r.terms, t); i < len(r.terms) && strings.HasPrefix(r.terms[i], t); i++ {
		out = append(out, r.terms[i])
	}
	return out
}

// Search returns the k passages with the highest BM25 score for query (each distinct query
// term counted once), best first; passages that share no term with the query are left out.
func (r *BM25) Search(ctx context.Context, query string, k int) ([]Hit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if k <= 0 {
		return nil, fmt.Errorf("retrieval: BM25 search: k must be > 0, got %d", k)
	}
	seen := map[string]bool{}
	var terms []string
	for _, t := range Terms(query) {
		if !seen[t] {
			seen[t] = true
			terms = append(terms, t)
		}
	}
	expanded := make([][]string, len(terms))
	for j, t := range terms {
		expanded[j] = r.expand(t)
	}
	// The k best so far, best first (score, then passage ID, as topK orders hits): a search
	// allocates for its k hits, not for every passage that shares a term.
	best := make([]scoredPassage, 0, min(k, len(r.tf)))
	for i, tf := range r.tf {
		norm := 1 - r.b
		if r.avgLen > 0 {
			norm += r.b * r.lens[i] / r.avgLen
		}
		var s float64
		for j, t := range terms {
			if expanded[j] == nil {
				s += r.termScore(tf, t, norm)
				continue
			}
			var top float64
			for _, e := range expanded[j] {
				top = max(top, r.termScore(tf, e, norm))
			}
			s += top
		}
		if s <= 0 {
			continue
		}
		c := scoredPassage{i: i, score: s}
		if len(best) == k && !r.ranksAbove(c, best[k-1]) {
			continue
		}
		at := sort.Search(len(best), func(j int) bool { return r.ranksAbove(c, best[j]) })
		if len(best) < k {
			best = append(best, scoredPassage{})
		}
		copy(best[at+1:], best[at:len(best)-1])
		best[at] = c
	}
	hits := make([]Hit, len(best))
	for j, c := range best {
		hits[j] = Hit{Passage: r.passages[c.i], Score: c.score}
	}
	return hits, nil
}

// scoredPassage is a passage's index and its score for a query.
type scoredPassage struct {
	i     int
	score float64
}

// ranksAbove orders search results as topK does: higher score first, then lower passage ID.
func (r *BM25) ranksAbove(a, b scoredPassage) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return r.passages[a.i].ID < r.passages[b.i].ID
}

// termScore is term t's BM25 contribution for a passage with term frequencies tf and length
// normalisation norm.
func (r *BM25) termScore(tf map[string]int, t string, norm float64) float64 {
	f := float64(tf[t])
	if f == 0 {
		return 0
	}
	return r.idf[t] * f * (r.k1 + 1) / (f + r.k1*norm)
}
