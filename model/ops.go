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
// one customOp whose forward and backward passes are closures over the buffers it declared
// (layers.go). gorgonia builds the graph and differentiates it; the graph's executor
// (plan.go) runs it, with the buffers in planned memory, so a training step allocates nothing.
//
// Backward passes that produce several gradients (LayerNorm's dx, dw and db, say) compute them
// all in one backward node, which returns the first; the weights' gradients, added to their
// Param.Grad there, are the values of zero-cost nodes that depend on the backward node
// (gradNode), which keeps gorgonia's execution order.

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
	// owner, when set, is the builder whose tags the backward ops made by symDiff take:
	// block (−1 outside the transformer blocks) and backward say where the op belongs, and
	// blockOutput marks a block's last node (its output is kept, not recomputed).
	owner                 *builder
	block                 int
	backward, blockOutput bool
}

func newOp(name string, inDims []int, shape tensor.Shape, do func([]G.Value) (G.Value, error)) *customOp {
	return &customOp{name: name, id: opCounter.Add(1), inDims: inDims, outDims: shape.Dims(), shape: shape, do: do, block: -1}
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
	if o.owner != nil {
		block, backward := o.owner.block, o.owner.backward
		o.owner.block, o.owner.backward = o.block, true
		defer func() { o.owner.block, o.owner.backward = block, backward }()
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
	switch d := v.(type) {
	case *G.F32: // without Data()'s boxed float32: a step allocates nothing
		return float64(*d)
	case *G.F64:
		return float64(*d)
	}
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
