package testutil

import "github.com/tinychat-go/tinychat/model"

// ExamplePretrained is Pretrained for Example functions, which have no testing.T: it writes
// into dir, returns the checkpoint in memory and panics on error.
func ExamplePretrained(dir string, words []string, steps int) *model.Checkpoint {
	ck, err := pretrainRepeat(dir, words, steps)
	if err != nil {
		panic(err)
	}
	return ck
}

// ExampleFineTuned is FineTuned for Example functions (see ExamplePretrained).
func ExampleFineTuned(dir string, words []string, steps int) *model.Checkpoint {
	base := ExamplePretrained(dir, words, 400)
	ck, err := fineTuneRepeat(dir, base, words, steps)
	if err != nil {
		panic(err)
	}
	return ck
}
