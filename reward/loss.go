package reward

import "github.com/tinychat-go/tinychat/internal/mathx"

// Group is one prompt's ranked replies inside a batch: Rows[i] is the batch row holding the
// reply ranked i (best first). All C(K,2) pairs of a group stay in one batch.
type Group struct {
	Rows []int
}

// PairwiseLoss is InstructGPT's ranking loss: for each group, the mean over its C(K,2) pairs
// (better a, worse b) of −log σ(r_a − r_b); then the mean over groups. scores[row] is the
// reward of each batch row. It writes dloss/dscores into grad (len(scores); rows outside every
// group get 0) and returns the loss.
func PairwiseLoss(scores []float32, groups []Group, grad []float32) float64 {
	clear(grad)
	if len(groups) == 0 {
		return 0
	}
	var loss float64
	for _, g := range groups {
		pairs := len(g.Rows) * (len(g.Rows) - 1) / 2
		if pairs == 0 {
			continue
		}
		w := 1 / float64(pairs*len(groups))
		for i := 0; i < len(g.Rows); i++ {
			for j := i + 1; j < len(g.Rows); j++ {
				a, b := g.Rows[i], g.Rows[j]
				d := float64(scores[a]) - float64(scores[b])
				loss += w * mathx.Softplus(-d) // −log σ(d) = log(1 + e^−d)
				s := w * mathx.Sigmoid(-d)     // d/dd of softplus(−d) is −σ(−d)
				grad[a] -= float32(s)
				grad[b] += float32(s)
			}
		}
	}
	return loss
}
