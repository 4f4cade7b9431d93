package pretrain_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/pretrain"
)

// faultRun is the training the fault-injection test kills: a small pretraining run that
// checkpoints every 5 steps and logs every step.
func faultRun(out string) error {
	words := testutil.Words(60, 4)
	corpus, err := pretrain.NewCorpus([]data.Document{{Source: "t", Text: testutil.RepeatText(words)}}, testutil.Tokenizer(), 0.1)
	if err != nil {
		return err
	}
	cfg := pretrain.DefaultConfig()
	cfg.Model, cfg.Batch, cfg.Steps, cfg.LR = testutil.TinyConfig(), 8, 150, 3e-3
	cfg.EvalIters, cfg.EvalInterval, cfg.CheckpointInterval, cfg.LogInterval = 2, 50, 5, 1
	cfg.Out = out
	_, err = pretrain.Train(context.Background(), cfg, corpus)
	return err
}

// TestFaultChild is the child process of TestKilledRunResumesIdentically (it does nothing in a
// normal test run).
func TestFaultChild(t *testing.T) {
	out := os.Getenv(testutil.FaultChildEnv)
	if out == "" {
		t.Skip("runs only as TestKilledRunResumesIdentically's child process")
	}
	if err := faultRun(out); err != nil {
		t.Fatal(err)
	}
}

// TestKilledRunResumesIdentically kills a pretraining run (SIGKILL, in a child process) at
// random moments four times — twice between checkpoints and twice during a checkpoint write — lets it resume each time, and compares the end with an uninterrupted run:
// the same weights, the same metrics log, no stray files.
func TestKilledRunResumesIdentically(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	straight, killed := filepath.Join(dir, "straight.safetensors"), filepath.Join(dir, "killed.safetensors")
	testutil.KillAndResume(t, "TestFaultChild", straight, 1, 150, 0)
	notes := testutil.KillAndResume(t, "TestFaultChild", killed, 7, 150, 4)
	for _, n := range notes {
		t.Log(n)
	}
	testutil.SameRun(t, straight, killed)
}
