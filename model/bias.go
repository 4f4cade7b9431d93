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
	y, err := gr.b.matMul(x, param(prefix+".weight"), false)
	if err != nil || !gr.model.Config.LinearBias {
		return y, err
	}
	return gr.b.addBias(y, param(prefix+".bias"))
}

// addBias returns x + bias with bias [cols] added to every row of x [rows, cols]; the gradient
// of the bias, the column sum of the incoming gradient, is added to its parameter's Grad.
func (b *builder) addBias(x, bias *G.Node) (*G.Node, error) {
	rows, cols := x.Shape()[0], x.Shape()[1]
	out := b.mem.value(rows, cols)
	op := b.op("AddBias", []int{2, 1}, tensor.Shape{rows, cols}, func(in []G.Value) (G.Value, error) {
		addBiasRows(out.data, f32s(in[0]), f32s(in[1]))
		return out.t, nil
	})
	op.diffWRT = []bool{true, true}
	op.symDiff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		db, err := b.grad(bias)
		if err != nil {
			return nil, err
		}
		back := b.op("AddBiasGrad", []int{2}, tensor.Shape{cols}, func(v []G.Value) (G.Value, error) {
			d, err := db.data()
			if err != nil {
				return nil, err
			}
			g := f32s(v[0])
			for r := 0; r < rows; r++ {
				for j, x := range g[r*cols : (r+1)*cols] {
					d[j] += x
				}
			}
			return db.value(), nil
		})
		gb, err := b.apply(back, nil, nil, grad)
		return G.Nodes{grad, gb}, err
	}
	return b.apply(op, out, nil, x, bias)
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
