package data

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPack: first fit in decreasing order of length, equal lengths in the order given; every
// sequence inside its row, none overlapping.
func TestPack(t *testing.T) {
	places, rows, err := Pack([]int{7, 12, 3, 20, 9, 1, 9}, 20)
	require.NoError(t, err)
	// Order 20, 12, 9, 9, 7, 3, 1: 20 → row 0; 12 → row 1; 9 → row 2; 9 → row 2 (18);
	// 7 → row 1 (19); 3 → row 3; 1 → row 1 (20).
	require.Equal(t, 4, rows)
	require.Equal(t, []Place{{1, 12}, {1, 0}, {3, 0}, {0, 0}, {2, 0}, {1, 19}, {2, 9}}, places)

	pos := make([]int32, rows*20)
	PackPositions(pos, places, 20)
	want := make([]int32, 0, len(pos))
	seq := func(n int) {
		for j := range n {
			want = append(want, int32(j))
		}
	}
	seq(20) // row 0
	seq(12)
	seq(7)
	seq(1) // row 1
	seq(9)
	seq(9)
	seq(2) // row 2: the last 2 continue nothing new
	want[len(want)-2], want[len(want)-1] = 9, 10
	seq(3)
	want = append(want, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19) // row 3
	require.Equal(t, want, pos)

	_, rows, err = Pack(nil, 5)
	require.NoError(t, err)
	require.Zero(t, rows)
	_, _, err = Pack([]int{3, 6}, 5)
	require.EqualError(t, err, "data: Pack: sequence 1 has length 6, want 1 to the block (5)")
	_, _, err = Pack([]int{0}, 5)
	require.EqualError(t, err, "data: Pack: sequence 0 has length 0, want 1 to the block (5)")
}

// TestRowLen: through the last nonzero weight.
func TestRowLen(t *testing.T) {
	require.Equal(t, 3, Row{Weights: []float32{0, 1, 0.5, 0, 0}}.Len())
	require.Equal(t, 0, Row{Weights: []float32{0, 0}}.Len())
	require.Equal(t, 2, Row{Weights: []float32{0, 1}}.Len())
}
