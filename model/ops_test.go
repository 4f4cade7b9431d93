package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/tinychat-go/tinychat/internal/kernels"
)

// Finite-difference gradient checks of every custom op, in float32.
//
// Each check builds out = op(inputs), reduces it to L = Σ rᵢ·outᵢ (r fixed and random, the sum
// in float64), backpropagates with gorgonia, and compares every analytic dL/dinput with the
// central difference (L(x+ε) − L(x−ε)) / 2ε, ε = 1e-2. Tolerance: |fd − analytic| ≤
// 5e-3 + 2e-2·|analytic| (float32 round-off in L divided by 2ε is about 1e-3 here).
const (
	fdEps  = 1e-2
	fdAtol = 5e-3
	fdRtol = 2e-2
)

// dotLoss reduces x to Σ rᵢ·xᵢ.
func dotLoss(b *builder, x *G.Node, r []float32) (*G.Node, error) {
	flat := x
	if x.Dims() != 1 {
		n := x.Shape().TotalSize()
		op := newOp("Flatten", []int{x.Dims()}, tensor.Shape{n}, func(in []G.Value) (G.Value, error) {
			return dense(f32s(in[0]), n), nil
		})
		op.diffWRT = []bool{true}
		shape := x.Shape().Clone()
		op.symDiff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
			back := newOp("Unflatten", []int{1}, shape, func(v []G.Value) (G.Value, error) {
				return dense(f32s(v[0]), shape...), nil
			})
			g, err := apply(back, grad)
			return G.Nodes{g}, err
		}
		var err error
		if flat, err = apply(op, x); err != nil {
			return nil, err
		}
	}
	return b.vectorLoss(flat, func(x, grad []float32) float64 {
		var s float64
		for i, v := range x {
			s += float64(r[i]) * float64(v)
			grad[i] = r[i]
		}
		return s
	})
}

type fdInput struct {
	name  string
	shape []int
	scale float64 // std of the random values
	data  []float32
}

// checkGrad runs the finite-difference check for build applied to the given inputs.
func checkGrad(t *testing.T, seed uint64, inputs []*fdInput, build func(b *builder, in G.Nodes) (*G.Node, error)) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	g := G.NewGraph()
	b := newBuilder(FP32)
	var nodes G.Nodes
	for _, in := range inputs {
		in.data = make([]float32, size(in.shape))
		for i := range in.data {
			in.data[i] = float32(rng.NormFloat64() * in.scale)
		}
		n := G.NewTensor(g, tensor.Float32, len(in.shape), G.WithShape(in.shape...),
			G.WithName(in.name), G.WithValue(dense(in.data, in.shape...)))
		// Every input may be a weight, whose gradient the ops add to its Grad.
		b.params[n] = &Param{Name: in.name, Shape: in.shape, Data: in.data}
		nodes = append(nodes, n)
	}
	out, err := build(b, nodes)
	require.NoError(t, err)
	r := make([]float32, out.Shape().TotalSize())
	for i := range r {
		r[i] = float32(rng.NormFloat64())
	}
	loss, err := dotLoss(b, out, r)
	require.NoError(t, err)
	grads, err := G.Grad(loss, nodes...)
	require.NoError(t, err)
	for _, gn := range grads {
		if buf := b.mem.valueOf[gn]; buf != nil {
			buf.kept = true
		}
	}
	e, err := b.mem.compile(g, SeparateBuffers, false, nil)
	require.NoError(t, err)
	run := func() float64 {
		require.NoError(t, e.run())
		return scalarOf(e.vals[e.index(loss)])
	}
	run()
	// The first run's gradients: a weight's Grad starts at zero, and later runs add to it.
	analytic := make([][]float32, len(inputs))
	for i, gn := range grads {
		analytic[i] = append([]float32(nil), f32s(e.vals[e.index(gn)])...)
	}
	for i, in := range inputs {
		bad := 0
		for j := range in.data {
			orig := in.data[j]
			in.data[j] = orig + fdEps
			lp := run()
			in.data[j] = orig - fdEps
			lm := run()
			in.data[j] = orig
			fd := (lp - lm) / (2 * fdEps)
			an := float64(analytic[i][j])
			if math.Abs(fd-an) > fdAtol+fdRtol*math.Abs(an) {
				if bad < 5 {
					t.Errorf("d/d%s[%d]: analytic %.6g, finite difference %.6g", in.name, j, an, fd)
				}
				bad++
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d gradient entries wrong", in.name, bad, len(in.data))
		}
	}
}

func TestGradLayerNorm(t *testing.T) {
	in := []*fdInput{{name: "x", shape: []int{7, 13}, scale: 1}, {name: "w", shape: []int{13}, scale: 1}, {name: "b", shape: []int{13}, scale: 1}}
	checkGrad(t, 1, in, func(b *builder, n G.Nodes) (*G.Node, error) { return b.layerNorm(n[0], n[1], n[2]) })
}

func TestGradGELU(t *testing.T) {
	in := []*fdInput{{name: "x", shape: []int{5, 11}, scale: 2}}
	checkGrad(t, 2, in, func(b *builder, n G.Nodes) (*G.Node, error) { return b.gelu(n[0]) })
}

func TestGradMatMul(t *testing.T) {
	for _, trans := range []bool{false, true} {
		t.Run(fmt.Sprintf("transW=%v", trans), func(t *testing.T) {
			wShape := []int{7, 5}
			if trans {
				wShape = []int{5, 7}
			}
			in := []*fdInput{{name: "x", shape: []int{9, 7}, scale: 1}, {name: "w", shape: wShape, scale: 1}}
			checkGrad(t, 3, in, func(b *builder, n G.Nodes) (*G.Node, error) { return b.matMul(n[0], n[1], trans) })
		})
	}
}

func TestGradAdd(t *testing.T) {
	in := []*fdInput{{name: "a", shape: []int{3, 5}, scale: 1}, {name: "b", shape: []int{3, 5}, scale: 1}}
	checkGrad(t, 4, in, func(b *builder, n G.Nodes) (*G.Node, error) { return b.add(n[0], n[1]) })
}

func TestGradAttention(t *testing.T) {
	s := kernels.AttentionShape{Batch: 2, Block: 5, Heads: 3, HeadDim: 4}
	in := []*fdInput{{name: "qkv", shape: []int{s.Batch * s.Block, 3 * s.Width()}, scale: 1}}
	checkGrad(t, 5, in, func(b *builder, n G.Nodes) (*G.Node, error) { return b.attention(n[0], nil, s) })
}

func TestGradEmbedding(t *testing.T) {
	idx := []int32{3, 1, 3, 0, 4, 4, 2, 3} // two rows of block 4, with repeated tokens
	in := []*fdInput{{name: "wte", shape: []int{5, 6}, scale: 1}, {name: "wpe", shape: []int{4, 6}, scale: 1}}
	checkGrad(t, 6, in, func(b *builder, n G.Nodes) (*G.Node, error) { return b.embedding(n[0], n[1], idx, nil, 4) })
}

func TestGradCrossEntropy(t *testing.T) {
	targets := []int32{2, 0, 6, -1, 3, 3, 1}
	weights := []float32{1, 0.5, 0, 1, 2, 1, 1}
	in := []*fdInput{{name: "logits", shape: []int{7, 7}, scale: 2}}
	checkGrad(t, 7, in, func(b *builder, n G.Nodes) (*G.Node, error) {
		l, err := b.crossEntropy(n[0], targets, weights)
		if err != nil {
			return nil, err
		}
		// Lift the scalar to a vector so dotLoss can weight it.
		op := newOp("Lift", []int{0}, tensor.Shape{1}, func(in []G.Value) (G.Value, error) {
			return dense([]float32{float32(scalarOf(in[0]))}, 1), nil
		})
		op.diffWRT = []bool{true}
		op.symDiff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
			back := newOp("LiftGrad", []int{1}, tensor.ScalarShape(), func(v []G.Value) (G.Value, error) {
				return G.NewF32(f32s(v[0])[0]), nil
			})
			g, err := apply(back, grad)
			return G.Nodes{g}, err
		}
		return apply(op, l)
	})
}

func TestGradLogProbs(t *testing.T) {
	targets := []int32{2, 0, 6, -1, 3}
	in := []*fdInput{{name: "logits", shape: []int{5, 7}, scale: 2}}
	checkGrad(t, 8, in, func(b *builder, n G.Nodes) (*G.Node, error) { return b.logProbs(n[0], targets) })
}

func TestGradScalarHead(t *testing.T) {
	in := []*fdInput{{name: "h", shape: []int{6, 5}, scale: 1}, {name: "w", shape: []int{5}, scale: 1}, {name: "b", shape: []int{1}, scale: 1}}
	checkGrad(t, 9, in, func(b *builder, n G.Nodes) (*G.Node, error) { return b.scalarHead(n[0], n[1], n[2]) })
}

// TestGradCheckCanFail makes sure the harness notices a wrong gradient: an op whose backward
// pass is off by a factor must fail the comparison.
func TestGradCheckCanFail(t *testing.T) {
	ft := &testing.T{}
	in := []*fdInput{{name: "x", shape: []int{4}, scale: 1}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		checkGrad(ft, 10, in, func(b *builder, n G.Nodes) (*G.Node, error) {
			out := dense(make([]float32, 4), 4)
			op := newOp("Square", []int{1}, tensor.Shape{4}, func(v []G.Value) (G.Value, error) {
				for i, x := range f32s(v[0]) {
					f32s(out)[i] = x * x
				}
				return out, nil
			})
			op.diffWRT = []bool{true}
			op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
				dx := dense(make([]float32, 4), 4)
				back := newOp("SquareGradWrong", []int{1, 1}, tensor.Shape{4}, func(v []G.Value) (G.Value, error) {
					for i, x := range f32s(v[0]) {
						f32s(dx)[i] = 3 * x * f32s(v[1])[i] // should be 2x
					}
					return dx, nil
				})
				g, err := apply(back, in[0], grad)
				return G.Nodes{g}, err
			}
			return apply(op, n[0])
		})
	}()
	<-done
	require.True(t, ft.Failed(), "a wrong gradient passed the finite-difference check")
}
