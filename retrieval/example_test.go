package retrieval_test

import (
	"context"
	"fmt"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/retrieval"
)

func ExampleSplit() {
	docs := []retrieval.Document{{Name: "news", Text: "Anna moved to Ashdale. She works as a baker.\n\nBen has 347 stamps."}}
	for _, p := range retrieval.Split(docs, 30) {
		fmt.Printf("%d %s: %s\n", p.ID, p.Doc, p.Text)
	}
	// Output:
	// 0 news: Anna moved to Ashdale.
	// 1 news: She works as a baker.
	// 2 news: Ben has 347 stamps.
}

func ExampleBM25() {
	ps := retrieval.Split([]retrieval.Document{{Text: "Anna lives in Oakton.\n\nBen lives in Ashdale.\n\nBen has 347 stamps."}}, 0)
	bm, err := retrieval.NewBM25(ps, 0, 0)
	if err != nil {
		panic(err)
	}
	hits, err := bm.Search(context.Background(), "How many stamps does Ben have?", 2)
	if err != nil {
		panic(err)
	}
	for _, h := range hits {
		fmt.Printf("%s %.3f\n", h.Passage.Text, h.Score)
	}
	// Output:
	// Ben has 347 stamps. 1.451
	// Ben lives in Ashdale. 0.470
}

func ExampleBM25_WithPrefixes() {
	ps := retrieval.Split([]retrieval.Document{{Text: "Cole has 162 stamps.\n\nCleo has 337 stamps."}}, 0)
	bm, err := retrieval.NewBM25(ps, 0, 0)
	if err != nil {
		panic(err)
	}
	for _, r := range []*retrieval.BM25{bm, bm.WithPrefixes(3)} {
		hits, err := r.Search(context.Background(), "Cle stamps", 1)
		if err != nil {
			panic(err)
		}
		fmt.Println(hits[0].Passage.Text)
	}
	// Output:
	// Cole has 162 stamps.
	// Cleo has 337 stamps.
}

func ExampleFlatIndex() {
	ctx := context.Background()
	idx, err := retrieval.NewFlatIndex(2)
	if err != nil {
		panic(err)
	}
	if err := idx.Add(ctx, []int{7, 8, 9}, [][]float32{{1, 0}, {1, 1}, {0, 1}}); err != nil {
		panic(err)
	}
	ms, err := idx.Search(ctx, []float32{0.9, 0.1}, 2)
	if err != nil {
		panic(err)
	}
	for _, m := range ms {
		fmt.Printf("%d %.3f\n", m.ID, m.Score)
	}
	// Output:
	// 7 0.994
	// 8 0.781
}

func ExampleVectors() {
	ctx := context.Background()
	tok := tokenizer.NewChar("abcdefghijklmnopqrstuvwxyz .")
	m, err := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: 32, Layers: 1, Heads: 2, Width: 16}, 1)
	if err != nil {
		panic(err)
	}
	emb, err := retrieval.NewPooledEmbedder(m, tok) // an untrained model: only the mechanics
	if err != nil {
		panic(err)
	}
	idx, err := retrieval.NewFlatIndex(emb.Dim())
	if err != nil {
		panic(err)
	}
	ps := retrieval.Split([]retrieval.Document{{Text: "anna bakes bread. ben sails boats."}}, 20)
	v, err := retrieval.NewVectors(ctx, emb, idx, ps)
	if err != nil {
		panic(err)
	}
	hits, err := v.Search(ctx, "ben sails boats.", 1)
	if err != nil {
		panic(err)
	}
	fmt.Println(hits[0].Passage.Text)
	// Output:
	// ben sails boats.
}

func ExampleRecall() {
	ps := retrieval.Split([]retrieval.Document{{Text: "Anna lives in Oakton.\n\nBen lives in Ashdale."}}, 0)
	bm, err := retrieval.NewBM25(ps, 0, 0)
	if err != nil {
		panic(err)
	}
	r, err := retrieval.Recall(context.Background(), bm, []retrieval.Query{
		{Text: "where does Ben live", Relevant: []int{1}},
		{Text: "who lives in Oakton", Relevant: []int{0}},
	}, 1)
	if err != nil {
		panic(err)
	}
	fmt.Println(r)
	// Output:
	// 1
}

func ExampleTrainEncoder() {
	ctx := context.Background()
	var pairs []retrieval.Pair
	for _, p := range []struct{ name, town string }{{"anna", "oakton"}, {"ben", "ashdale"}, {"carl", "hillford"}, {"dora", "oakton"}} {
		passage := p.name + " lives in " + p.town + "."
		pairs = append(pairs, retrieval.Pair{Query: "where does " + p.name + " live", Passage: passage})
		if p.name != "ben" {
			pairs = append(pairs, retrieval.Pair{Query: "in which town does " + p.name + " live", Passage: passage})
		}
	}
	enc, _, err := retrieval.TrainEncoder(ctx, pairs, retrieval.EncoderConfig{Steps: 50, Batch: 4, LR: 0.01, Seed: 1})
	if err != nil {
		panic(err)
	}
	idx, err := retrieval.NewFlatIndex(enc.Dim())
	if err != nil {
		panic(err)
	}
	ps := []retrieval.Passage{{ID: 0, Text: "anna lives in oakton."}, {ID: 1, Text: "ben lives in ashdale."}, {ID: 2, Text: "carl lives in hillford."}}
	v, err := retrieval.NewVectors(ctx, enc, idx, ps)
	if err != nil {
		panic(err)
	}
	hits, err := v.Search(ctx, "in which town does ben live", 1)
	if err != nil {
		panic(err)
	}
	fmt.Println(hits[0].Passage.Text)
	// Output: ben lives in ashdale.
}
