package rlhf_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/reward"
	"github.com/tinychat-go/tinychat/rlhf"
)

const faultSFTEnv = "TINYCHAT_FAULT_SFT"

// TestPPOFaultChild is the child process of TestKilledPPOResumesIdentically (it does nothing
// in a normal test run): PPO from the SFT checkpoint named in the environment, checkpointing
// every iteration.
func TestPPOFaultChild(t *testing.T) {
	out, sftPath := os.Getenv(testutil.FaultChildEnv), os.Getenv(faultSFTEnv)
	if out == "" || sftPath == "" {
		t.Skip("runs only as TestKilledPPOResumesIdentically's child process")
	}
	ck, err := model.LoadStage(sftPath, model.StageSFT)
	if err != nil {
		t.Fatal(err)
	}
	value, err := reward.NewModel(ck.Model, 9)
	if err != nil {
		t.Fatal(err)
	}
	words := testutil.Words(40, 3)
	prompts := make([][]data.Message, len(words))
	for i, w := range words {
		prompts[i] = testutil.RepeatPrompt(w)
	}
	ids, err := ck.Tokenizer.Encode("a")
	if err != nil {
		t.Fatal(err)
	}
	cfg := rlhf.DefaultPPOConfig()
	cfg.Steps, cfg.Batch, cfg.MaxReplyTokens, cfg.LR, cfg.TargetKL = 16, 8, 6, 2e-4, 2
	cfg.CheckpointInterval, cfg.Out = 1, out
	if _, err := rlhf.PPO(context.Background(), cfg, ck, value, countScorer{tok: int32(ids[0])}, "toy", prompts); err != nil {
		t.Fatal(err)
	}
}

// TestKilledPPOResumesIdentically kills PPO (SIGKILL, in a child process) four times, twice
// between checkpoints and twice during a checkpoint write, lets it resume each time, and
// compares the end with an uninterrupted run: the same policy, the same metrics log, no stray
// files.
func TestKilledPPOResumesIdentically(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	sftPath := testutil.FineTuned(t, testutil.Words(40, 3), 40)
	dir := t.TempDir()
	straight, killed := filepath.Join(dir, "straight.safetensors"), filepath.Join(dir, "killed.safetensors")
	env := faultSFTEnv + "=" + sftPath
	testutil.KillAndResume(t, "TestPPOFaultChild", straight, 1, 16, 0, env)
	notes := testutil.KillAndResume(t, "TestPPOFaultChild", killed, 3, 16, 4, env)
	for _, n := range notes {
		t.Log(n)
	}
	testutil.SameRun(t, straight, killed)
}
