package model

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/tinychat-go/tinychat/internal/blas"
	"github.com/tinychat-go/tinychat/internal/kernels"
)

// The fused layers as graph nodes. Each declares its buffers to the builder's planner (the
// values its nodes return and the state its backward pass reads), which gives them memory once
// the whole graph is known (plan.go); its backward buffers are declared when the backward graph
// is built (symDiff), so a graph that never trains has none. The gradients of weights are
// added straight into their Param.Grad by the backward pass.

// builder is the state shared by the layers while a graph is built.
type builder struct {
	mem *planner
	// params maps the nodes of weights to their parameters, whose Grad the backward pass adds to.
	params map[*G.Node]*Param
	// block and backward tag the ops made now: the transformer block (−1 outside blocks) and
	// whether they belong to the backward pass (for recomputing a block's activations).
	block    int
	backward bool
	// recomputing is set by the executor while it runs a block's forward nodes again.
	recomputing bool
	// gemm is the linear layers' matrix product: blas.Sgemm, or blas.SgemmBF16 for BF16.
	gemm func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
}

func newBuilder(p Precision) *builder {
	gemm := blas.Sgemm
	if p == BF16 {
		gemm = blas.SgemmBF16
	}
	return &builder{mem: newPlanner(), params: map[*G.Node]*Param{}, block: -1, gemm: gemm}
}

// op makes an op tagged with the builder's current block and pass.
func (b *builder) op(name string, inDims []int, shape tensor.Shape, do func([]G.Value) (G.Value, error)) *customOp {
	o := newOp(name, inDims, shape, do)
	o.owner, o.block, o.backward = b, b.block, b.backward
	return o
}

// apply adds op to the graph; out (nil for none) is the planned buffer the node returns and
// uses the op's other buffers.
func (b *builder) apply(op *customOp, out *buffer, uses []use, in ...*G.Node) (*G.Node, error) {
	n, err := apply(op, in...)
	if err != nil {
		return nil, err
	}
	if out != nil {
		b.mem.valueOf[n] = out
	}
	b.mem.uses[n] = append(b.mem.uses[n], uses...)
	return n, nil
}

// grad returns the gradient of the parameter whose node is n.
func (b *builder) grad(n *G.Node) (*paramGrad, error) {
	p := b.params[n]
	if p == nil {
		return nil, fmt.Errorf("model: %s is not a parameter, and only parameters are differentiated here", n.Name())
	}
	if p.Grad == nil {
		p.Grad = make([]float32, len(p.Data))
	}
	return &paramGrad{p: p, shape: n.Shape().Clone()}, nil
}

// grads is grad for two parameters (a weight and its bias).
func (b *builder) grads(w, bias *G.Node) (*paramGrad, *paramGrad, error) {
	gw, err := b.grad(w)
	if err != nil {
		return nil, nil, err
	}
	gb, err := b.grad(bias)
	return gw, gb, err
}

// paramGrad is a parameter's Grad as the backward pass adds to it. It reads p.Grad on every
// run, so a Grad replaced after the graph was built is the one written.
type paramGrad struct {
	p     *Param
	shape tensor.Shape
	t     *tensor.Dense
}

// data returns the parameter's Grad, allocating it if it is nil.
func (g *paramGrad) data() ([]float32, error) {
	switch len(g.p.Grad) {
	case len(g.p.Data):
		return g.p.Grad, nil
	case 0:
		g.p.Grad = make([]float32, len(g.p.Data))
		return g.p.Grad, nil
	}
	return nil, fmt.Errorf("parameter %s has %d gradient values for %d weights", g.p.Name, len(g.p.Grad), len(g.p.Data))
}

// gradData returns the Grad slices of a weight and its bias (no allocation: it runs every step).
func gradData(w, bias *paramGrad) ([]float32, []float32, error) {
	gw, err := w.data()
	if err != nil {
		return nil, nil, err
	}
	gb, err := bias.data()
	return gw, gb, err
}

// value returns the Grad as a tensor (the value of the parameter's gradient node).
func (g *paramGrad) value() *tensor.Dense {
	if g.t == nil || !sameSlice(g.t.Float32s(), g.p.Grad) {
		g.t = dense(g.p.Grad, g.shape...)
	}
	return g.t
}

// gradNode returns a node whose value is the parameter gradient g, filled by after's op.
func gradNode(name string, g *paramGrad, after *G.Node) (*G.Node, error) {
	op := newOp(name, []int{after.Dims()}, g.shape, func([]G.Value) (G.Value, error) { return g.value(), nil })
	return apply(op, after)
}

func w(b *buffer) use { return use{b: b, write: true} }
func r(b *buffer) use { return use{b: b} }

// embedding returns wte[idx] + wpe[position] for the token IDs in idx (len rows, position =
// row mod block).
func (b *builder) embedding(wte, wpe *G.Node, idx, pos []int32, block int) (*G.Node, error) {
	C := wte.Shape()[1]
	n := len(idx)
	out := b.mem.value(n, C)
	op := b.op("Embedding", []int{2, 2}, tensor.Shape{n, C}, func(in []G.Value) (G.Value, error) {
		kernels.EmbeddingForward(out.data, f32s(in[0]), f32s(in[1]), idx, pos, block, C)
		return out.t, nil
	})
	op.diffWRT = []bool{true, true}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		dwte, dwpe, err := b.grads(wte, wpe)
		if err != nil {
			return nil, err
		}
		back := b.op("EmbeddingGrad", []int{2}, wte.Shape().Clone(), func(g []G.Value) (G.Value, error) {
			te, pe, err := gradData(dwte, dwpe)
			if err != nil {
				return nil, err
			}
			kernels.EmbeddingBackward(te, pe, f32s(g[0]), idx, pos, block, C)
			return dwte.value(), nil
		})
		dte, err := b.apply(back, nil, nil, grad)
		if err != nil {
			return nil, err
		}
		dpe, err := gradNode("EmbeddingGradPos", dwpe, dte)
		return G.Nodes{dte, dpe}, err
	}
	return b.apply(op, out, nil, wte, wpe)
}

// layerNorm normalises the rows of x with affine weight wt and bias bs.
func (b *builder) layerNorm(x, wt, bs *G.Node) (*G.Node, error) {
	rows, cols := x.Shape()[0], x.Shape()[1]
	out := b.mem.value(rows, cols)
	mean, rstd := b.mem.scratch(rows), b.mem.scratch(rows)
	op := b.op("LayerNorm", []int{2, 1, 1}, tensor.Shape{rows, cols}, func(in []G.Value) (G.Value, error) {
		kernels.LayerNormForward(out.data, mean.data, rstd.data, f32s(in[0]), f32s(in[1]), f32s(in[2]), rows, cols)
		return out.t, nil
	})
	op.diffWRT = []bool{true, true, true}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		pw, pb, err := b.grads(wt, bs)
		if err != nil {
			return nil, err
		}
		dx := b.mem.value(rows, cols)
		dw, db := b.mem.scratch(cols), b.mem.scratch(cols)
		back := b.op("LayerNormGrad", []int{2, 1, 2}, tensor.Shape{rows, cols}, func(v []G.Value) (G.Value, error) {
			gw, gb, err := gradData(pw, pb)
			if err != nil {
				return nil, err
			}
			kernels.LayerNormBackward(dx.data, dw.data, db.data, f32s(v[2]), f32s(v[0]), mean.data, rstd.data, f32s(v[1]), rows, cols)
			for i, d := range dw.data {
				gw[i] += d
			}
			for i, d := range db.data {
				gb[i] += d
			}
			return dx.t, nil
		})
		gx, err := b.apply(back, dx, []use{r(mean), r(rstd), w(dw), w(db)}, in[0], in[1], grad)
		if err != nil {
			return nil, err
		}
		gw, err := gradNode("LayerNormGradW", pw, gx)
		if err != nil {
			return nil, err
		}
		gb, err := gradNode("LayerNormGradB", pb, gx)
		return G.Nodes{gx, gw, gb}, err
	}
	return b.apply(op, out, []use{w(mean), w(rstd)}, x, wt, bs)
}

// matMul returns x·W, or x·Wᵀ when transW is set (the tied LM head reads the token embedding
// [vocab, width] this way, so no transposed copy is made). W's gradient is added to its
// parameter's Grad.
func (b *builder) matMul(x, wt *G.Node, transW bool) (*G.Node, error) {
	M, K := x.Shape()[0], x.Shape()[1]
	N := wt.Shape()[1]
	if transW {
		N = wt.Shape()[0]
	}
	out := b.mem.value(M, N)
	op := b.op("MatMul", []int{2, 2}, tensor.Shape{M, N}, func(in []G.Value) (G.Value, error) {
		b.gemm(false, transW, M, N, K, 1, f32s(in[0]), K, f32s(in[1]), ldOf(in[1]), 0, out.data, N)
		return out.t, nil
	})
	op.diffWRT = []bool{true, true}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		dw, err := b.grad(wt)
		if err != nil {
			return nil, err
		}
		dx := b.mem.value(M, K)
		gxOp := b.op("MatMulGradX", []int{2, 2}, tensor.Shape{M, K}, func(v []G.Value) (G.Value, error) {
			// dx = g·op(W)ᵀ
			b.gemm(false, !transW, M, K, N, 1, f32s(v[0]), N, f32s(v[1]), ldOf(v[1]), 0, dx.data, K)
			return dx.t, nil
		})
		gwOp := b.op("MatMulGradW", []int{2, 2}, wt.Shape().Clone(), func(v []G.Value) (G.Value, error) {
			g, err := dw.data()
			if err != nil {
				return nil, err
			}
			if transW { // dW += gᵀ·x, [N, K]
				b.gemm(true, false, N, K, M, 1, f32s(v[1]), N, f32s(v[0]), K, 1, g, K)
			} else { // dW += xᵀ·g, [K, N]
				b.gemm(true, false, K, N, M, 1, f32s(v[0]), K, f32s(v[1]), N, 1, g, N)
			}
			return dw.value(), nil
		})
		gx, err := b.apply(gxOp, dx, nil, grad, in[1])
		if err != nil {
			return nil, err
		}
		gw, err := b.apply(gwOp, nil, nil, in[0], grad)
		return G.Nodes{gx, gw}, err
	}
	return b.apply(op, out, nil, x, wt)
}

// ldOf is the leading dimension (row length) of a row-major matrix value.
func ldOf(v G.Value) int { return v.Shape()[1] }

// add returns x + y (the residual connection).
func (b *builder) add(x, y *G.Node) (*G.Node, error) {
	shape := x.Shape().Clone()
	out := b.mem.value(shape...)
	op := b.op("Add", []int{x.Dims(), y.Dims()}, shape, func(in []G.Value) (G.Value, error) {
		kernels.Add(out.data, f32s(in[0]), f32s(in[1]))
		return out.t, nil
	})
	op.diffWRT = []bool{true, true}
	op.symDiff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) { return G.Nodes{grad, grad}, nil }
	return b.apply(op, out, nil, x, y)
}

// gelu applies GELU (tanh form) element-wise.
func (b *builder) gelu(x *G.Node) (*G.Node, error) {
	shape := x.Shape().Clone()
	out := b.mem.value(shape...)
	op := b.op("GELU", []int{x.Dims()}, shape, func(in []G.Value) (G.Value, error) {
		kernels.GELUForward(out.data, nil, f32s(in[0]))
		return out.t, nil
	})
	op.diffWRT = []bool{true}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		dx := b.mem.value(shape...)
		back := b.op("GELUGrad", []int{x.Dims(), x.Dims()}, shape, func(v []G.Value) (G.Value, error) {
			// The tanh terms are recomputed from x (the same bits as saved ones): cheaper
			// than a buffer as large as x written forward and read back.
			kernels.GELUBackward(dx.data, f32s(v[1]), f32s(v[0]), nil)
			return dx.t, nil
		})
		g, err := b.apply(back, dx, nil, in[0], grad)
		return G.Nodes{g}, err
	}
	return b.apply(op, out, nil, x)
}

// attention is fused causal multi-head self-attention over qkv [batch·block, 3·width].
func (b *builder) attention(qkv *G.Node, pos []int32, s kernels.AttentionShape) (*G.Node, error) {
	rows, C := s.Batch*s.Block, s.Width()
	out, probs := b.mem.value(rows, C), b.mem.scratch(s.ProbsLen())
	op := b.op("CausalAttention", []int{2}, tensor.Shape{rows, C}, func(in []G.Value) (G.Value, error) {
		kernels.AttentionForward(out.data, probs.data, f32s(in[0]), pos, s)
		return out.t, nil
	})
	op.diffWRT = []bool{true}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		scratch := b.mem.scratch(s.ProbsLen())
		dqkv := b.mem.value(rows, 3*C)
		back := b.op("CausalAttentionGrad", []int{2, 2}, tensor.Shape{rows, 3 * C}, func(v []G.Value) (G.Value, error) {
			kernels.AttentionBackward(dqkv.data, f32s(v[1]), f32s(v[0]), probs.data, scratch.data, s)
			return dqkv.t, nil
		})
		g, err := b.apply(back, dqkv, []use{r(probs), w(scratch)}, in[0], grad)
		return G.Nodes{g}, err
	}
	return b.apply(op, out, []use{w(probs)}, qkv)
}

// dropout zeroes each element with probability p and scales the rest by 1/(1−p), drawing its
// mask from rng (the model's seeded generator) on every run; a recomputation of the forward
// pass reuses the run's mask.
func (b *builder) dropout(x *G.Node, p float64, rng *rand.Rand) (*G.Node, error) {
	shape := x.Shape().Clone()
	n := shape.TotalSize()
	out, mask := b.mem.value(shape...), b.mem.scratch(n)
	mask.drawn = true
	scale := float32(1 / (1 - p))
	op := b.op("Dropout", []int{x.Dims()}, shape, func(in []G.Value) (G.Value, error) {
		o, xv, m := out.data, f32s(in[0]), mask.data
		if b.recomputing {
			for i, s := range m {
				o[i] = xv[i] * s
			}
			return out.t, nil
		}
		for i := range m {
			if rng.Float64() < p {
				m[i] = 0
			} else {
				m[i] = scale
			}
			o[i] = xv[i] * m[i]
		}
		return out.t, nil
	})
	op.diffWRT = []bool{true}
	op.symDiff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		dx := b.mem.value(shape...)
		back := b.op("DropoutGrad", []int{x.Dims()}, shape, func(v []G.Value) (G.Value, error) {
			d, g := dx.data, f32s(v[0])
			for i, s := range mask.data {
				d[i] = g[i] * s
			}
			return dx.t, nil
		})
		g, err := b.apply(back, dx, []use{r(mask)}, grad)
		return G.Nodes{g}, err
	}
	return b.apply(op, out, []use{w(mask)}, x)
}

// crossEntropy is the weighted mean next-token cross-entropy of logits [rows, vocab] against
// targets, a scalar. targets and weights are read on every run (the caller refills them). The
// backward pass writes the logits' gradient over the softmax it saved.
func (b *builder) crossEntropy(logits *G.Node, targets []int32, weights []float32) (*G.Node, error) {
	rows, V := logits.Shape()[0], logits.Shape()[1]
	probs, nll := b.mem.value(rows, V), b.mem.scratch(rows)
	loss := G.NewF32(0)
	var wsum float64
	op := b.op("CrossEntropy", []int{2}, tensor.ScalarShape(), func(in []G.Value) (G.Value, error) {
		var l float64
		l, wsum = kernels.CrossEntropyForward(probs.data, nll.data, f32s(in[0]), targets, weights, rows, V)
		*loss = G.F32(l)
		return loss, nil
	})
	op.diffWRT = []bool{true}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		back := b.op("CrossEntropyGrad", []int{2, 0}, tensor.Shape{rows, V}, func(v []G.Value) (G.Value, error) {
			kernels.CrossEntropyBackward(probs.data, probs.data, targets, weights, rows, V, scalarOf(v[1]), wsum)
			return probs.t, nil
		})
		g, err := b.apply(back, probs, []use{r(probs)}, in[0], grad)
		return G.Nodes{g}, err
	}
	return b.apply(op, nil, []use{w(probs), w(nll)}, logits)
}

// logProbs gathers log softmax(logits)[target] per row, a vector [rows]. The backward pass
// writes the logits' gradient over the softmax it saved.
func (b *builder) logProbs(logits *G.Node, targets []int32) (*G.Node, error) {
	rows, V := logits.Shape()[0], logits.Shape()[1]
	probs, out := b.mem.value(rows, V), b.mem.value(rows)
	op := b.op("LogProbs", []int{2}, tensor.Shape{rows}, func(in []G.Value) (G.Value, error) {
		kernels.LogProbForward(out.data, probs.data, f32s(in[0]), targets, rows, V)
		return out.t, nil
	})
	op.diffWRT = []bool{true}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		back := b.op("LogProbsGrad", []int{2, 1}, tensor.Shape{rows, V}, func(v []G.Value) (G.Value, error) {
			kernels.LogProbBackward(probs.data, probs.data, targets, f32s(v[1]), rows, V)
			return probs.t, nil
		})
		g, err := b.apply(back, probs, []use{r(probs)}, in[0], grad)
		return G.Nodes{g}, err
	}
	return b.apply(op, out, []use{w(probs)}, logits)
}

// scalarHead computes hidden·w + b for every row of hidden [rows, width]: a vector [rows]
// (the reward or value of each position).
func (b *builder) scalarHead(hidden, wt, bs *G.Node) (*G.Node, error) {
	rows, C := hidden.Shape()[0], hidden.Shape()[1]
	out := b.mem.value(rows)
	op := b.op("ScalarHead", []int{2, 1, 1}, tensor.Shape{rows}, func(in []G.Value) (G.Value, error) {
		h, wv, bv, o := f32s(in[0]), f32s(in[1]), f32s(in[2]), out.data
		for r := range o {
			s := bv[0]
			for j, x := range h[r*C : (r+1)*C] {
				s += x * wv[j]
			}
			o[r] = s
		}
		return out.t, nil
	})
	op.diffWRT = []bool{true, true, true}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		gw, gb, err := b.grads(wt, bs)
		if err != nil {
			return nil, err
		}
		dh := b.mem.value(rows, C)
		back := b.op("ScalarHeadGrad", []int{2, 1, 1}, tensor.Shape{rows, C}, func(v []G.Value) (G.Value, error) {
			dw, db, err := gradData(gw, gb)
			if err != nil {
				return nil, err
			}
			h, wv, g, d := f32s(v[0]), f32s(v[1]), f32s(v[2]), dh.data
			for r, gr := range g {
				hr, dr := h[r*C:(r+1)*C], d[r*C:(r+1)*C]
				for j := range dr {
					dr[j] = gr * wv[j]
					dw[j] += gr * hr[j]
				}
				db[0] += gr
			}
			return dh.t, nil
		})
		gh, err := b.apply(back, dh, nil, in[0], in[1], grad)
		if err != nil {
			return nil, err
		}
		gwn, err := gradNode("ScalarHeadGradW", gw, gh)
		if err != nil {
			return nil, err
		}
		gbn, err := gradNode("ScalarHeadGradB", gb, gh)
		return G.Nodes{gh, gwn, gbn}, err
	}
	return b.apply(op, out, nil, hidden, wt, bs)
}

// LossFunc turns a per-row vector (log-probabilities or values) into a scalar loss. It writes
// dloss/dx into grad (same length as x) and returns the loss. Stages define their objectives
// (PPO's clipped surrogate, DPO, the pairwise ranking loss) as LossFuncs in plain Go.
type LossFunc func(x, grad []float32) float64

// vectorLoss applies a LossFunc to a vector node, giving a scalar.
func (b *builder) vectorLoss(x *G.Node, f LossFunc) (*G.Node, error) {
	n := x.Shape().TotalSize()
	grad := b.mem.scratch(n)
	loss := G.NewF32(0)
	op := b.op("VectorLoss", []int{1}, tensor.ScalarShape(), func(in []G.Value) (G.Value, error) {
		*loss = G.F32(f(f32s(in[0]), grad.data))
		return loss, nil
	})
	op.diffWRT = []bool{true}
	op.symDiff = func(_ G.Nodes, _, g *G.Node) (G.Nodes, error) {
		dx := b.mem.value(n)
		back := b.op("VectorLossGrad", []int{0}, tensor.Shape{n}, func(v []G.Value) (G.Value, error) {
			s := float32(scalarOf(v[0]))
			for i, gi := range grad.data {
				dx.data[i] = s * gi
			}
			return dx.t, nil
		})
		d, err := b.apply(back, dx, []use{r(grad)}, g)
		return G.Nodes{d}, err
	}
	return b.apply(op, nil, []use{w(grad)}, x)
}
