package rlhf

import (
	"math"

	"github.com/tinychat-go/tinychat/internal/mathx"
)

// GAE computes generalised advantage estimates for one reply: rewards[t] and values[t] for
// each reply token t (the value after the last token is 0), with discount gamma and λ. It
// returns the advantages and the returns (advantages + values).
func GAE(rewards, values []float64, gamma, lambda float64) (adv, ret []float64) {
	n := len(rewards)
	adv, ret = make([]float64, n), make([]float64, n)
	var next, running float64
	for t := n - 1; t >= 0; t-- {
		delta := rewards[t] + gamma*next - values[t]
		running = delta + gamma*lambda*running
		adv[t] = running
		ret[t] = running + values[t]
		next = values[t]
	}
	return adv, ret
}

// PPOStats are the statistics of one evaluation of the clipped surrogate.
type PPOStats struct {
	// ClipFrac is the share of tokens whose ratio was clipped; ApproxKL the mean of
	// (r − 1) − log r, an estimate of KL(old‖new).
	ClipFrac, ApproxKL float64
}

// ClippedSurrogate is PPO's policy loss, −mean over masked tokens of
// min(r·A, clip(r, 1−ε, 1+ε)·A) with r = exp(logp − oldLogp), minus entropyCoef times the mean
// of −logp (a sampled-token estimate of the entropy). It writes dloss/dlogp into grad.
func ClippedSurrogate(logp, oldLogp, adv, mask []float32, eps, entropyCoef float64, grad []float32) (float64, PPOStats) {
	var n float64
	for _, m := range mask {
		n += float64(m)
	}
	clear(grad)
	if n == 0 {
		return 0, PPOStats{}
	}
	var loss, clipped, akl float64
	for i, m := range mask {
		if m == 0 {
			continue
		}
		d := float64(logp[i]) - float64(oldLogp[i])
		r := math.Exp(d)
		a := float64(adv[i])
		s1, s2 := r*a, math.Max(1-eps, math.Min(1+eps, r))*a
		loss -= math.Min(s1, s2)
		active := (a >= 0 && r <= 1+eps) || (a < 0 && r >= 1-eps)
		g := 0.0
		if active {
			g = -a * r
		} else {
			clipped++
		}
		loss += entropyCoef * float64(logp[i])
		g += entropyCoef
		grad[i] = float32(g * float64(m) / n)
		akl += (r - 1) - d
	}
	return loss / n, PPOStats{ClipFrac: clipped / n, ApproxKL: akl / n}
}

// ClippedValueLoss is PPO's value loss, ½·mean over masked tokens of
// max((v − R)², (clip(v, v_old − ε, v_old + ε) − R)²). It writes dloss/dv into grad.
func ClippedValueLoss(v, oldV, ret, mask []float32, eps float64, grad []float32) float64 {
	var n float64
	for _, m := range mask {
		n += float64(m)
	}
	clear(grad)
	if n == 0 {
		return 0
	}
	var loss float64
	for i, m := range mask {
		if m == 0 {
			continue
		}
		x, o, r := float64(v[i]), float64(oldV[i]), float64(ret[i])
		vc := math.Max(o-eps, math.Min(o+eps, x))
		l1, l2 := (x-r)*(x-r), (vc-r)*(vc-r)
		if l1 >= l2 {
			loss += 0.5 * l1
			grad[i] = float32((x - r) / n)
		} else {
			loss += 0.5 * l2 // the clipped branch is constant in v
		}
	}
	return loss / n
}

// DPOLoss is direct preference optimisation's loss for one pair,
// −log σ(β·[(π(c) − π_ref(c)) − (π(r) − π_ref(r))]), where π(·) are summed reply
// log-probabilities. It returns the loss and its derivative with respect to π(c) (the
// derivative with respect to π(r) is its negative).
func DPOLoss(piC, refC, piR, refR, beta float64) (loss, dPiC float64) {
	z := beta * ((piC - refC) - (piR - refR))
	loss = mathx.Softplus(-z)
	dPiC = -beta * mathx.Sigmoid(-z)
	return loss, dPiC
}

// ChosenNLL is the RPO term of "DPO+NLL" (Pang et al. 2024, "Iterative Reasoning Preference
// Optimization"; TRL's rpo_alpha) for one pair: α times the chosen reply's negative
// log-likelihood per token, −α·π(c)/n, where π(c) is the chosen reply's summed log-probability
// over its n tokens (n > 0). It returns the loss and its derivative with respect to π(c).
// Added to DPOLoss it keeps the chosen reply likely while the margin grows, which plain DPO
// does not: its loss falls as readily by pushing both replies down.
func ChosenNLL(piC, n, alpha float64) (loss, dPiC float64) {
	return -alpha * piC / n, -alpha / n
}
