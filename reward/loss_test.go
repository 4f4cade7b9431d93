package reward

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPairwiseLossHandComputed: two groups, one pair (rows 0 > 1) and one ranking of three
// (rows 2 > 3 > 4). Scores 1, 0 | 2, 1, −1.
//
//	group 1: d = 1: loss log(1+e^−1) = 0.31326; weight 1/(1 pair · 2 groups) = 0.5
//	group 2: pairs (2,3) d=1, (2,4) d=3, (3,4) d=2; weight 1/(3·2) = 1/6
//	loss = 0.5·0.31326 + (0.31326 + 0.04859 + 0.12693)/6 = 0.23809
//	dloss/dscore0 = −0.5·σ(−1) = −0.13447; dscore1 = +0.13447
//	dscore2 = −(σ(−1) + σ(−3))/6 = −(0.26894 + 0.04743)/6 = −0.05273
//	dscore3 = (σ(−1) − σ(−2))/6 = (0.26894 − 0.11920)/6 = 0.02496
//	dscore4 = (σ(−3) + σ(−2))/6 = 0.02777
func TestPairwiseLossHandComputed(t *testing.T) {
	scores := []float32{1, 0, 2, 1, -1, 5}
	grad := make([]float32, 6)
	l := PairwiseLoss(scores, []Group{{Rows: []int{0, 1}}, {Rows: []int{2, 3, 4}}}, grad)
	sp := func(x float64) float64 { return math.Log1p(math.Exp(-x)) }
	sg := func(x float64) float64 { return 1 / (1 + math.Exp(x)) } // σ(−x)
	want := 0.5*sp(1) + (sp(1)+sp(3)+sp(2))/6
	require.InDelta(t, want, l, 1e-9)
	require.InDelta(t, 0.23809, l, 1e-5)
	wantGrad := []float64{-0.5 * sg(1), 0.5 * sg(1), -(sg(1) + sg(3)) / 6, (sg(1) - sg(2)) / 6, (sg(3) + sg(2)) / 6, 0}
	for i, g := range grad {
		require.InDelta(t, wantGrad[i], float64(g), 1e-7, "row %d", i)
	}
	require.Equal(t, float32(0), grad[5], "a row outside every group gets no gradient")
}
