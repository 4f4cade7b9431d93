package model

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file adapts the plain-Go kernels (package kernels) to gorgonia: every fused operation is
// one customOp whose forward and backward passes are closures over a state struct that owns the
// buffers. Buffers are allocated when the graph is built and reused on every run, so a training
// step allocates no tensors of its own.
//
// Backward passes that produce several gradients (LayerNorm's dx, dw and db, say) compute them
// all in one backward node, which returns the first; the others are read out of the state by
// zero-cost nodes that depend on the backward node, which keeps gorgonia's execution order.

var opCounter atomic.Int64

// customOp implements gorgonia's Op and SDOp interfaces with closures.
type customOp struct {
	name    string
	id      int64
	inDims  []int // number of dimensions of each input; 0 is a float32 scalar
	outDims int   // 0 is a float32 scalar
	shape   tensor.Shape
	do      func(in []G.Value) (G.Value, error)
	diffWRT []bool
	symDiff func(in G.Nodes, out, grad *G.Node) (G.Nodes, error)
}

func newOp(name string, inDims []int, shape tensor.Shape, do func([]G.Value) (G.Value, error)) *customOp {
	return &customOp{name: name, id: opCounter.Add(1), inDims: inDims, outDims: shape.Dims(), shape: shape, do: do}
}

func dimType(d int) hm.Type {
	if d == 0 {
		return tensor.Float32
	}
	return G.TensorType{Dims: d, Of: tensor.Float32}
}

func (o *customOp) Arity() int { return len(o.inDims) }
func (o *customOp) Type() hm.Type {
	ts := make([]hm.Type, 0, len(o.inDims)+1)
	for _, d := range o.inDims {
		ts = append(ts, dimType(d))
	}
	return hm.NewFnType(append(ts, dimType(o.outDims))...)
}
func (o *customOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return o.shape.Clone(), nil }
func (o *customOp) Do(in ...G.Value) (G.Value, error)              { return o.do(in) }
func (o *customOp) ReturnsPtr() bool                               { return true }
func (o *customOp) CallsExtern() bool                              { return false }
func (o *customOp) OverwritesInput() int                           { return -1 }
func (o *customOp) WriteHash(h hash.Hash)                          { fmt.Fprintf(h, "%s#%d", o.name, o.id) }
func (o *customOp) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}
func (o *customOp) String() string { return o.name }
func (o *customOp) DiffWRT(n int) []bool {
	if o.diffWRT != nil {
		return o.diffWRT
	}
	return make([]bool, n)
}
func (o *customOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if o.symDiff == nil {
		return nil, fmt.Errorf("model: op %s is not differentiable", o.name)
	}
	return o.symDiff(in, out, grad)
}

// apply adds op to the graph with the given inputs.
func apply(op *customOp, in ...*G.Node) (*G.Node, error) {
	n, err := G.ApplyOp(op, in...)
	if err != nil {
		return nil, fmt.Errorf("model: building %s: %w", op.name, err)
	}
	return n, nil
}

// readOut returns a node whose value is v, computed after the node after (a backward node that
// filled v as a side effect).
func readOut(name string, v G.Value, after *G.Node) (*G.Node, error) {
	var shape tensor.Shape
	if t, ok := v.(tensor.Tensor); ok {
		shape = t.Shape().Clone()
	} else {
		shape = tensor.ScalarShape()
	}
	op := newOp(name, []int{after.Dims()}, shape, func([]G.Value) (G.Value, error) { return v, nil })
	return apply(op, after)
}

// dense wraps buf as a float32 tensor of the given shape.
func dense(buf []float32, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(buf))
}

// f32s returns the float32 backing slice of a tensor value.
func f32s(v G.Value) []float32 {
	if d, ok := v.(float32Backed); ok {
		return d.Float32s() // no allocation, unlike Data()'s boxed slice
	}
	return v.Data().([]float32)
}

// float32Backed is implemented by *tensor.Dense (through its storage header).
type float32Backed interface{ Float32s() []float32 }

// scalarOf returns a scalar value's float32.
func scalarOf(v G.Value) float64 {
	switch d := v.Data().(type) {
	case float32:
		return float64(d)
	case []float32:
		return float64(d[0])
	case float64:
		return d
	}
	return 0
}
