package kernels

import "math"

// softmaxRow writes softmax(x) into p and returns log Σ exp(x) (the log-partition), computed
// from the row's own maximum so large logits cannot overflow, with the sum in float64. With
// AVX2 and FMA its passes run as 8-lane assembly (rowMax, expSubSum, scaleRow), so the results
// may differ from softmaxRowScalar's in the last bits.
func softmaxRow(p, x []float32) float64 {
	mx := rowMax(x)
	sum := expSubSum(p, x, mx)
	scaleRow(p[:len(x)], float32(1/sum))
	return float64(mx) + math.Log(sum)
}

// softmaxRowScalar is softmaxRow in plain Go on every CPU. LogProbForward uses it because the
// sampler's tokenLogProb (package model) repeats this computation bit for bit, so that PPO's
// probability ratios start at exactly 1.
func softmaxRowScalar(p, x []float32) float64 {
	mx := x[0]
	for _, v := range x[1:] {
		if v > mx {
			mx = v
		}
	}
	var sum float64
	for j, v := range x {
		e := Exp(v - mx)
		p[j] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for j := range p {
		p[j] *= inv
	}
	return float64(mx) + math.Log(sum)
}

// CrossEntropyForward computes the weighted mean next-token cross-entropy of logits (n rows of
// v classes) against targets: Σᵢ wᵢ·(−log softmax(logitsᵢ)[targetᵢ]) / Σᵢ wᵢ. A nil weights
// slice means every weight is 1; a row with weight 0 or a negative target is skipped. It writes
// the softmax of each counted row into probs (kept for the backward pass) and each row's
// negative log-likelihood into nll (0 for skipped rows), and returns the loss and Σ wᵢ. When no
// row counts, the loss is 0.
func CrossEntropyForward(probs, nll, logits []float32, targets []int32, weights []float32, n, v int) (loss, wsum float64) {
	parallelFor(n, 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			w := float32(1)
			if weights != nil {
				w = weights[i]
			}
			t := targets[i]
			if w == 0 || t < 0 {
				nll[i] = 0
				continue
			}
			lz := softmaxRow(probs[i*v:(i+1)*v], logits[i*v:(i+1)*v])
			nll[i] = float32(lz - float64(logits[i*v+int(t)]))
		}
	})
	for i := 0; i < n; i++ {
		w := 1.0
		if weights != nil {
			w = float64(weights[i])
		}
		if targets[i] < 0 {
			w = 0
		}
		loss += w * float64(nll[i])
		wsum += w
	}
	if wsum == 0 {
		return 0, 0
	}
	return loss / wsum, wsum
}

// CrossEntropyBackward writes dlogits = g·wᵢ/Σw·(softmaxᵢ − onehot(targetᵢ)) for the upstream
// gradient g of the loss returned by CrossEntropyForward; skipped rows get zero gradient.
func CrossEntropyBackward(dlogits, probs []float32, targets []int32, weights []float32, n, v int, g, wsum float64) {
	parallelFor(n, 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d := dlogits[i*v : (i+1)*v]
			w := float32(1)
			if weights != nil {
				w = weights[i]
			}
			t := targets[i]
			if w == 0 || t < 0 || wsum == 0 {
				clear(d)
				continue
			}
			s := float32(g * float64(w) / wsum)
			p := probs[i*v : (i+1)*v]
			for j, pv := range p {
				d[j] = s * pv
			}
			d[t] -= s
		}
	})
}

// LogProbForward writes out[i] = log softmax(logitsᵢ)[targetᵢ] for each of the n rows and
// keeps the softmax of each row in probs for the backward pass. Rows with a negative target
// get 0.
func LogProbForward(out, probs, logits []float32, targets []int32, n, v int) {
	parallelFor(n, 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			t := targets[i]
			if t < 0 {
				out[i] = 0
				continue
			}
			// The scalar form: the sampler's tokenLogProb must match it exactly.
			lz := softmaxRowScalar(probs[i*v:(i+1)*v], logits[i*v:(i+1)*v])
			out[i] = float32(float64(logits[i*v+int(t)]) - lz)
		}
	})
}

// LogProbBackward writes dlogitsᵢ = gᵢ·(onehot(targetᵢ) − softmaxᵢ) for upstream gradients g.
func LogProbBackward(dlogits, probs []float32, targets []int32, g []float32, n, v int) {
	parallelFor(n, 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d := dlogits[i*v : (i+1)*v]
			t := targets[i]
			if t < 0 || g[i] == 0 {
				clear(d)
				continue
			}
			gi := g[i]
			for j, pv := range probs[i*v : (i+1)*v] {
				d[j] = -gi * pv
			}
			d[t] += gi
		}
	})
}

// EmbeddingForward writes out[i] = wte[idx[i]] + wpe[p] for n = len(idx) rows of width c
// (token plus position embedding), where the position p is pos[i], or i mod block when pos is
// nil.
func EmbeddingForward(out, wte, wpe []float32, idx, pos []int32, block, c int) {
	parallelFor(len(idx), 64, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			tok := wte[int(idx[i])*c : int(idx[i]+1)*c]
			at := position(pos, i, block)
			pos := wpe[at*c : (at+1)*c]
			o := out[i*c : (i+1)*c]
			for j := range o {
				o[j] = tok[j] + pos[j]
			}
		}
	})
}

// position is the position of row i of an embedding: pos[i], or i mod block when pos is nil.
func position(pos []int32, i, block int) int {
	if pos == nil {
		return i % block
	}
	return int(pos[i])
}

// EmbeddingBackward adds the gradients of EmbeddingForward to dwte (vocab×c) and dwpe
// (block×c), from dout (len(idx)×c): the rows of a token's (a position's) outputs are added
// to its row in order.
func EmbeddingBackward(dwte, dwpe, dout []float32, idx, pos []int32, block, c int) {
	// Column-parallel: each worker owns a range of columns of both tables, so the scatter-adds
	// of repeated tokens never race.
	parallelFor(c, 16, func(lo, hi int) {
		for i, id := range idx {
			g := dout[i*c+lo : i*c+hi]
			t := dwte[int(id)*c+lo : int(id)*c+hi]
			at := position(pos, i, block)
			p := dwpe[at*c+lo : at*c+hi]
			for j, v := range g {
				t[j] += v
				p[j] += v
			}
		}
	})
}
