package data

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// draw returns the next k batches of b, x and y concatenated per batch.
func draw(b *Batcher, k int) [][]int32 {
	n := b.Batch() * b.Block()
	out := make([][]int32, k)
	for i := range out {
		x, y := make([]int32, n), make([]int32, n)
		b.Next(x, y)
		out[i] = append(x, y...)
	}
	return out
}

func TestNewBatcherErrors(t *testing.T) {
	tokens := seq(10)
	for _, tc := range []struct {
		name         string
		tokens       []int32
		batch, block int
		want         string
	}{
		{"zero batch", tokens, 0, 4, "must be positive"},
		{"negative block", tokens, 2, -1, "must be positive"},
		{"too few tokens", tokens, 2, 10, "10 tokens, want at least block+1 = 11"},
		{"no tokens", nil, 1, 1, "0 tokens"},
		{"overflow", tokens, 1 << 40, 1 << 40, "overflows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := NewBatcher(tc.tokens, tc.batch, tc.block, 1)
			assert.Nil(t, b)
			assert.ErrorContains(t, err, tc.want)
		})
	}

	// Exactly block+1 tokens: a single valid window.
	b, err := NewBatcher(tokens, 3, 9, 1)
	require.NoError(t, err)
	x, y := make([]int32, 27), make([]int32, 27)
	b.Next(x, y)
	for r := range 3 {
		assert.Equal(t, seq(9), x[r*9:(r+1)*9])
		assert.Equal(t, seq(10)[1:], y[r*9:(r+1)*9])
	}
}

func TestBatcherDeterministic(t *testing.T) {
	tokens := seq(1000)
	a, err := NewBatcher(tokens, 4, 8, 42)
	require.NoError(t, err)
	b, err := NewBatcher(tokens, 4, 8, 42)
	require.NoError(t, err)
	c, err := NewBatcher(tokens, 4, 8, 43)
	require.NoError(t, err)

	da, db, dc := draw(a, 20), draw(b, 20), draw(c, 20)
	assert.Equal(t, da, db, "same seed, same batches")
	assert.NotEqual(t, da, dc, "different seed, different batches")
	assert.NotEqual(t, da[0], da[1], "consecutive batches differ")
}

func TestBatcherWindows(t *testing.T) {
	// Token value = position (offset by 1000 so 0 is not special), so every
	// row must be a contiguous run and y must be x shifted by one.
	const n, batch, block = 500, 8, 16
	tokens := seq(n)
	for i := range tokens {
		tokens[i] += 1000
	}
	b, err := NewBatcher(tokens, batch, block, 7)
	require.NoError(t, err)
	x, y := make([]int32, batch*block), make([]int32, batch*block)
	for range 200 {
		b.Next(x, y)
		for r := range batch {
			xr, yr := x[r*block:(r+1)*block], y[r*block:(r+1)*block]
			i := int(xr[0] - 1000)
			require.GreaterOrEqual(t, i, 0)
			require.LessOrEqual(t, i, n-block-1)
			require.Equal(t, tokens[i:i+block], xr)
			require.Equal(t, tokens[i+1:i+block+1], yr)
		}
	}
}

func TestBatcherOffsetsCoverFullRange(t *testing.T) {
	const n, batch, block = 20, 4, 4 // valid offsets: [0, 15]
	b, err := NewBatcher(seq(n), batch, block, 123)
	require.NoError(t, err)
	counts := make([]int, n)
	x, y := make([]int32, batch*block), make([]int32, batch*block)
	const draws = 4000 // 16000 windows, 1000 expected per offset
	for range draws {
		b.Next(x, y)
		for r := range batch {
			counts[x[r*block]]++
		}
	}
	const expected = draws * batch / (n - block)
	for off := 0; off <= n-block-1; off++ {
		// ±20% is more than 6 standard deviations (σ ≈ 31).
		assert.InDelta(t, expected, counts[off], expected*0.2, "offset %d", off)
	}
	for off := n - block; off < n; off++ {
		assert.Zero(t, counts[off], "offset %d is out of range", off)
	}
}

func TestBatcherStateRoundTrip(t *testing.T) {
	tokens := seq(5000)
	const k, m = 5, 7
	a, err := NewBatcher(tokens, 3, 32, 2024)
	require.NoError(t, err)
	draw(a, k)
	state, err := a.State()
	require.NoError(t, err)

	// Through JSON, as checkpoint metadata would be.
	meta, err := json.Marshal(struct {
		Step    int    `json:"step"`
		Batcher []byte `json:"batcher"`
	}{k, state})
	require.NoError(t, err)
	var back struct {
		Batcher []byte `json:"batcher"`
	}
	require.NoError(t, json.Unmarshal(meta, &back))

	want := draw(a, m)

	// A fresh Batcher with a different seed, restored, draws the same m.
	b, err := NewBatcher(tokens, 3, 32, 1)
	require.NoError(t, err)
	draw(b, 3)
	require.NoError(t, b.SetState(back.Batcher))
	assert.Equal(t, want, draw(b, m))

	// State is a snapshot: restoring it again replays the same batches.
	require.NoError(t, b.SetState(state))
	assert.Equal(t, want, draw(b, m))

	// And it differs from the batches before the save point.
	fresh, err := NewBatcher(tokens, 3, 32, 2024)
	require.NoError(t, err)
	assert.NotEqual(t, want[:k], draw(fresh, k))
}

func TestBatcherSetStateInvalid(t *testing.T) {
	b, err := NewBatcher(seq(100), 1, 4, 1)
	require.NoError(t, err)
	draw(b, 1)
	state, err := b.State()
	require.NoError(t, err)
	for _, bad := range [][]byte{nil, []byte("garbage"), state[:len(state)-1]} {
		assert.ErrorContains(t, b.SetState(bad), "SetState")
	}
}

func TestBatcherNextAllocs(t *testing.T) {
	b, err := NewBatcher(seq(10000), 16, 64, 9)
	require.NoError(t, err)
	x, y := make([]int32, 16*64), make([]int32, 16*64)
	allocs := testing.AllocsPerRun(200, func() { b.Next(x, y) })
	assert.Zero(t, allocs)
}

func TestBatcherNextWrongSize(t *testing.T) {
	b, err := NewBatcher(seq(100), 2, 4, 1)
	require.NoError(t, err)
	assert.Panics(t, func() { b.Next(make([]int32, 7), make([]int32, 8)) })
	assert.Panics(t, func() { b.Next(make([]int32, 8), make([]int32, 9)) })
	assert.NotPanics(t, func() { b.Next(make([]int32, 8), make([]int32, 8)) })
}

func BenchmarkBatcherNext(b *testing.B) {
	bt, err := NewBatcher(seq(1<<20), 32, 256, 1)
	require.NoError(b, err)
	x, y := make([]int32, 32*256), make([]int32, 32*256)
	b.ReportAllocs()
	for b.Loop() {
		bt.Next(x, y)
	}
}
