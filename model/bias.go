package model

import (
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Optional linear-layer biases (Config.LinearBias), as GPT-2 has them: each of the four
// matrices of a block (attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj) gains a ".bias" vector
// added to its output, y = x·W + b.

// linearBiasNames are the weights that have a bias under Config.LinearBias (suffixes of
// "h.N.").
var linearBiasNames = []string{"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"}

// linear returns x·W (+ b when the model has linear biases) for the layer named prefix (such as
// "h.0.attn.c_attn").
func (gr *Graph) linear(x *G.Node, prefix string, param func(string) *G.Node) (*G.Node, error) {
	y, err := matMul(x, param(prefix+".weight"), false)
	if err != nil || !gr.model.Config.LinearBias {
		return y, err
	}
	return addBias(y, param(prefix+".bias"))
}

// addBias returns x + b with b [cols] added to every row of x [rows, cols]; the gradient of b
// is the column sum of the incoming gradient.
func addBias(x, b *G.Node) (*G.Node, error) {
	rows, cols := x.Shape()[0], x.Shape()[1]
	out := dense(make([]float32, rows*cols), rows, cols)
	db := dense(make([]float32, cols), cols)
	op := newOp("AddBias", []int{2, 1}, tensor.Shape{rows, cols}, func(in []G.Value) (G.Value, error) {
		addBiasRows(f32s(out), f32s(in[0]), f32s(in[1]))
		return out, nil
	})
	op.diffWRT = []bool{true, true}
	op.symDiff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		back := newOp("AddBiasGrad", []int{2}, tensor.Shape{cols}, func(v []G.Value) (G.Value, error) {
			d, g := f32s(db), f32s(v[0])
			clear(d)
			for r := 0; r < rows; r++ {
				for j, x := range g[r*cols : (r+1)*cols] {
					d[j] += x
				}
			}
			return db, nil
		})
		gb, err := apply(back, grad)
		return G.Nodes{grad, gb}, err
	}
	return apply(op, x, b)
}

// addBiasRows sets out = x + b row by row (out may be x).
func addBiasRows(out, x, b []float32) {
	cols := len(b)
	for r := 0; r+cols <= len(x); r += cols {
		o, xr := out[r:r+cols], x[r:r+cols]
		for j, v := range b {
			o[j] = xr[j] + v
		}
	}
}

// engBias adds bias p (nil when the model has none) to the n rows of y.
func engBias(y []float32, p *Param, n int) {
	if p == nil {
		return
	}
	y = y[:n*len(p.Data)]
	addBiasRows(y, y, p.Data)
}
