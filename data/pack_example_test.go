package data_test

import (
	"fmt"

	"github.com/tinychat-go/tinychat/data"
)

// Pack five sequences into rows of 10 positions, longest first, each into the first row it
// fits; PackPositions numbers each sequence's tokens from 0 for a packed graph.
func ExamplePack() {
	lengths := []int{4, 7, 3, 1, 5}
	places, rows, err := data.Pack(lengths, 10)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rows, "rows")
	for i, p := range places {
		fmt.Printf("sequence %d (%d tokens): row %d from column %d\n", i, lengths[i], p.Row, p.Col)
	}
	pos := make([]int32, rows*10)
	data.PackPositions(pos, places, 10)
	fmt.Println(pos)
	// Output:
	// 2 rows
	// sequence 0 (4 tokens): row 1 from column 5
	// sequence 1 (7 tokens): row 0 from column 0
	// sequence 2 (3 tokens): row 0 from column 7
	// sequence 3 (1 tokens): row 1 from column 9
	// sequence 4 (5 tokens): row 1 from column 0
	// [0 1 2 3 4 5 6 0 1 2 0 1 2 3 4 0 1 2 3 0]
}
