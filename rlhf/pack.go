package rlhf

import (
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/model"
)

// rowLayout is where a minibatch's rollouts lie in a graph: rollout i's row positions 0 …
// n[i]−1 at at[i] … at[i]+n[i]−1 of the graph's Batch·Block, on rows rows. Packed, a rollout
// takes the positions up to its last action (what follows it only pads: no loss reads it, and
// causal attention keeps it from the positions before), one after another as data.Pack places
// them, on a graph built with model.GraphConfig.Packed; unpacked, rollout i is row i, whole.
type rowLayout struct {
	packed bool
	T      int
	at, n  []int
	rows   int
	places []data.Place
}

// lay computes the layout of mb in graphs of at most most rows.
func (l *rowLayout) lay(mb []*rollout, most int) error {
	l.at, l.n = l.at[:0], l.n[:0]
	if !l.packed {
		for r := range mb {
			l.at, l.n = append(l.at, r*l.T), append(l.n, l.T)
		}
		l.rows = most
		return nil
	}
	for _, x := range mb {
		n := 1
		if len(x.act) > 0 {
			n = x.act[len(x.act)-1] + 1
		}
		l.n = append(l.n, n)
	}
	var err error
	if l.places, l.rows, err = data.Pack(l.n, l.T); err != nil {
		return err
	}
	for _, p := range l.places {
		l.at = append(l.at, p.Row*l.T+p.Col)
	}
	return nil
}

// fill copies mb's tokens and targets into g (a graph of l.rows rows) where the layout puts
// them, and, packed, its positions.
func (l *rowLayout) fill(g *model.Graph, mb []*rollout) {
	if g.Positions != nil {
		clear(g.Tokens)
		clear(g.Targets)
		data.PackPositions(g.Positions, l.places, l.T)
	}
	for i, x := range mb {
		copy(g.Tokens[l.at[i]:l.at[i]+l.n[i]], x.tokens)
		copy(g.Targets[l.at[i]:l.at[i]+l.n[i]], x.targets)
	}
}

// graph returns the graph of graphs with l's rows, mb filled in.
func (l *rowLayout) graph(graphs *model.Graphs, mb []*rollout) (*model.Graph, error) {
	g, err := graphs.Rows(l.rows)
	if err != nil {
		return nil, err
	}
	l.fill(g, mb)
	return g, nil
}
