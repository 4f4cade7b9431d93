package model

import (
	"fmt"
	"slices"

	"github.com/tinychat-go/tinychat/internal/kernels"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file is the graph's memory plan and its executor.
//
// Every float buffer a layer needs — the value a node returns, or state an op keeps for its
// backward pass (LayerNorm's statistics, attention's probabilities, a dropout mask) — is a
// *buffer declared while the graph is built, with the nodes that write and read it. Once the
// backward graph exists, the executor fixes the order the nodes run in (gorgonia's
// topological order, with each block's forward nodes run again before its backward nodes when
// the graph recomputes activations), each buffer's lifetime follows from the positions of its
// writes and reads in that schedule, and buffers whose lifetimes do not overlap share memory
// (MemoryPlan SharedBuffers), in an arena of the graph's own or one shared with graphs that
// never run at the same time (Arena). The executor runs the schedule itself, so no value lives
// in a place the plan does not know of.

// MemoryPlan selects how a Graph lays out its buffers.
type MemoryPlan int

const (
	// SharedBuffers, the default, lets buffers whose lifetimes within a run do not overlap use
	// the same memory: the backward pass's buffers of one layer are reused by the next, forward
	// values that no later node reads are reused at once, and a graph that does not train needs
	// the same memory whatever its depth (a layer's activations at a time). Results are
	// bit-identical to SeparateBuffers (TestMemoryPlansGiveIdenticalBits).
	SharedBuffers MemoryPlan = iota
	// SeparateBuffers gives every buffer its own memory, as a graph without a plan would; it is
	// there to check the planner against.
	SeparateBuffers
)

// String names the plan.
func (p MemoryPlan) String() string {
	switch p {
	case SharedBuffers:
		return "shared buffers"
	case SeparateBuffers:
		return "separate buffers"
	}
	return fmt.Sprintf("MemoryPlan(%d)", int(p))
}

// Arena is memory that graphs which never run at the same time share for the buffers they
// need only during a run: activations, their gradients and the state kept for the backward
// pass. Give such graphs — a trainer's training and evaluation graphs, PPO's policy update and
// its pretraining-mix graph — the same GraphConfig.Arena and together they take the memory of
// the largest instead of the sum. Each graph's Loss, Output and Logits stay its own. Running
// two graphs of one arena at the same time is a data race. The zero value is an empty arena
// ready to use; it grows to the largest plan built on it.
type Arena struct {
	buf []float32
	// SharedOutputs puts the graphs' outputs (Output, Logits) in the arena too, so that
	// together the graphs need only the memory of the largest, outputs included: each graph's
	// are then valid only until another graph on the arena runs (Loss is a copy and stays).
	// Set it before the first graph is built on the arena. Graphs makes its arena so.
	SharedOutputs bool
}

// Bytes is the arena's memory.
func (a *Arena) Bytes() int64 { return int64(len(a.buf)) * 4 }

// grow makes the arena hold at least n floats.
func (a *Arena) grow(n int) {
	if n > len(a.buf) {
		a.buf = make([]float32, n)
	}
}

// bufferAlign is the alignment of every buffer in the shared arena, in floats (64 bytes).
const bufferAlign = 16

// buffer is one float32 buffer of the graph; data is set by the plan, before the first run.
type buffer struct {
	n     int
	shape tensor.Shape // set for a node's value, which is also kept as a tensor
	data  []float32
	t     *tensor.Dense
	// kept: read after Run (Output, Logits), so it lives to the end of the schedule.
	kept bool
	// drawn: written by its node's first run only; a recomputation reads it (a dropout mask).
	drawn bool
	// off is the buffer's place in a shared arena (−1: memory of its own).
	off int
}

// use is a node's write or read of an op's own buffer.
type use struct {
	b     *buffer
	write bool
}

// planner collects the buffers and who uses them while the graph is built.
type planner struct {
	bufs    []*buffer
	valueOf map[*G.Node]*buffer // the buffer a node returns (its producer writes it)
	uses    map[*G.Node][]use   // other buffers a node's op writes or reads
}

func newPlanner() *planner {
	return &planner{valueOf: map[*G.Node]*buffer{}, uses: map[*G.Node][]use{}}
}

// scratch declares a buffer of n floats an op keeps for itself.
func (p *planner) scratch(n int) *buffer {
	b := &buffer{n: n, off: -1}
	p.bufs = append(p.bufs, b)
	return b
}

// value declares a buffer of the given shape that a node returns.
func (p *planner) value(shape ...int) *buffer {
	b := &buffer{n: tensor.Shape(shape).TotalSize(), shape: tensor.Shape(shape).Clone(), off: -1}
	p.bufs = append(p.bufs, b)
	return b
}

// step is one execution of a node in the schedule.
type step struct {
	node      int  // index into the executor's nodes
	recompute bool // a block's forward node run again before its backward pass
}

// executor runs a built graph: its nodes in a fixed schedule, each value in its planned buffer.
type executor struct {
	nodes  []*G.Node
	ops    []*customOp // nil for leaves and gorgonia's own ops
	adds   []*buffer   // the buffer of gorgonia's gradient sums (elementwise adds), by node
	inputs [][]int     // children by node index
	args   [][]G.Value
	vals   []G.Value
	steps  []step
	// recomputing is set while a recomputed step runs (dropout then reuses its mask).
	recomputing *bool
	// shared are the buffers placed in arena, bound to bound (its memory when they were given
	// their slices; the arena may have grown since, for a larger graph).
	arena   *Arena
	shared  []*buffer
	bound   *float32
	planned int64 // bytes of the planned buffers
}

// compile orders the graph's nodes, builds the schedule (with each block's forward nodes run
// again before the block's first backward node when recompute is set), plans the buffers and
// allocates them.
func (p *planner) compile(g *G.ExprGraph, plan MemoryPlan, recompute bool, arena *Arena) (*executor, error) {
	sorted, err := G.Sort(g)
	if err != nil {
		return nil, fmt.Errorf("model: ordering the graph: %w", err)
	}
	slices.Reverse(sorted)
	e := &executor{nodes: sorted}
	index := make(map[*G.Node]int, len(sorted))
	for i, n := range sorted {
		index[n] = i
	}
	e.ops = make([]*customOp, len(sorted))
	e.adds = make([]*buffer, len(sorted))
	e.inputs = make([][]int, len(sorted))
	e.args = make([][]G.Value, len(sorted))
	e.vals = make([]G.Value, len(sorted))
	for i, n := range sorted {
		for it := g.From(n.ID()); it.Next(); {
			e.inputs[i] = append(e.inputs[i], index[it.Node().(*G.Node)])
		}
		e.args[i] = make([]G.Value, len(e.inputs[i]))
		switch op := n.Op().(type) {
		case nil:
			e.vals[i] = n.Value()
		case *customOp:
			e.ops[i] = op
		default:
			switch {
			case len(e.inputs[i]) == 0 && n.Value() != nil: // a constant (the loss's seed gradient)
				e.vals[i] = n.Value()
			case isGradientSum(op, n):
				// gorgonia sums the gradients of a node read twice (the residual stream).
				b := p.value(n.Shape()...)
				p.valueOf[n] = b
				e.adds[i] = b
			default:
				return nil, fmt.Errorf("model: the graph has an operation the executor does not run: %v (%T)", op, op)
			}
		}
	}
	// The schedule.
	firstBackward := map[int]bool{}
	for i := range sorted {
		if op := e.ops[i]; recompute && op != nil && op.backward && op.block >= 0 && !firstBackward[op.block] {
			firstBackward[op.block] = true
			for j := range i {
				if f := e.ops[j]; f != nil && !f.backward && f.block == op.block && !f.blockOutput {
					e.steps = append(e.steps, step{node: j, recompute: true})
				}
			}
		}
		if e.ops[i] != nil || e.adds[i] != nil {
			e.steps = append(e.steps, step{node: i})
		}
	}
	// Lifetimes: segments of the schedule from each write of a buffer to its last read before
	// the next write.
	type event struct {
		pos   int
		write bool
	}
	events := map[*buffer][]event{}
	for pos, s := range e.steps {
		n := sorted[s.node]
		// A node reads its inputs before it writes: reads first at each position.
		for _, c := range e.inputs[s.node] {
			if b := p.valueOf[sorted[c]]; b != nil {
				events[b] = append(events[b], event{pos, false})
			}
		}
		for _, u := range p.uses[n] {
			if !u.write || (s.recompute && u.b.drawn) {
				events[u.b] = append(events[u.b], event{pos, false})
			}
		}
		if b := p.valueOf[n]; b != nil {
			events[b] = append(events[b], event{pos, true})
		}
		for _, u := range p.uses[n] {
			if u.write && !(s.recompute && u.b.drawn) {
				events[u.b] = append(events[u.b], event{pos, true})
			}
		}
	}
	var spans []span
	for bi, b := range p.bufs {
		ev := events[b]
		if len(ev) == 0 {
			continue
		}
		if !ev[0].write {
			return nil, fmt.Errorf("model: planning the graph's memory: buffer %d (%d floats) is read before it is written", bi, b.n)
		}
		for k := 0; k < len(ev); {
			s := span{b: b, from: ev[k].pos, to: ev[k].pos}
			for k++; k < len(ev) && !ev[k].write; k++ {
				s.to = ev[k].pos
			}
			spans = append(spans, s)
		}
		if b.kept {
			spans[len(spans)-1].to = len(e.steps)
		}
	}
	private := arena == nil
	if private {
		arena = &Arena{}
	}
	e.arena = arena
	e.planned = int64(layout(spans, plan, arena, !private && !arena.SharedOutputs)) * 4
	for _, b := range p.bufs {
		if b.off >= 0 {
			e.shared = append(e.shared, b)
			continue
		}
		if b.data == nil { // never used in this graph's schedule
			b.data = make([]float32, b.n)
		}
		if b.shape != nil {
			b.t = dense(b.data, b.shape...)
		}
	}
	e.bind()
	return e, nil
}

// bind gives the buffers placed in the arena their slices of its current memory.
func (e *executor) bind() {
	if len(e.shared) == 0 || (e.bound == &e.arena.buf[0]) {
		return
	}
	for _, b := range e.shared {
		b.data = e.arena.buf[b.off : b.off+b.n : b.off+b.n]
		if b.shape != nil {
			b.t = dense(b.data, b.shape...)
		}
	}
	e.bound = &e.arena.buf[0]
}

// isGradientSum reports whether op is gorgonia's elementwise addition of two tensors of n's
// shape, which its backpropagation adds where a node's value is read more than once.
func isGradientSum(op G.Op, n *G.Node) bool {
	return op.Arity() == 2 && len(op.String()) > 0 && op.String()[0] == '+' && n.Shape().Dims() >= 1
}

// span is one segment of a buffer's life: it is written at step from and last read at step to.
type span struct {
	b        *buffer
	from, to int
}

// layout gives each used buffer its memory: under SharedBuffers a place in the arena where
// spans that overlap in time never overlap in memory (the largest buffers are placed first,
// each at the lowest offset that is free for its whole life; when the arena is shared with
// other graphs, the buffers read after a run keep memory of their own, so that each graph keeps
// its outputs), under SeparateBuffers memory of its own. It returns the floats the plan needs.
func layout(spans []span, plan MemoryPlan, arena *Arena, shared bool) int {
	if plan == SeparateBuffers {
		total := 0
		for _, s := range spans {
			if s.b.data == nil {
				s.b.data = make([]float32, s.b.n)
				total += s.b.n
			}
		}
		return total
	}
	// A buffer written more than once (a recomputed activation) must keep one offset for all
	// its spans: place buffers, not spans.
	life := map[*buffer][]span{}
	var order []*buffer
	own := 0
	for _, s := range spans {
		if s.b.kept && shared {
			if s.b.data == nil {
				s.b.data = make([]float32, s.b.n)
				own += s.b.n
			}
			continue
		}
		if life[s.b] == nil {
			order = append(order, s.b)
		}
		life[s.b] = append(life[s.b], s)
	}
	slices.SortStableFunc(order, func(a, b *buffer) int { return b.n - a.n })
	type placed struct {
		off, end int
		spans    []span
	}
	var done []placed
	total := 0
	for _, b := range order {
		size := (b.n + bufferAlign - 1) / bufferAlign * bufferAlign
		var busy [][2]int
		for _, d := range done {
			if overlapsInTime(d.spans, life[b]) {
				busy = append(busy, [2]int{d.off, d.end})
			}
		}
		slices.SortFunc(busy, func(x, y [2]int) int { return x[0] - y[0] })
		off := 0
		for _, r := range busy {
			if off+size <= r[0] {
				break
			}
			off = max(off, r[1])
		}
		b.off = off
		done = append(done, placed{off, off + size, life[b]})
		total = max(total, off+size)
	}
	arena.grow(total)
	return total + own
}

// overlapsInTime reports whether any span of a overlaps any span of b.
func overlapsInTime(a, b []span) bool {
	for _, x := range a {
		for _, y := range b {
			if x.from <= y.to && y.from <= x.to {
				return true
			}
		}
	}
	return false
}

// run executes the schedule once.
func (e *executor) run() error {
	e.bind()
	for _, s := range e.steps {
		i := s.node
		for k, c := range e.inputs[i] {
			e.args[i][k] = e.vals[c]
		}
		if b := e.adds[i]; b != nil {
			kernels.Add(b.data, f32s(e.args[i][0]), f32s(e.args[i][1]))
			e.vals[i] = b.t
			continue
		}
		if e.recomputing != nil {
			*e.recomputing = s.recompute
		}
		v, err := e.ops[i].do(e.args[i])
		if err != nil {
			return fmt.Errorf("%s: %w", e.ops[i].name, err)
		}
		e.vals[i] = v
	}
	return nil
}

// index returns n's position in the executor's nodes, −1 for nil or a node not in the graph.
func (e *executor) index(n *G.Node) int {
	if n == nil {
		return -1
	}
	for i, m := range e.nodes {
		if m == n {
			return i
		}
	}
	return -1
}
