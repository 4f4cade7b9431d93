package data_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/tinychat-go/tinychat/data"
)

// Read prompt-only data for RL (PPO's, GRPO's or best-of-n's prompts).
func ExampleReadPrompts() {
	dir, _ := os.MkdirTemp("", "prompts")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "rl.jsonl")
	_ = os.WriteFile(path, []byte(`{"prompt": "where does anna live?"}`+"\n"), 0o644)
	prompts, err := data.ReadPrompts(path)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(prompts), prompts[0].Messages[0].Role, prompts[0].Messages[0].Content)
	// Output: 1 user where does anna live?
}
