package data

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tokenizer"
)

const pad = tokenizer.Pad

func TestFitBlockPadding(t *testing.T) {
	tok := chatTok(t)
	ids, mask, err := RenderChat(tok, []Message{u("ab"), a("c")})
	require.NoError(t, err)
	require.Equal(t, []int32{bos, usr, ta, tb, end, ast, tc, end}, ids)

	row, truncated, ok := FitBlock(ids, mask, 10)
	require.True(t, ok)
	assert.False(t, truncated)
	assert.Equal(t, Row{
		Tokens:  []int32{bos, usr, ta, tb, end, ast, tc, pad, pad, pad},
		Targets: []int32{usr, ta, tb, end, ast, tc, end, pad, pad, pad},
		Weights: []float32{0, 0, 0, 0, 0, 1, 1, 0, 0, 0},
	}, row)

	// Exactly block predictions: no padding, no cut.
	row, truncated, ok = FitBlock(ids, mask, 7)
	require.True(t, ok)
	assert.False(t, truncated)
	assert.Equal(t, Row{
		Tokens:  []int32{bos, usr, ta, tb, end, ast, tc},
		Targets: []int32{usr, ta, tb, end, ast, tc, end},
		Weights: []float32{0, 0, 0, 0, 0, 1, 1},
	}, row)

	// The row does not alias the input.
	row.Tokens[0], row.Targets[0], row.Weights[0] = 99, 99, 99
	assert.Equal(t, int32(bos), ids[0])
	assert.Equal(t, int32(usr), ids[1])
	assert.Equal(t, float32(0), mask[1])
}

func TestFitBlockTruncation(t *testing.T) {
	tok := chatTok(t)
	ids, mask, err := RenderChat(tok, []Message{u("a"), a("bb"), u("c"), a("a")})
	require.NoError(t, err)
	require.Equal(t, []int32{bos, usr, ta, end, ast, tb, tb, end, usr, tc, end, ast, ta, end}, ids)
	require.Equal(t, []float32{0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1}, mask)

	for _, tc := range []struct {
		block int
		want  Row
	}{
		{9, Row{ // cuts into the first assistant turn, which keeps its weights
			Tokens:  []int32{ast, tb, tb, end, usr, tc, end, ast, ta},
			Targets: []int32{tb, tb, end, usr, tc, end, ast, ta, end},
			Weights: []float32{1, 1, 1, 0, 0, 0, 0, 1, 1},
		}},
		{6, Row{
			Tokens:  []int32{end, usr, tc, end, ast, ta},
			Targets: []int32{usr, tc, end, ast, ta, end},
			Weights: []float32{0, 0, 0, 0, 1, 1},
		}},
		{2, Row{ // the smallest window that still predicts the whole last reply
			Tokens:  []int32{ast, ta},
			Targets: []int32{ta, end},
			Weights: []float32{1, 1},
		}},
	} {
		row, truncated, ok := FitBlock(ids, mask, tc.block)
		require.True(t, ok, "block %d", tc.block)
		assert.True(t, truncated, "block %d", tc.block)
		assert.Equal(t, tc.want, row, "block %d", tc.block)
	}

	// One token short of the last reply: skip.
	row, truncated, ok := FitBlock(ids, mask, 1)
	assert.False(t, ok)
	assert.False(t, truncated)
	assert.Equal(t, Row{}, row)

	// A long last reply: 11 predictions, of which the last 7 (from
	// <|assistant|> on) are needed.
	ids, mask, err = RenderChat(tok, []Message{u("a"), a("abcabc")})
	require.NoError(t, err)
	require.Len(t, ids, 12)
	_, _, ok = FitBlock(ids, mask, 6)
	assert.False(t, ok)
	row, truncated, ok = FitBlock(ids, mask, 7)
	require.True(t, ok)
	assert.True(t, truncated)
	assert.Equal(t, Row{
		Tokens:  []int32{ast, ta, tb, tc, ta, tb, tc},
		Targets: []int32{ta, tb, tc, ta, tb, tc, end},
		Weights: []float32{1, 1, 1, 1, 1, 1, 1},
	}, row)
}

func TestFitBlockUnusable(t *testing.T) {
	ids := []int32{bos, usr, ta, end, ast, tb, end}
	mask := []float32{0, 0, 0, 0, 0, 1, 1}
	for name, f := range map[string]func() (Row, bool, bool){
		"zero block":      func() (Row, bool, bool) { return FitBlock(ids, mask, 0) },
		"negative block":  func() (Row, bool, bool) { return FitBlock(ids, mask, -3) },
		"one id":          func() (Row, bool, bool) { return FitBlock(ids[:1], mask[:1], 4) },
		"no ids":          func() (Row, bool, bool) { return FitBlock(nil, nil, 4) },
		"length mismatch": func() (Row, bool, bool) { return FitBlock(ids, mask[:3], 10) },
		"nothing to train": func() (Row, bool, bool) {
			return FitBlock(ids, make([]float32, len(ids)), 10)
		},
		"only the first token weighted": func() (Row, bool, bool) {
			return FitBlock(ids, []float32{1, 0, 0, 0, 0, 0, 0}, 10)
		},
	} {
		row, truncated, ok := f()
		assert.False(t, ok, name)
		assert.False(t, truncated, name)
		assert.Equal(t, Row{}, row, name)
	}
}

func TestRenderRows(t *testing.T) {
	tok := chatTok(t)
	convs := []Conversation{
		{"c.jsonl:1", []Message{u(""), a("a")}},       // 5 predictions: fits exactly
		{"c.jsonl:2", []Message{u("a"), a("b")}},      // 6 predictions: cut by one
		{"c.jsonl:3", []Message{u("a"), a("abcabc")}}, // reply too long: skipped
		{"c.jsonl:4", []Message{u(""), a("")}},        // 4 predictions: padded
	}
	rows, stats, err := RenderRows(tok, convs, 5)
	require.NoError(t, err)
	assert.Equal(t, FitStats{Total: 4, Truncated: 1, Skipped: 1}, stats)
	assert.Equal(t, 3, stats.Fitted())
	assert.Equal(t, []Row{
		{
			Tokens:  []int32{bos, usr, end, ast, ta},
			Targets: []int32{usr, end, ast, ta, end},
			Weights: []float32{0, 0, 0, 1, 1},
		},
		{
			Tokens:  []int32{usr, ta, end, ast, tb},
			Targets: []int32{ta, end, ast, tb, end},
			Weights: []float32{0, 0, 0, 1, 1},
		},
		{
			Tokens:  []int32{bos, usr, end, ast, pad},
			Targets: []int32{usr, end, ast, end, pad},
			Weights: []float32{0, 0, 0, 1, 0},
		},
	}, rows)

	rows, stats, err = RenderRows(tok, nil, 5)
	require.NoError(t, err)
	assert.Empty(t, rows)
	assert.Equal(t, FitStats{}, stats)

	_, _, err = RenderRows(tok, []Conversation{convs[0], {"bad.parquet:row 3", []Message{u("a")}}}, 5)
	assert.ErrorContains(t, err, "data: bad.parquet:row 3: conversation must end with an assistant turn")
	_, _, err = RenderRows(tok, []Conversation{{"x.jsonl:9", []Message{u("zzz"), a("a")}}}, 5)
	assert.ErrorIs(t, err, tokenizer.ErrUnknownChar)
	assert.ErrorContains(t, err, "data: x.jsonl:9: message 0 (user): encoding")
	_, _, err = RenderRows(tok, convs, 0)
	assert.ErrorContains(t, err, "block 0 must be positive")
	_, _, err = RenderRows(nil, convs, 5)
	assert.ErrorContains(t, err, "nil tokenizer")
}
