package retrieval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

func texts(ps []Passage) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Text)
	}
	return out
}

func TestSplit(t *testing.T) {
	docs := []Document{
		{Name: "a", Text: "Anna lives in Oakton.  She likes red.\n\n\nBen moved to Ashdale. He is a baker!\nCarl?"},
		{Name: "b", Text: "   \n\n"},
		{Name: "c", Text: "one two three four five six seven eight nine ten. x"},
	}
	ps := Split(docs, 30)
	assert.Equal(t, []string{
		"Anna lives in Oakton.", "She likes red.",
		"Ben moved to Ashdale.", "He is a baker! Carl?",
		"one two three four five six", "seven eight nine ten. x",
	}, texts(ps))
	for i, p := range ps {
		assert.Equal(t, i, p.ID)
		assert.LessOrEqual(t, len(p.Text), 30)
	}
	assert.Equal(t, []string{"a", "a", "a", "a", "c", "c"}, []string{ps[0].Doc, ps[1].Doc, ps[2].Doc, ps[3].Doc, ps[4].Doc, ps[5].Doc})

	// Packing: short sentences share a passage; the default max keeps a paragraph whole.
	assert.Equal(t, []string{"A b. C d. E f.", "G."}, texts(Split([]Document{{Text: "A b. C d. E f.\n\nG."}}, 0)))
	assert.Equal(t, []string{"A b. C d.", "E f."}, texts(Split([]Document{{Text: "A b. C d. E f."}}, 10)))
	// A word longer than max is cut at character boundaries.
	assert.Equal(t, []string{"abcd", "efgh", "ij"}, texts(Split([]Document{{Text: "abcdefghij"}}, 4)))
	assert.Equal(t, []string{"éé", "éé", "é"}, texts(Split([]Document{{Text: "ééééé"}}, 5)))
	assert.Empty(t, Split(nil, 10))
}

func TestTerms(t *testing.T) {
	assert.Equal(t, []string{"anna", "has", "347", "stamps", "où", "est", "ben"}, Terms("Anna has 347 stamps! Où est-Ben?"))
	assert.Empty(t, Terms(" ,. "))
}

var world = []Passage{
	{ID: 0, Text: "Anna lives in Oakton and works as a baker."},
	{ID: 1, Text: "Ben lives in Ashdale."},
	{ID: 2, Text: "Carl moved to Oakton last year. Carl likes green."},
	{ID: 3, Text: "The weather in Ashdale is mild."},
	{ID: 4, Text: "Dora has 347 stamps."},
}

func TestBM25ExactTopK(t *testing.T) {
	r, err := NewBM25(world, 0, 0)
	require.NoError(t, err)
	ctx := context.Background()
	ids := func(hits []Hit) []int {
		var out []int
		for _, h := range hits {
			out = append(out, h.Passage.ID)
		}
		return out
	}
	hits, err := r.Search(ctx, "Where does Carl live?", 3)
	require.NoError(t, err)
	assert.Equal(t, []int{2}, ids(hits), "only passage 2 shares a term (carl)")
	hits, err = r.Search(ctx, "who lives in oakton", 5)
	require.NoError(t, err)
	// "in" is in 0, 1, 3; "lives" in 0, 1; "oakton" in 0, 2: passage 0 has all three.
	assert.Equal(t, []int{0, 1, 2, 3}, ids(hits))
	hits, err = r.Search(ctx, "who lives in oakton", 1)
	require.NoError(t, err)
	assert.Equal(t, []int{0}, ids(hits))
	hits, err = r.Search(ctx, "stamps stamps STAMPS", 2)
	require.NoError(t, err)
	require.Len(t, hits, 1)
	assert.Equal(t, 4, hits[0].Passage.ID)
	// A single matching term, counted once: idf · (k1+1) · f / (f + k1 · (1 − b + b · len/avg)).
	n, df, length, avg := 5.0, 1.0, 4.0, (9.0+4+9+6+4)/5
	idf := math.Log(1 + (n-df+0.5)/(df+0.5))
	want := idf * 2.2 / (1 + 1.2*(0.25+0.75*length/avg))
	assert.InDelta(t, want, hits[0].Score, 1e-12)

	hits, err = r.Search(ctx, "zebra", 3)
	require.NoError(t, err)
	assert.Empty(t, hits)
	_, err = r.Search(ctx, "anna", 0)
	assert.ErrorContains(t, err, "k must be > 0")
	_, err = NewBM25(world, 1, 2)
	assert.ErrorContains(t, err, "want k1 ≥ 0 and 0 ≤ b ≤ 1")

	// Ties go to the earlier passage.
	tie, err := NewBM25([]Passage{{ID: 7, Text: "x y"}, {ID: 3, Text: "y x"}}, 0, 0)
	require.NoError(t, err)
	hits, err = tie.Search(ctx, "x", 2)
	require.NoError(t, err)
	assert.Equal(t, []int{3, 7}, ids(hits), "equal scores: ordered by passage ID")
}

func TestFlatIndexExactTopK(t *testing.T) {
	ctx := context.Background()
	x, err := NewFlatIndex(2)
	require.NoError(t, err)
	// Unit vectors at 0°, 30°, 60°, 90°, 180°, and a scaled copy of 30°.
	deg := func(d float64) []float32 {
		r := d * math.Pi / 180
		return []float32{float32(math.Cos(r)), float32(math.Sin(r))}
	}
	require.NoError(t, x.Add(ctx, []int{10, 11, 12, 13, 14}, [][]float32{deg(0), deg(30), deg(60), deg(90), deg(180)}))
	require.NoError(t, x.Add(ctx, []int{21}, [][]float32{{5 * deg(30)[0], 5 * deg(30)[1]}}))
	assert.Equal(t, 6, x.Len())
	ms, err := x.Search(ctx, deg(50), 4)
	require.NoError(t, err)
	require.Len(t, ms, 4)
	assert.Equal(t, []int{12, 11, 21, 13}, []int{ms[0].ID, ms[1].ID, ms[2].ID, ms[3].ID})
	assert.InDelta(t, math.Cos(10*math.Pi/180), ms[0].Score, 1e-6)
	assert.InDelta(t, math.Cos(20*math.Pi/180), ms[1].Score, 1e-6)
	assert.InDelta(t, math.Cos(20*math.Pi/180), ms[2].Score, 1e-6)
	assert.InDelta(t, math.Cos(40*math.Pi/180), ms[3].Score, 1e-6)
	// The query's length does not matter; k larger than the index returns everything.
	ms, err = x.Search(ctx, []float32{-3, 0}, 10)
	require.NoError(t, err)
	require.Len(t, ms, 6)
	assert.Equal(t, 14, ms[0].ID)
	assert.InDelta(t, 1, ms[0].Score, 1e-6)
	assert.Equal(t, 10, ms[5].ID)
	assert.InDelta(t, -1, ms[5].Score, 1e-6)
	// A zero query scores 0 everywhere: insertion order.
	ms, err = x.Search(ctx, []float32{0, 0}, 2)
	require.NoError(t, err)
	assert.Equal(t, []Match{{10, 0}, {11, 0}}, ms)

	assert.ErrorContains(t, x.Add(ctx, []int{1}, [][]float32{{1, 2, 3}}), "vector 0 has dimension 3, want 2")
	assert.ErrorContains(t, x.Add(ctx, []int{1, 2}, [][]float32{{1, 2}}), "2 ids for 1 vectors")
	assert.ErrorContains(t, x.Add(ctx, []int{1, 2}, [][]float32{{1, 2}, {float32(math.NaN()), 0}}), "vector 1: a component is NaN or infinite")
	assert.Equal(t, 6, x.Len(), "failed adds store nothing")
	_, err = x.Search(ctx, []float32{1}, 1)
	assert.ErrorContains(t, err, "query has dimension 1, want 2")
	_, err = x.Search(ctx, []float32{1, 0}, 0)
	assert.ErrorContains(t, err, "k must be > 0")
	_, err = NewFlatIndex(0)
	assert.Error(t, err)
}

// bagEmbedder embeds a text as counts of a fixed word list: a deterministic stand-in for a
// learned embedder.
type bagEmbedder []string

func (b bagEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, s := range texts {
		v := make([]float32, len(b))
		for _, t := range Terms(s) {
			for j, w := range b {
				if t == w {
					v[j]++
				}
			}
		}
		out[i] = v
	}
	return out, nil
}

func TestVectorsAndRecall(t *testing.T) {
	ctx := context.Background()
	emb := bagEmbedder{"anna", "ben", "carl", "dora", "oakton", "ashdale"}
	idx, err := NewFlatIndex(len(emb))
	require.NoError(t, err)
	v, err := NewVectors(ctx, emb, idx, world)
	require.NoError(t, err)
	hits, err := v.Search(ctx, "Carl in Oakton", 2)
	require.NoError(t, err)
	require.Len(t, hits, 2)
	// Passage 2 is (carl 2, oakton 1): cos = 3/(√2·√5); passage 0 is (anna, oakton): 1/(√2·√2).
	assert.Equal(t, 2, hits[0].Passage.ID)
	assert.InDelta(t, 3/math.Sqrt(10), hits[0].Score, 1e-6)
	assert.Equal(t, 0, hits[1].Passage.ID)
	assert.InDelta(t, 0.5, hits[1].Score, 1e-6)
	assert.Equal(t, world[2], hits[0].Passage)

	queries := []Query{
		{Text: "where does anna live", Relevant: []int{0}},
		{Text: "ben", Relevant: []int{1}},
		{Text: "weather in ashdale", Relevant: []int{3}},
		{Text: "how many stamps", Relevant: []int{4}},
	}
	bm, err := NewBM25(world, 0, 0)
	require.NoError(t, err)
	r, err := Recall(ctx, bm, queries, 1)
	require.NoError(t, err)
	assert.Equal(t, 1.0, r)
	// The bag of names cannot find stamps (the query's vector is zero, every score 0, so the
	// first passages in insertion order come back) until k reaches passage 4.
	for k, want := range map[int]float64{1: 0.75, 4: 0.75, 5: 1} {
		r, err = Recall(ctx, v, queries, k)
		require.NoError(t, err)
		assert.Equal(t, want, r, "recall@%d", k)
	}

	_, err = Recall(ctx, v, []Query{{Text: "x"}}, 1)
	assert.ErrorContains(t, err, `query 0 ("x") has no relevant passages`)
	_, err = Recall(ctx, v, nil, 1)
	assert.Error(t, err)
	_, err = NewVectors(ctx, emb, idx, []Passage{{ID: 1}, {ID: 1}})
	assert.ErrorContains(t, err, "two passages have ID 1")
	_, err = NewVectors(ctx, failEmbedder{}, idx, world)
	assert.ErrorContains(t, err, "embedding passages: no model")
}

type failEmbedder struct{}

func (failEmbedder) Embed(context.Context, []string) ([][]float32, error) {
	return nil, errors.New("no model")
}

func TestPooledEmbedder(t *testing.T) {
	tok := tokenizer.NewChar("abcdefghijklmnopqrstuvwxyz .")
	m, err := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: 16, Layers: 1, Heads: 2, Width: 8}, 3)
	require.NoError(t, err)
	emb, err := NewPooledEmbedder(m, tok)
	require.NoError(t, err)
	assert.Equal(t, 8, emb.Dim())
	ctx := context.Background()
	long := strings.Repeat("abc ", 10)
	vecs, err := emb.Embed(ctx, []string{"anna lives here.", "", "anna lives here.", long})
	require.NoError(t, err)
	require.Len(t, vecs, 4)
	assert.Equal(t, vecs[0], vecs[2], "deterministic")

	// The vector is the mean of the engine's hidden states after <|bos|> and the text.
	eng, err := model.NewEngine(m, 1)
	require.NoError(t, err)
	mean := func(text string, cut int) []float32 {
		ids, err := tok.Encode(text)
		require.NoError(t, err)
		seq := []int32{tokenizer.BOS}
		for _, id := range ids[:min(len(ids), cut)] {
			seq = append(seq, int32(id))
		}
		eng.Reset()
		_, err = eng.Prefill(0, seq)
		require.NoError(t, err)
		want := make([]float32, 8)
		first := 1
		if len(seq) == 1 {
			first = 0
		}
		for p := first; p < len(seq); p++ {
			h, err := eng.HiddenAt(0, p)
			require.NoError(t, err)
			for j := range want {
				want[j] += h[j] / float32(len(seq)-first)
			}
		}
		return want
	}
	assert.InDeltaSlice(t, mean("anna lives here.", 15), vecs[0], 1e-5)
	assert.InDeltaSlice(t, mean("", 15), vecs[1], 1e-5)
	assert.InDeltaSlice(t, mean(long, 15), vecs[3], 1e-5, "cut to BlockSize-1 tokens")

	_, err = emb.Embed(ctx, []string{"ANNA"})
	assert.ErrorIs(t, err, tokenizer.ErrUnknownChar)

	// As a retriever over the passages, a passage's own text finds it first.
	idx, err := NewFlatIndex(emb.Dim())
	require.NoError(t, err)
	ps := Split([]Document{{Text: "anna bakes bread. ben sails boats. carl reads books. dora draws maps."}}, 18)
	require.Len(t, ps, 4)
	v, err := NewVectors(ctx, emb, idx, ps)
	require.NoError(t, err)
	for _, p := range ps {
		hits, err := v.Search(ctx, p.Text, 1)
		require.NoError(t, err)
		assert.Equal(t, p.ID, hits[0].Passage.ID)
		assert.InDelta(t, 1, hits[0].Score, 1e-5)
	}

	other := tokenizer.NewChar("ab")
	_, err = NewPooledEmbedder(m, other)
	assert.ErrorContains(t, err, "the tokenizer has")
}

// TestBM25Prefixes: with prefix matching, a query term found in no passage scores each passage
// as its best completion would (exactly the full term's score); terms found in the passages,
// and terms shorter than the minimum, match only themselves; the original retriever is
// unchanged.
func TestBM25Prefixes(t *testing.T) {
	ps := []Passage{{ID: 1, Text: "Cole has 162 stamps."}, {ID: 2, Text: "Cleo has 337 stamps."}, {ID: 3, Text: "Clement likes red. Clement has cats."}}
	bm, err := NewBM25(ps, 0, 0)
	require.NoError(t, err)
	pre := bm.WithPrefixes(3)
	ctx := context.Background()
	search := func(r *BM25, q string) []Hit {
		hits, err := r.Search(ctx, q, 3)
		require.NoError(t, err)
		return hits
	}
	full := search(bm, "cleo stamps")
	require.Equal(t, full, search(pre, "cleo stamps"), "a term in the passages matches only itself")
	got := search(pre, "cle stamps")
	require.Equal(t, 2, got[0].Passage.ID)
	require.InDelta(t, full[0].Score, got[0].Score, 1e-12, "the best completion's score")
	// "cle" begins cleo and clement: each passage gets its best one.
	require.Len(t, search(pre, "cle"), 2)
	require.Equal(t, []int{3, 2}, []int{search(pre, "clem")[0].Passage.ID, search(pre, "cleo")[0].Passage.ID})
	// Shorter than the minimum, or without prefix matching: no match.
	require.Empty(t, search(pre, "cl"))
	require.Empty(t, search(bm, "cle"))
	require.Empty(t, search(bm.WithPrefixes(5), "clem"))
	require.Len(t, search(bm.WithPrefixes(4), "clem"), 1)
}

// bm25Reference scores every passage as the BM25 formula says and sorts them all (topK): what
// Search's running selection of the k best must equal.
func bm25Reference(r *BM25, query string, k int) []Hit {
	var terms []string
	seen := map[string]bool{}
	for _, t := range Terms(query) {
		if !seen[t] {
			seen[t] = true
			terms = append(terms, t)
		}
	}
	var hits []Hit
	for i, tf := range r.tf {
		norm := 1 - r.b + r.b*r.lens[i]/r.avgLen
		var s float64
		for _, t := range terms {
			cands := r.expand(t)
			if cands == nil {
				cands = []string{t}
			}
			var top float64
			for _, e := range cands {
				if f := float64(tf[e]); f > 0 {
					top = max(top, r.idf[e]*f*(r.k1+1)/(f+r.k1*norm))
				}
			}
			s += top
		}
		if s > 0 {
			hits = append(hits, Hit{Passage: r.passages[i], Score: s})
		}
	}
	return topK(hits, k)
}

func TestBM25SearchMatchesFullSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	words := []string{"anna", "ben", "cleo", "cole", "stamps", "has", "lives", "in", "oakton", "riverby", "red", "blue", "baker", "the", "of"}
	var ps []Passage
	for i := range 300 {
		n := 2 + rng.IntN(8)
		var b strings.Builder
		for range n {
			b.WriteString(words[rng.IntN(len(words))] + " ")
		}
		ps = append(ps, Passage{ID: 1000 - i, Text: b.String()}) // IDs not in index order
	}
	r, err := NewBM25(ps, 0, 0)
	require.NoError(t, err)
	for _, idx := range []*BM25{r, r.WithPrefixes(3)} {
		for q := range 200 {
			w := words[rng.IntN(len(words))]
			query := words[rng.IntN(len(words))] + " " + w[:min(len(w), 3+rng.IntN(2))] // prefixes too
			for _, k := range []int{1, 3, 10, 400} {
				got, err := idx.Search(context.Background(), query, k)
				require.NoError(t, err)
				want := bm25Reference(idx, query, k)
				require.Equal(t, len(want), len(got), "query %d %q k=%d", q, query, k)
				for j := range want {
					require.Equal(t, want[j].Passage.ID, got[j].Passage.ID, "query %q k=%d rank %d", query, k, j)
					require.Equal(t, want[j].Score, got[j].Score)
				}
			}
		}
	}
}

// A search allocates for its hits, not for every passage that matches (the RL stage's search
// ran thousands of times: allocating per matching passage made most of its garbage).
func TestBM25SearchAllocations(t *testing.T) {
	var ps []Passage
	for i := range 500 {
		ps = append(ps, Passage{ID: i, Text: fmt.Sprintf("person%d has %d stamps.", i, 100+i)})
	}
	r, err := NewBM25(ps, 0, 0)
	require.NoError(t, err)
	r = r.WithPrefixes(3)
	ctx := context.Background()
	search := func() {
		if _, err := r.Search(ctx, "person42 stamps", 1); err != nil {
			t.Fatal(err)
		}
	}
	search()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 20
	for range runs {
		search()
	}
	runtime.ReadMemStats(&after)
	perSearch := float64(after.TotalAlloc-before.TotalAlloc) / runs
	t.Logf("%.0f bytes allocated per search of 500 passages", perSearch)
	require.Less(t, perSearch, 4096.0, "every passage matches \"stamps\": a search must not allocate per passage")
}
