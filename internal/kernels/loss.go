package kernels

import "math"

// softmaxRow writes softmax(x) into p and returns log Σ exp(x) (the log-partition), computed
// from the row's own maximum so large logits cannot overflow, with the sum in float64. With
// AVX2 and FMA its passes run as 8-lane assembly (rowMax, expSubSum, scaleRow), so the results
// may differ from softmaxRowExact's in the last bits.
func softmaxRow(p, x []float32) float64 {
	mx := rowMax(x)
	sum := expSubSum(p, x, mx)
	scaleRow(p[:len(x)], float32(1/sum))
	return float64(mx) + math.Log(sum)
}

// softmaxRowExact is softmaxRow with the bits of plain Go on every CPU: the row maximum, Exp
// of each value less it, their sum in float64 in column order, the scaling. LogProbForward
// uses it because the sampler's tokenLogProb (package model) repeats this computation bit for
// bit, so that PPO's probability ratios start at exactly 1. With AVX2 the maximum, the
// exponentials (expSubExactAVX2: Exp's operations, unfused) and the scaling run 8 lanes at a
// time, each giving the Go loop's bits; the sum stays a Go loop, its order being the bits.
func softmaxRowExact(p, x []float32) float64 {
	mx := rowMax(x)
	p = p[:len(x)]
	if useAVX2 {
		expSubExactAVX2(&p[0], &x[0], len(x), mx)
	} else {
		for j, v := range x {
			p[j] = Exp(v - mx)
		}
	}
	var sum float64
	for _, e := range p {
		sum += float64(e)
	}
	scaleRow(p, float32(1/sum))
	return float64(mx) + math.Log(sum)
}

// lossArgs are the arguments of the loss kernels' row ranges: out is nll, the log-probabilities
// or dlogits.
type lossArgs struct {
	out, probs, logits []float32
	targets            []int32
	weights, g         []float32
	v                  int
	scale, wsum        float64
}

var lossTasks tasks[lossArgs]

// CrossEntropyForward computes the weighted mean next-token cross-entropy of logits (n rows of
// v classes) against targets: Σᵢ wᵢ·(−log softmax(logitsᵢ)[targetᵢ]) / Σᵢ wᵢ. A nil weights
// slice means every weight is 1; a row with weight 0 or a negative target is skipped. It writes
// the softmax of each counted row into probs (kept for the backward pass) and each row's
// negative log-likelihood into nll (0 for skipped rows), and returns the loss and Σ wᵢ. When no
// row counts, the loss is 0.
func CrossEntropyForward(probs, nll, logits []float32, targets []int32, weights []float32, n, v int) (loss, wsum float64) {
	lossTasks.parallelFor(n, 8, lossArgs{out: nll, probs: probs, logits: logits, targets: targets, weights: weights, v: v}, crossEntropyRows)
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

// crossEntropyRows is CrossEntropyForward's softmax and nll for rows lo..hi−1.
func crossEntropyRows(a *lossArgs, lo, hi int) {
	v := a.v
	for i := lo; i < hi; i++ {
		w := float32(1)
		if a.weights != nil {
			w = a.weights[i]
		}
		t := a.targets[i]
		if w == 0 || t < 0 {
			a.out[i] = 0
			continue
		}
		lz := softmaxRow(a.probs[i*v:(i+1)*v], a.logits[i*v:(i+1)*v])
		a.out[i] = float32(lz - float64(a.logits[i*v+int(t)]))
	}
}

// CrossEntropyBackward writes dlogits = g·wᵢ/Σw·(softmaxᵢ − onehot(targetᵢ)) for the upstream
// gradient g of the loss returned by CrossEntropyForward; skipped rows get zero gradient.
func CrossEntropyBackward(dlogits, probs []float32, targets []int32, weights []float32, n, v int, g, wsum float64) {
	lossTasks.parallelFor(n, 8, lossArgs{out: dlogits, probs: probs, targets: targets, weights: weights, v: v, scale: g, wsum: wsum}, crossEntropyBackwardRows)
}

// crossEntropyBackwardRows is CrossEntropyBackward for rows lo..hi−1.
func crossEntropyBackwardRows(a *lossArgs, lo, hi int) {
	v := a.v
	for i := lo; i < hi; i++ {
		d := a.out[i*v : (i+1)*v]
		w := float32(1)
		if a.weights != nil {
			w = a.weights[i]
		}
		t := a.targets[i]
		if w == 0 || t < 0 || a.wsum == 0 {
			clear(d)
			continue
		}
		s := float32(a.scale * float64(w) / a.wsum)
		p := a.probs[i*v : (i+1)*v]
		for j, pv := range p {
			d[j] = s * pv
		}
		d[t] -= s
	}
}

// LogProbForward writes out[i] = log softmax(logitsᵢ)[targetᵢ] for each of the n rows and
// keeps the softmax of each row in probs for the backward pass. Rows with a negative target
// get 0.
func LogProbForward(out, probs, logits []float32, targets []int32, n, v int) {
	lossTasks.parallelFor(n, 8, lossArgs{out: out, probs: probs, logits: logits, targets: targets, v: v}, logProbRows)
}

// logProbRows is LogProbForward for rows lo..hi−1.
func logProbRows(a *lossArgs, lo, hi int) {
	v := a.v
	for i := lo; i < hi; i++ {
		t := a.targets[i]
		if t < 0 {
			a.out[i] = 0
			continue
		}
		// The exact form: the sampler's tokenLogProb must match it bit for bit.
		lz := softmaxRowExact(a.probs[i*v:(i+1)*v], a.logits[i*v:(i+1)*v])
		a.out[i] = float32(float64(a.logits[i*v+int(t)]) - lz)
	}
}

// LogProbBackward writes dlogitsᵢ = gᵢ·(onehot(targetᵢ) − softmaxᵢ) for upstream gradients g.
func LogProbBackward(dlogits, probs []float32, targets []int32, g []float32, n, v int) {
	lossTasks.parallelFor(n, 8, lossArgs{out: dlogits, probs: probs, targets: targets, g: g, v: v}, logProbBackwardRows)
}

// logProbBackwardRows is LogProbBackward for rows lo..hi−1.
func logProbBackwardRows(a *lossArgs, lo, hi int) {
	v := a.v
	for i := lo; i < hi; i++ {
		d := a.out[i*v : (i+1)*v]
		t := a.targets[i]
		if t < 0 || a.g[i] == 0 {
			clear(d)
			continue
		}
		gi := a.g[i]
		for j, pv := range a.probs[i*v : (i+1)*v] {
			d[j] = -gi * pv
		}
		d[t] += gi
	}
}

// embeddingArgs are the arguments of the embedding kernels' ranges.
type embeddingArgs struct {
	out, wte, wpe []float32 // out: the output, or dout for the backward pass
	idx, pos      []int32
	block, c      int
}

var embeddingTasks tasks[embeddingArgs]

// EmbeddingForward writes out[i] = wte[idx[i]] + wpe[p] for n = len(idx) rows of width c
// (token plus position embedding), where the position p is pos[i], or i mod block when pos is
// nil.
func EmbeddingForward(out, wte, wpe []float32, idx, pos []int32, block, c int) {
	embeddingTasks.parallelFor(len(idx), 64, embeddingArgs{out: out, wte: wte, wpe: wpe, idx: idx, pos: pos, block: block, c: c}, embeddingRows)
}

// embeddingRows is EmbeddingForward for rows lo..hi−1.
func embeddingRows(a *embeddingArgs, lo, hi int) {
	c := a.c
	for i := lo; i < hi; i++ {
		tok := a.wte[int(a.idx[i])*c : int(a.idx[i]+1)*c]
		at := position(a.pos, i, a.block)
		pos := a.wpe[at*c : (at+1)*c]
		o := a.out[i*c : (i+1)*c]
		for j := range o {
			o[j] = tok[j] + pos[j]
		}
	}
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
	embeddingTasks.parallelFor(c, 16, embeddingArgs{out: dout, wte: dwte, wpe: dwpe, idx: idx, pos: pos, block: block, c: c}, embeddingBackwardColumns)
}

// embeddingBackwardColumns is EmbeddingBackward for columns lo..hi−1.
func embeddingBackwardColumns(a *embeddingArgs, lo, hi int) {
	c := a.c
	for i, id := range a.idx {
		g := a.out[i*c+lo : i*c+hi]
		t := a.wte[int(id)*c+lo : int(id)*c+hi]
		at := position(a.pos, i, a.block)
		p := a.wpe[at*c+lo : at*c+hi]
		for j, v := range g {
			t[j] += v
			p[j] += v
		}
	}
}
