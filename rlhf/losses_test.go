package rlhf

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGAEHandComputed checks GAE on a 3-token reply, γ = 1, λ = 0.5:
//
//	rewards 0, 0, 1; values 0.5, 0.25, 0.75 (value after the end 0)
//	δ2 = 1 + 0 − 0.75 = 0.25;   A2 = 0.25
//	δ1 = 0 + 0.75 − 0.25 = 0.5; A1 = 0.5 + 0.5·0.25 = 0.625
//	δ0 = 0 + 0.25 − 0.5 = −0.25; A0 = −0.25 + 0.5·0.625 = 0.0625
//	returns = A + V = 0.5625, 0.875, 1.0
func TestGAEHandComputed(t *testing.T) {
	adv, ret := GAE([]float64{0, 0, 1}, []float64{0.5, 0.25, 0.75}, 1, 0.5)
	require.InDeltaSlice(t, []float64{0.0625, 0.625, 0.25}, adv, 1e-12)
	require.InDeltaSlice(t, []float64{0.5625, 0.875, 1.0}, ret, 1e-12)
	// γ = 0.9, λ = 1 on two tokens: δ1 = 2 − 1 = 1, A1 = 1; δ0 = 0 + 0.9·1 − 0 = 0.9, A0 = 0.9 + 0.9·1 = 1.8
	adv, _ = GAE([]float64{0, 2}, []float64{0, 1}, 0.9, 1)
	require.InDeltaSlice(t, []float64{1.8, 1}, adv, 1e-12)
}

// TestClippedSurrogateGradient: with a positive advantage the gradient pushes log p up (negative
// dloss/dlogp) until the ratio passes 1+ε, then it is zero (clipped); with a negative advantage
// it pushes down until the ratio falls below 1−ε.
func TestClippedSurrogateGradient(t *testing.T) {
	old := []float32{-1, -1, -1, -1}
	adv := []float32{1, 1, -1, -1}
	mask := []float32{1, 1, 1, 1}
	// ratios: e^0 = 1 (inside), e^0.5 ≈ 1.65 (above 1+ε), 1 (inside), e^−0.5 ≈ 0.61 (below 1−ε)
	logp := []float32{-1, -0.5, -1, -1.5}
	grad := make([]float32, 4)
	loss, st := ClippedSurrogate(logp, old, adv, mask, 0.2, 0, grad)
	require.Less(t, grad[0], float32(0), "positive advantage, unclipped: raise log p")
	require.Equal(t, float32(0), grad[1], "positive advantage beyond 1+ε: clipped")
	require.Greater(t, grad[2], float32(0), "negative advantage, unclipped: lower log p")
	require.Equal(t, float32(0), grad[3], "negative advantage below 1−ε: clipped")
	require.InDelta(t, -0.25, grad[0], 1e-6) // −A·r/n = −1·1/4
	require.Equal(t, 0.5, st.ClipFrac)
	// loss = −mean(min(rA, clip(r)A)) = −(1 + 1.2 − 1 − 0.8)/4 = −0.1
	require.InDelta(t, -0.1, loss, 1e-6)
	// Finite differences agree on the unclipped entries.
	for i := range logp {
		if grad[i] == 0 {
			continue
		}
		h := float32(1e-3)
		lp := append([]float32(nil), logp...)
		lp[i] += h
		up, _ := ClippedSurrogate(lp, old, adv, mask, 0.2, 0, make([]float32, 4))
		lp[i] -= 2 * h
		dn, _ := ClippedSurrogate(lp, old, adv, mask, 0.2, 0, make([]float32, 4))
		require.InDelta(t, float64(grad[i]), (up-dn)/float64(2*h), 1e-3)
	}
}

func TestClippedValueLoss(t *testing.T) {
	// v = 2, old 1, return 3, ε 0.5: clipped v = 1.5; (2−3)² = 1 < (1.5−3)² = 2.25 → loss ½·2.25,
	// zero gradient. v = 1.2, old 1, return 3: inside the clip range → loss ½·3.24, grad −1.8/n.
	grad := make([]float32, 2)
	l := ClippedValueLoss([]float32{2, 1.2}, []float32{1, 1}, []float32{3, 3}, []float32{1, 1}, 0.5, grad)
	require.InDelta(t, (0.5*2.25+0.5*3.24)/2, l, 1e-6)
	require.Equal(t, float32(0), grad[0])
	require.InDelta(t, -1.8/2, grad[1], 1e-6)
}

func TestDPOLoss(t *testing.T) {
	// Equal policy and reference: z = 0, loss = log 2, dloss/dπ(c) = −β/2.
	l, d := DPOLoss(-3, -3, -4, -4, 0.1)
	require.InDelta(t, math.Log(2), l, 1e-12)
	require.InDelta(t, -0.05, d, 1e-12)
	// Chosen up by 10 nats relative to the reference: z = 1, loss = log(1+e^−1).
	l, _ = DPOLoss(7, -3, -4, -4, 0.1)
	require.InDelta(t, math.Log1p(math.Exp(-1)), l, 1e-12)
}

// TestChosenNLL: the RPO term by hand and against finite differences. A chosen reply of 4
// tokens with summed log-probability −6 at α 0.5: loss −0.5·(−6)/4 = 0.75, dloss/dπ(c) =
// −0.5/4 = −0.125.
func TestChosenNLL(t *testing.T) {
	l, d := ChosenNLL(-6, 4, 0.5)
	require.InDelta(t, 0.75, l, 1e-12)
	require.InDelta(t, -0.125, d, 1e-12)
	l, d = ChosenNLL(-6, 4, 0)
	require.Zero(t, l)
	require.Zero(t, d)
	for _, pi := range []float64{-20, -3, -0.1} {
		const h = 1e-4
		up, _ := ChosenNLL(pi+h, 7, 1.5)
		dn, _ := ChosenNLL(pi-h, 7, 1.5)
		_, d := ChosenNLL(pi, 7, 1.5)
		require.InDelta(t, (up-dn)/(2*h), d, 1e-9)
	}
}
