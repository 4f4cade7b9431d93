package model

import (
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/tinychat-go/tinychat/internal/blas"
	"github.com/tinychat-go/tinychat/internal/kernels"
)

// The fused layers as graph nodes. Each function allocates the buffers its forward pass needs
// once, at graph-building time, and those of its backward pass when the backward graph is
// built (symDiff), so a graph that never trains holds no gradient buffers.

// embedding returns wte[idx] + wpe[position] for the token IDs in idx (len rows, position =
// row mod block).
func embedding(wte, wpe *G.Node, idx []int32, block int) (*G.Node, error) {
	V, C := wte.Shape()[0], wte.Shape()[1]
	n := len(idx)
	out := dense(make([]float32, n*C), n, C)
	op := newOp("Embedding", []int{2, 2}, tensor.Shape{n, C}, func(in []G.Value) (G.Value, error) {
		kernels.EmbeddingForward(f32s(out), f32s(in[0]), f32s(in[1]), idx, block, C)
		return out, nil
	})
	op.diffWRT = []bool{true, true}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		dwte := dense(make([]float32, V*C), V, C)
		dwpe := dense(make([]float32, wpe.Shape()[0]*C), wpe.Shape()[0], C)
		back := newOp("EmbeddingGrad", []int{2}, tensor.Shape{V, C}, func(g []G.Value) (G.Value, error) {
			kernels.EmbeddingBackward(f32s(dwte), f32s(dwpe), f32s(g[0]), idx, block, C)
			return dwte, nil
		})
		dte, err := apply(back, grad)
		if err != nil {
			return nil, err
		}
		dpe, err := readOut("EmbeddingGradPos", dwpe, dte)
		return G.Nodes{dte, dpe}, err
	}
	return apply(op, wte, wpe)
}

// layerNorm normalises the rows of x with affine weight w and bias b.
func layerNorm(x, w, b *G.Node) (*G.Node, error) {
	rows, cols := x.Shape()[0], x.Shape()[1]
	out := dense(make([]float32, rows*cols), rows, cols)
	mean, rstd := make([]float32, rows), make([]float32, rows)
	op := newOp("LayerNorm", []int{2, 1, 1}, tensor.Shape{rows, cols}, func(in []G.Value) (G.Value, error) {
		kernels.LayerNormForward(f32s(out), mean, rstd, f32s(in[0]), f32s(in[1]), f32s(in[2]), rows, cols)
		return out, nil
	})
	op.diffWRT = []bool{true, true, true}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		dx := dense(make([]float32, rows*cols), rows, cols)
		dw, db := dense(make([]float32, cols), cols), dense(make([]float32, cols), cols)
		back := newOp("LayerNormGrad", []int{2, 1, 2}, tensor.Shape{rows, cols}, func(v []G.Value) (G.Value, error) {
			kernels.LayerNormBackward(f32s(dx), f32s(dw), f32s(db), f32s(v[2]), f32s(v[0]), mean, rstd, f32s(v[1]), rows, cols)
			return dx, nil
		})
		gx, err := apply(back, in[0], in[1], grad)
		if err != nil {
			return nil, err
		}
		gw, err := readOut("LayerNormGradW", dw, gx)
		if err != nil {
			return nil, err
		}
		gb, err := readOut("LayerNormGradB", db, gx)
		return G.Nodes{gx, gw, gb}, err
	}
	return apply(op, x, w, b)
}

// matMul returns x·W, or x·Wᵀ when transW is set (the tied LM head reads the token embedding
// [vocab, width] this way, so no transposed copy is made).
func matMul(x, w *G.Node, transW bool) (*G.Node, error) {
	M, K := x.Shape()[0], x.Shape()[1]
	N := w.Shape()[1]
	if transW {
		N = w.Shape()[0]
	}
	out := dense(make([]float32, M*N), M, N)
	op := newOp("MatMul", []int{2, 2}, tensor.Shape{M, N}, func(in []G.Value) (G.Value, error) {
		blas.Sgemm(false, transW, M, N, K, 1, f32s(in[0]), K, f32s(in[1]), ldOf(in[1]), 0, f32s(out), N)
		return out, nil
	})
	op.diffWRT = []bool{true, true}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		dx := dense(make([]float32, M*K), M, K)
		wShape := w.Shape().Clone()
		dw := dense(make([]float32, wShape.TotalSize()), wShape...)
		gxOp := newOp("MatMulGradX", []int{2, 2}, tensor.Shape{M, K}, func(v []G.Value) (G.Value, error) {
			// dx = g·op(W)ᵀ
			blas.Sgemm(false, !transW, M, K, N, 1, f32s(v[0]), N, f32s(v[1]), ldOf(v[1]), 0, f32s(dx), K)
			return dx, nil
		})
		gwOp := newOp("MatMulGradW", []int{2, 2}, wShape, func(v []G.Value) (G.Value, error) {
			if transW { // dW = gᵀ·x, [N, K]
				blas.Sgemm(true, false, N, K, M, 1, f32s(v[1]), N, f32s(v[0]), K, 0, f32s(dw), K)
			} else { // dW = xᵀ·g, [K, N]
				blas.Sgemm(true, false, K, N, M, 1, f32s(v[0]), K, f32s(v[1]), N, 0, f32s(dw), N)
			}
			return dw, nil
		})
		gx, err := apply(gxOp, grad, in[1])
		if err != nil {
			return nil, err
		}
		gw, err := apply(gwOp, in[0], grad)
		return G.Nodes{gx, gw}, err
	}
	return apply(op, x, w)
}

// ldOf is the leading dimension (row length) of a row-major matrix value.
func ldOf(v G.Value) int { return v.Shape()[1] }

// add returns a + b (the residual connection).
func add(a, b *G.Node) (*G.Node, error) {
	shape := a.Shape().Clone()
	out := dense(make([]float32, shape.TotalSize()), shape...)
	op := newOp("Add", []int{a.Dims(), b.Dims()}, shape, func(in []G.Value) (G.Value, error) {
		o, x, y := f32s(out), f32s(in[0]), f32s(in[1])
		for i := range o {
			o[i] = x[i] + y[i]
		}
		return out, nil
	})
	op.diffWRT = []bool{true, true}
	op.symDiff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) { return G.Nodes{grad, grad}, nil }
	return apply(op, a, b)
}

// gelu applies GELU (tanh form) element-wise.
func gelu(x *G.Node) (*G.Node, error) {
	shape := x.Shape().Clone()
	n := shape.TotalSize()
	out, th := dense(make([]float32, n), shape...), make([]float32, n)
	op := newOp("GELU", []int{x.Dims()}, shape, func(in []G.Value) (G.Value, error) {
		kernels.GELUForward(f32s(out), th, f32s(in[0]))
		return out, nil
	})
	op.diffWRT = []bool{true}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		dx := dense(make([]float32, n), shape...)
		back := newOp("GELUGrad", []int{x.Dims(), x.Dims()}, shape, func(v []G.Value) (G.Value, error) {
			kernels.GELUBackward(f32s(dx), f32s(v[1]), f32s(v[0]), th)
			return dx, nil
		})
		g, err := apply(back, in[0], grad)
		return G.Nodes{g}, err
	}
	return apply(op, x)
}

// attention is fused causal multi-head self-attention over qkv [batch·block, 3·width].
func attention(qkv *G.Node, s kernels.AttentionShape) (*G.Node, error) {
	rows, C := s.Batch*s.Block, s.Width()
	out := dense(make([]float32, rows*C), rows, C)
	probs := make([]float32, s.ProbsLen())
	op := newOp("CausalAttention", []int{2}, tensor.Shape{rows, C}, func(in []G.Value) (G.Value, error) {
		kernels.AttentionForward(f32s(out), probs, f32s(in[0]), s)
		return out, nil
	})
	op.diffWRT = []bool{true}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		scratch := make([]float32, s.ProbsLen())
		dqkv := dense(make([]float32, rows*3*C), rows, 3*C)
		back := newOp("CausalAttentionGrad", []int{2, 2}, tensor.Shape{rows, 3 * C}, func(v []G.Value) (G.Value, error) {
			kernels.AttentionBackward(f32s(dqkv), f32s(v[1]), f32s(v[0]), probs, scratch, s)
			return dqkv, nil
		})
		g, err := apply(back, in[0], grad)
		return G.Nodes{g}, err
	}
	return apply(op, qkv)
}

// dropout zeroes each element with probability p and scales the rest by 1/(1−p), drawing its
// mask from rng (the model's seeded generator) on every run.
func dropout(x *G.Node, p float64, rng *rand.Rand) (*G.Node, error) {
	shape := x.Shape().Clone()
	n := shape.TotalSize()
	out, mask := dense(make([]float32, n), shape...), make([]float32, n)
	scale := float32(1 / (1 - p))
	op := newOp("Dropout", []int{x.Dims()}, shape, func(in []G.Value) (G.Value, error) {
		o, xv := f32s(out), f32s(in[0])
		for i := range mask {
			if rng.Float64() < p {
				mask[i] = 0
			} else {
				mask[i] = scale
			}
			o[i] = xv[i] * mask[i]
		}
		return out, nil
	})
	op.diffWRT = []bool{true}
	op.symDiff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		dx := dense(make([]float32, n), shape...)
		back := newOp("DropoutGrad", []int{x.Dims()}, shape, func(v []G.Value) (G.Value, error) {
			d, g := f32s(dx), f32s(v[0])
			for i := range d {
				d[i] = g[i] * mask[i]
			}
			return dx, nil
		})
		g, err := apply(back, grad)
		return G.Nodes{g}, err
	}
	return apply(op, x)
}

// crossEntropy is the weighted mean next-token cross-entropy of logits [rows, vocab] against
// targets, a scalar. targets and weights are read on every run (the caller refills them).
func crossEntropy(logits *G.Node, targets []int32, weights []float32) (*G.Node, error) {
	rows, V := logits.Shape()[0], logits.Shape()[1]
	probs, nll := make([]float32, rows*V), make([]float32, rows)
	loss := G.NewF32(0)
	var wsum float64
	op := newOp("CrossEntropy", []int{2}, tensor.ScalarShape(), func(in []G.Value) (G.Value, error) {
		var l float64
		l, wsum = kernels.CrossEntropyForward(probs, nll, f32s(in[0]), targets, weights, rows, V)
		*loss = G.F32(l)
		return loss, nil
	})
	op.diffWRT = []bool{true}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		dlogits := dense(make([]float32, rows*V), rows, V)
		back := newOp("CrossEntropyGrad", []int{2, 0}, tensor.Shape{rows, V}, func(v []G.Value) (G.Value, error) {
			kernels.CrossEntropyBackward(f32s(dlogits), probs, targets, weights, rows, V, scalarOf(v[1]), wsum)
			return dlogits, nil
		})
		g, err := apply(back, in[0], grad)
		return G.Nodes{g}, err
	}
	return apply(op, logits)
}

// logProbs gathers log softmax(logits)[target] per row, a vector [rows].
func logProbs(logits *G.Node, targets []int32) (*G.Node, error) {
	rows, V := logits.Shape()[0], logits.Shape()[1]
	probs := make([]float32, rows*V)
	out := dense(make([]float32, rows), rows)
	op := newOp("LogProbs", []int{2}, tensor.Shape{rows}, func(in []G.Value) (G.Value, error) {
		kernels.LogProbForward(f32s(out), probs, f32s(in[0]), targets, rows, V)
		return out, nil
	})
	op.diffWRT = []bool{true}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		dlogits := dense(make([]float32, rows*V), rows, V)
		back := newOp("LogProbsGrad", []int{2, 1}, tensor.Shape{rows, V}, func(v []G.Value) (G.Value, error) {
			kernels.LogProbBackward(f32s(dlogits), probs, targets, f32s(v[1]), rows, V)
			return dlogits, nil
		})
		g, err := apply(back, in[0], grad)
		return G.Nodes{g}, err
	}
	return apply(op, logits)
}

// scalarHead computes hidden·w + b for every row of hidden [rows, width]: a vector [rows]
// (the reward or value of each position).
func scalarHead(hidden, w, b *G.Node) (*G.Node, error) {
	rows, C := hidden.Shape()[0], hidden.Shape()[1]
	out := dense(make([]float32, rows), rows)
	op := newOp("ScalarHead", []int{2, 1, 1}, tensor.Shape{rows}, func(in []G.Value) (G.Value, error) {
		h, wv, bv, o := f32s(in[0]), f32s(in[1]), f32s(in[2]), f32s(out)
		for r := range o {
			s := bv[0]
			for j, x := range h[r*C : (r+1)*C] {
				s += x * wv[j]
			}
			o[r] = s
		}
		return out, nil
	})
	op.diffWRT = []bool{true, true, true}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		dh := dense(make([]float32, rows*C), rows, C)
		dw, db := dense(make([]float32, C), C), dense(make([]float32, 1), 1)
		back := newOp("ScalarHeadGrad", []int{2, 1, 1}, tensor.Shape{rows, C}, func(v []G.Value) (G.Value, error) {
			h, wv, g := f32s(v[0]), f32s(v[1]), f32s(v[2])
			d, gw, gb := f32s(dh), f32s(dw), f32s(db)
			clear(gw)
			gb[0] = 0
			for r, gr := range g {
				hr, dr := h[r*C:(r+1)*C], d[r*C:(r+1)*C]
				for j := range dr {
					dr[j] = gr * wv[j]
					gw[j] += gr * hr[j]
				}
				gb[0] += gr
			}
			return dh, nil
		})
		gh, err := apply(back, in[0], in[1], grad)
		if err != nil {
			return nil, err
		}
		gw, err := readOut("ScalarHeadGradW", dw, gh)
		if err != nil {
			return nil, err
		}
		gb, err := readOut("ScalarHeadGradB", db, gh)
		return G.Nodes{gh, gw, gb}, err
	}
	return apply(op, hidden, w, b)
}

// LossFunc turns a per-row vector (log-probabilities or values) into a scalar loss. It writes
// dloss/dx into grad (same length as x) and returns the loss. Stages define their objectives
// (PPO's clipped surrogate, DPO, the pairwise ranking loss) as LossFuncs in plain Go.
type LossFunc func(x, grad []float32) float64

// vectorLoss applies a LossFunc to a vector node, giving a scalar.
func vectorLoss(x *G.Node, f LossFunc) (*G.Node, error) {
	n := x.Shape().TotalSize()
	grad := make([]float32, n)
	loss := G.NewF32(0)
	op := newOp("VectorLoss", []int{1}, tensor.ScalarShape(), func(in []G.Value) (G.Value, error) {
		*loss = G.F32(f(f32s(in[0]), grad))
		return loss, nil
	})
	op.diffWRT = []bool{true}
	op.symDiff = func(_ G.Nodes, _, g *G.Node) (G.Nodes, error) {
		dx := dense(make([]float32, n), n)
		back := newOp("VectorLossGrad", []int{0}, tensor.Shape{n}, func(v []G.Value) (G.Value, error) {
			s := float32(scalarOf(v[0]))
			d := f32s(dx)
			for i, gi := range grad {
				d[i] = s * gi
			}
			return dx, nil
		})
		d, err := apply(back, g)
		return G.Nodes{d}, err
	}
	return apply(op, x)
}
