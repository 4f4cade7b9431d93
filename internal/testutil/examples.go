package testutil

import "github.com/tinychat-go/tinychat/model"

// ExamplePretrained is Pretrained for Example functions, which have no testing.T: it writes
// into dir, returns the checkpoint and panics on error.
func ExamplePretrained(dir string, words []string, steps int) *model.Checkpoint {
	path, err := copyCached(dir, "pretrain.safetensors", pretrainKey(words, steps), func(d string) error {
		_, err := pretrainRepeat(d, words, steps)
		return err
	})
	return mustLoad(path, err)
}

// ExampleFineTuned is FineTuned for Example functions (see ExamplePretrained).
func ExampleFineTuned(dir string, words []string, steps int) *model.Checkpoint {
	path, err := fineTunedPath(dir, words, steps)
	return mustLoad(path, err)
}

func mustLoad(path string, err error) *model.Checkpoint {
	if err != nil {
		panic(err)
	}
	ck, err := model.LoadCheckpoint(path)
	if err != nil {
		panic(err)
	}
	return ck
}
