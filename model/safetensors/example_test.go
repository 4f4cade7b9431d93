package safetensors_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/tinychat-go/tinychat/model/safetensors"
)

// A training run removes what a killed predecessor left beside its checkpoint before it writes
// the checkpoint again.
func ExampleRemoveStaleTemps() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	ckpt := filepath.Join(dir, "pretrain.safetensors")
	// What a writer killed before its rename leaves behind.
	_ = os.WriteFile(filepath.Join(dir, ".pretrain.safetensors.tmp-3kx9q2m1"), []byte("partial"), 0o644)

	removed, err := safetensors.RemoveStaleTemps(ckpt)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range removed {
		fmt.Println("removed", filepath.Base(p))
	}
	if err := safetensors.WriteFile(ckpt, []safetensors.Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1, 2}}}, nil); err != nil {
		fmt.Println(err)
	}
	// Output: removed .pretrain.safetensors.tmp-3kx9q2m1
}

// The checksum of the data a file will hold, as reading it back reports it.
func ExampleDataSHA256() {
	tensors := []safetensors.Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1, 2}}}
	sum, _ := safetensors.DataSHA256(tensors)
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "w.safetensors")
	_ = safetensors.WriteFile(path, tensors, map[string]string{"data_sha256": sum})
	f, _ := safetensors.ReadFile(path)
	fmt.Println(f.DataSHA256 == f.Metadata["data_sha256"])
	// Output: true
}
