package retrieval

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var gradPairs = []Pair{
	{"where does anna live", "anna lives in oakton."},
	{"what job does ben have", "ben is a baker."},
	{"how many stamps has carl", "carl has 347 stamps."},
}

// TestEncoderGradient checks the analytic gradient of the batch loss against central
// differences, for the projection and for the embedding rows the batch uses.
func TestEncoderGradient(t *testing.T) {
	cfg := EncoderConfig{Dim: 5, Width: 4, Buckets: 64, Seed: 3}.withDefaults()
	e := newEncoder(cfg)
	e.setWeights(gradPairs[:2]) // unequal weights, some features unseen (weight 1)
	gEmb := map[int][]float64{}
	gProj := make([]float64, len(e.proj))
	e.batchLoss(gradPairs, 0.5, gEmb, gProj)
	lossAt := func() float64 { return e.batchLoss(gradPairs, 0.5, nil, nil) }
	check := func(p []float32, i int, want float64, what string) {
		const h = 1e-2
		old := p[i]
		p[i] = old + h
		up := lossAt()
		p[i] = old - h
		down := lossAt()
		p[i] = old
		num := (up - down) / (2 * h)
		assert.InDelta(t, num, want, 2e-3+2e-2*math.Abs(num), "%s %d", what, i)
	}
	for i := range e.proj {
		check(e.proj, i, gProj[i], "proj")
	}
	require.NotEmpty(t, gEmb)
	n := 0
	for row, g := range gEmb {
		for j := range e.width {
			check(e.emb, row*e.width+j, g[j], "emb")
		}
		if n++; n == 6 {
			break
		}
	}
	// A row no text uses has no gradient; its loss derivative is 0.
	used := map[int]bool{}
	for _, p := range gradPairs {
		for _, f := range append(features(p.Query, 64), features(p.Passage, 64)...) {
			used[f] = true
		}
	}
	assert.Len(t, gEmb, len(used))
}

func TestEncoderTrainsAndSaves(t *testing.T) {
	ctx := context.Background()
	var pairs []Pair
	names := []string{"anna", "ben", "carl", "dora", "emil", "fay", "gus", "hana", "ivo", "jana", "kurt", "lena"}
	towns := []string{"oakton", "ashdale", "hillford"}
	for i, n := range names {
		passage := n + " lives in " + towns[i%len(towns)] + "."
		pairs = append(pairs, Pair{"where does " + n + " live", passage}, Pair{"in which town is " + n, passage})
	}
	e, loss, err := TrainEncoder(ctx, pairs, EncoderConfig{Steps: 150, Batch: 8, LR: 0.01, Seed: 1})
	require.NoError(t, err)
	assert.Less(t, loss, 0.5, "the contrastive loss falls well below log(8) = 2.08")
	again, loss2, err := TrainEncoder(ctx, pairs, EncoderConfig{Steps: 150, Batch: 8, LR: 0.01, Seed: 1})
	require.NoError(t, err)
	assert.Equal(t, loss, loss2, "deterministic in the seed")
	assert.Equal(t, e.emb, again.emb)

	var ps []Passage
	for i := 0; i < len(pairs); i += 2 {
		ps = append(ps, Passage{ID: i / 2, Text: pairs[i].Passage})
	}
	idx, err := NewFlatIndex(e.Dim())
	require.NoError(t, err)
	v, err := NewVectors(ctx, e, idx, ps)
	require.NoError(t, err)
	var qs []Query
	for i, n := range names {
		qs = append(qs, Query{Text: "in which town does " + n + " live", Relevant: []int{i}})
	}
	r, err := Recall(ctx, v, qs, 1)
	require.NoError(t, err)
	assert.Equal(t, 1.0, r, "a new phrasing of known words still finds the person's passage")

	path := filepath.Join(t.TempDir(), "enc.safetensors")
	require.NoError(t, e.Save(path))
	back, err := LoadEncoder(path)
	require.NoError(t, err)
	a, err := e.Embed(ctx, []string{"where does anna live", ""})
	require.NoError(t, err)
	b, err := back.Embed(ctx, []string{"where does anna live", ""})
	require.NoError(t, err)
	assert.Equal(t, a, b)
	assert.Equal(t, make([]float32, e.Dim()), a[1], "no terms: the zero vector")

	_, _, err = TrainEncoder(ctx, pairs[:1], EncoderConfig{})
	assert.ErrorContains(t, err, "at least two distinct passages")
	_, _, err = TrainEncoder(ctx, pairs, EncoderConfig{Batch: 1})
	assert.ErrorContains(t, err, "Batch 1 ≥ 2")
	_, _, err = TrainEncoder(ctx, pairs, EncoderConfig{LR: -1})
	assert.ErrorContains(t, err, "LR -1 and Temperature 0.1 must be > 0")
	_, err = LoadEncoder(filepath.Join(t.TempDir(), "missing"))
	assert.Error(t, err)
}
