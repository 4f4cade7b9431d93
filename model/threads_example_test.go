package model_test

import (
	"fmt"

	"github.com/tinychat-go/tinychat/model"
)

// Two trainings at once on a small machine: each runs its operations on one goroutine, and
// the results are the same bits as with the default split.
func ExampleSetThreads() {
	model.SetThreads(1)
	defer model.SetThreads(0) // back to one goroutine per core
	fmt.Println(model.Threads())
	// Output: 1
}
