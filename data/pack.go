package data

import (
	"fmt"
	"slices"
)

// Len is the number of leading positions of the row its loss depends on: up to and
// including its last nonzero weight (0 when it has none). What follows only pads the row (or
// reads on past the last trained prediction), so a packed batch can leave it out.
func (r Row) Len() int {
	for i := len(r.Weights) - 1; i >= 0; i-- {
		if r.Weights[i] != 0 {
			return i + 1
		}
	}
	return 0
}

// Place is where Pack put a sequence: its row and the column its first token is at.
type Place struct{ Row, Col int }

// Pack places sequences of the given lengths (each 1 to block) one after another in rows of
// block positions, first fit in decreasing order of length (equal lengths in the order
// given): each sequence goes into the first row it still fits, or starts a new row. It
// returns each sequence's place and the number of rows, at most len(lengths). A graph
// built with model.GraphConfig.Packed runs such rows with each sequence attending only to
// itself (see PackPositions); short conversations then share a row instead of each padding
// one. The result depends only on lengths and block.
func Pack(lengths []int, block int) ([]Place, int, error) {
	if block < 1 {
		return nil, 0, fmt.Errorf("data: Pack: block %d must be positive", block)
	}
	order := make([]int, len(lengths))
	for i, n := range lengths {
		if n < 1 || n > block {
			return nil, 0, fmt.Errorf("data: Pack: sequence %d has length %d, want 1 to the block (%d)", i, n, block)
		}
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return lengths[b] - lengths[a] })
	places := make([]Place, len(lengths))
	var used []int // positions taken in each row
	for _, i := range order {
		r := slices.IndexFunc(used, func(u int) bool { return u+lengths[i] <= block })
		if r < 0 {
			r = len(used)
			used = append(used, 0)
		}
		places[i] = Place{Row: r, Col: used[r]}
		used[r] += lengths[i]
	}
	return places, len(used), nil
}

// PackPositions writes the positions of rows packed by Pack into pos (rows·block entries,
// row-major), as model.Graph.Positions takes them: each sequence's tokens numbered from 0,
// and a row's positions past its last sequence continuing that sequence's (or from 0 in a
// row with none).
func PackPositions(pos []int32, places []Place, block int) {
	for i := range pos {
		pos[i] = -1
	}
	for _, p := range places {
		pos[p.Row*block+p.Col] = 0
	}
	var next int32
	for i := range pos {
		if i%block == 0 || pos[i] == 0 {
			next = 0
		}
		pos[i] = next
		next++
	}
}
