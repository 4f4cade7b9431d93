package rlhf

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/internal/mathx"
)

// rpoBatch is a batch of two pairs on rows of 4 and the log-probabilities of its three pairs'
// rows (the third pair missing, as in a short last batch):
//
//	pair 0: chosen weights 0 1 1 0, log p −9 −1 −2 −9: π(c) = −3 (2 tokens), π_ref(c) = −3
//	        rejected weights 0 0 1 1, log p −9 −9 −2 −2: π(r) = −4, π_ref(r) = −4 → z = 0
//	pair 1: chosen weights 1 0 0 0, log p −0.5 −9 −9 −9: π(c) = −0.5 (1 token), π_ref(c) = −2.5
//	        rejected weights 1 1 0 0, log p −1 −1 −9 −9: π(r) = −2, π_ref(r) = −2 → z = β·2
func rpoBatch() ([]*pair, []float32) {
	row := func(w ...float32) data.Row {
		return data.Row{Tokens: make([]int32, 4), Targets: make([]int32, 4), Weights: w}
	}
	ps := []*pair{
		{chosen: row(0, 1, 1, 0), rejected: row(0, 0, 1, 1), refC: -3, refR: -4},
		{chosen: row(1, 0, 0, 0), rejected: row(1, 1, 0, 0), refC: -2.5, refR: -2},
	}
	logp := []float32{
		-9, -1, -2, -9, -9, -9, -2, -2,
		-0.5, -9, -9, -9, -1, -1, -9, -9,
		-7, -7, -7, -7, -7, -7, -7, -7,
	}
	return ps, logp
}

// TestDPOBatchLossRows checks the loss and gradient of a batch row by row against a hand
// calculation, with β 0.5 and α 2:
//
//	pair 0: z = 0: DPO log 2, dπ(c) −β/2 = −0.25; NLL −2·(−3)/2 = 3, dπ(c) −2/2 = −1
//	pair 1: z = 1: DPO softplus(−1), dπ(c) −0.5·σ(−1); NLL −2·(−0.5)/1 = 1, dπ(c) −2
//
// The loss is the mean over the 2 pairs; each weighted token of a chosen row gets dπ(c)/2,
// of a rejected row the DPO part's −dπ(c)/2 only; everything else (unweighted tokens, the
// missing pair's rows) 0. Without α, chosen and rejected get opposite gradients.
func TestDPOBatchLossRows(t *testing.T) {
	ps, logp := rpoBatch()
	grad := make([]float32, len(logp))
	for i := range grad {
		grad[i] = 42 // overwritten
	}
	s := mathx.Sigmoid(-1)
	l, st := dpoBatchLoss(ps, logp, grad, 4, 0.5, 2)
	require.InDelta(t, (math.Log(2)+3+math.Log1p(math.Exp(-1))+1)/2, l, 1e-9)
	want := []float64{
		0, -0.625, -0.625, 0, 0, 0, 0.125, 0.125,
		(-0.5*s - 2) / 2, 0, 0, 0, 0.5 * s / 2, 0.5 * s / 2, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
	}
	for i := range want {
		require.InDelta(t, want[i], grad[i], 1e-7, "entry %d (row %d)", i, i/4)
	}
	require.InDelta(t, 0.5, st.margin, 1e-9) // (0 + 0.5·2)/2
	require.InDelta(t, 0.5, st.acc, 1e-9)    // only pair 1 has a positive margin
	require.InDelta(t, 1.0, st.nll, 1e-9)    // (3/2 + 0.5/1)/2

	l0, _ := dpoBatchLoss(ps, logp, grad, 4, 0.5, 0)
	require.InDelta(t, (math.Log(2)+math.Log1p(math.Exp(-1)))/2, l0, 1e-9)
	require.InDelta(t, -0.125, grad[1], 1e-7)
	require.InDelta(t, 0.125, grad[6], 1e-7)
	require.InDelta(t, -0.5*s/2, grad[8], 1e-7)
	require.InDelta(t, 0.5*s/2, grad[12], 1e-7)
}

// TestDPOBatchLossGradient checks every entry of the gradient, with and without the RPO term,
// against central finite differences of the batch loss.
func TestDPOBatchLossGradient(t *testing.T) {
	ps, logp := rpoBatch()
	for _, alpha := range []float64{0, 0.7} {
		grad := make([]float32, len(logp))
		dpoBatchLoss(ps, logp, grad, 4, 0.3, alpha)
		scratch := make([]float32, len(logp))
		for i := range logp {
			const h = 1e-2
			x := append([]float32(nil), logp...)
			x[i] += h
			up, _ := dpoBatchLoss(ps, x, scratch, 4, 0.3, alpha)
			x[i] -= 2 * h
			dn, _ := dpoBatchLoss(ps, x, scratch, 4, 0.3, alpha)
			require.InDelta(t, (up-dn)/(2*h), float64(grad[i]), 1e-5, "α %v, entry %d", alpha, i)
		}
	}
}
