package data

import (
	"errors"
	"fmt"

	"github.com/tinychat-go/tinychat/data/tokenizer"
)

// Row is one training row of length block: Tokens[i] is the input at
// position i, Targets[i] the next token it predicts, and Weights[i] the loss
// weight of that prediction (0 on padding and on tokens that are not
// trained, such as user turns).
type Row struct {
	Tokens, Targets []int32
	Weights         []float32
}

// FitBlock turns a rendered sequence (ids and its loss mask, as from
// [RenderChat]) of any length into a Row of length block, for next-token
// training: the inputs are ids[:len-1], the targets ids[1:] and the weights
// mask[1:].
//
// A sequence with at most block predictions (len(ids) <= block+1) is padded
// on the right with [tokenizer.Pad] (input and target Pad, weight 0). A
// longer one is cut from the left, keeping its last block predictions,
// provided the kept window still predicts every token of the last assistant
// turn, that is the last run of positive mask values (an earlier, partly cut
// turn keeps its weights); truncated then reports the cut. If even the last
// turn does not fit, ok is false and the example should be skipped.
//
// ok is also false, rather than a panic, for input FitBlock cannot use:
// block < 1, fewer than two ids, len(mask) != len(ids), or no positive
// weight among the predictions (the row would train nothing). The Row never
// aliases ids or mask.
func FitBlock(ids []int32, mask []float32, block int) (row Row, truncated bool, ok bool) {
	if block < 1 || len(ids) < 2 || len(mask) != len(ids) {
		return Row{}, false, false
	}
	// Start of the last run of positive mask values among the targets.
	last := -1
	for i := len(mask) - 1; i >= 1; i-- {
		if mask[i] > 0 {
			last = i
		} else if last >= 0 {
			break
		}
	}
	if last < 0 {
		return Row{}, false, false
	}
	n := len(ids) - 1 // predictions
	start := 0
	if n > block {
		start = n - block
		// Target k of the window is ids[start+1+k]: the first kept target
		// is ids[start+1].
		if last < start+1 {
			return Row{}, false, false
		}
		truncated = true
	}
	row = Row{
		Tokens:  make([]int32, block),
		Targets: make([]int32, block),
		Weights: make([]float32, block),
	}
	k := copy(row.Tokens, ids[start:n])
	copy(row.Targets, ids[start+1:])
	copy(row.Weights, mask[start+1:])
	for i := k; i < block; i++ { // no-op unless tokenizer.Pad != 0
		row.Tokens[i] = tokenizer.Pad
		row.Targets[i] = tokenizer.Pad
	}
	return row, truncated, true
}

// FitStats counts what happened to a dataset's conversations when fitted
// into blocks: Total conversations, of which Truncated were cut from the
// left to fit and Skipped did not fit at all (or had nothing to train).
type FitStats struct {
	Total, Truncated, Skipped int
}

// Fitted is the number of conversations that became rows: Total - Skipped.
func (s FitStats) Fitted() int { return s.Total - s.Skipped }

// RenderRows renders every conversation with [RenderChat] and fits it into a
// row of length block with [FitBlock], in order. Conversations that do not
// fit are skipped and counted in the stats, not reported as errors; callers
// should check that enough rows remain (there may be none). A conversation
// that fails to render is an error naming its Source. block must be
// positive.
func RenderRows(tok tokenizer.Tokenizer, convs []Conversation, block int) ([]Row, FitStats, error) {
	var stats FitStats
	if block < 1 {
		return nil, stats, fmt.Errorf("data: RenderRows: block %d must be positive", block)
	}
	if tok == nil {
		return nil, stats, errors.New("data: RenderRows: nil tokenizer")
	}
	rows := make([]Row, 0, len(convs))
	for _, c := range convs {
		ids, mask, err := RenderChat(tok, c.Messages)
		if err != nil {
			return nil, stats, fmt.Errorf("data: %s: %w", c.Source, err)
		}
		stats.Total++
		row, truncated, ok := FitBlock(ids, mask, block)
		switch {
		case !ok:
			stats.Skipped++
		case truncated:
			stats.Truncated++
			fallthrough
		default:
			rows = append(rows, row)
		}
	}
	return rows, stats, nil
}
