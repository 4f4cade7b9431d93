package testutil

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/train"
)

// FaultChildEnv is set (to the checkpoint path) in the environment of a child process started
// by KillAndResume; the child test checks it and runs the training.
const FaultChildEnv = "TINYCHAT_FAULT_OUT"

// KillAndResume runs the test named child (in this test binary) as a child process that trains
// into out for steps steps (logging every step) and kills it with SIGKILL kills times, then lets
// the next run finish. Kill i comes once the run has logged step (i+1)·steps/(kills+1) plus a
// jitter drawn from seed — progress, not time, so a fast or a loaded machine kills at the same
// places; even-numbered kills come right then, odd-numbered ones at the next checkpoint write
// under way (its temporary file present), so that runs are killed both between and during
// checkpoint writes. It returns what each killed run left behind (for the log). extraEnv is
// passed to the child.
func KillAndResume(t *testing.T, child, out string, seed uint64, steps, kills int, extraEnv ...string) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 41))
	var notes []string
	for i := 0; ; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^"+child+"$", "-test.count=1")
		cmd.Env = append(append(os.Environ(), FaultChildEnv+"="+out), extraEnv...)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if i >= kills {
			if err := <-done; err != nil {
				t.Fatalf("the final run failed: %v\n%s", err, stderr.String())
			}
			return notes
		}
		gap := steps / (kills + 1)
		target := (i+1)*gap + rng.IntN(max(1, gap/2))
		duringWrite := i%2 == 1
		start := time.Now()
	wait:
		for {
			select {
			case err := <-done:
				t.Fatalf("run %d ended before it reached step %d: %v\n%s", i, target, err, stderr.String())
			default:
			}
			if loggedSteps(out) >= target {
				if !duringWrite {
					break wait
				}
				if temps, _ := globTemps(out); len(temps) > 0 {
					break wait
				}
			}
			if time.Since(start) > 5*time.Minute {
				t.Fatalf("run %d did not reach step %d in 5 minutes\n%s", i, target, stderr.String())
			}
			time.Sleep(200 * time.Microsecond)
		}
		_ = cmd.Process.Kill()
		<-done
		step := "no checkpoint"
		if info, err := model.ReadCheckpointInfo(out); err == nil {
			step = "checkpoint at step " + strconv.Itoa(info.Step)
		}
		temps, _ := globTemps(out)
		when := "after step " + strconv.Itoa(target)
		if duringWrite {
			when += ", during a checkpoint write"
		}
		notes = append(notes, "killed "+when+": "+step+", "+strconv.Itoa(len(temps))+" temporary files")
	}
}

// loggedSteps is the number of lines of out's metrics log (one per step when it logs every step).
func loggedSteps(out string) int {
	b, err := os.ReadFile(train.MetricsPath(out))
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte("\n"))
}

// SameRun checks that two runs ended with the same weights and the same metrics log (wall-clock
// figures aside), and that no temporary file is left beside either.
func SameRun(t *testing.T, a, b string) {
	t.Helper()
	ca, err := model.LoadCheckpoint(a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := model.LoadCheckpoint(b)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range ca.Model.Params {
		if !slices.Equal(p.Data, cb.Model.Params[i].Data) {
			t.Fatalf("parameter %s differs between %s and %s", p.Name, a, b)
		}
	}
	la, err := train.ReadMetrics(train.MetricsPath(a))
	if err != nil {
		t.Fatal(err)
	}
	lb, err := train.ReadMetrics(train.MetricsPath(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(la) != len(lb) {
		t.Fatalf("metrics logs have %d and %d lines", len(la), len(lb))
	}
	for i := range la {
		for _, k := range []string{"elapsed_s", "tokens_per_s"} {
			delete(la[i], k)
			delete(lb[i], k)
		}
		for k, v := range la[i] {
			if lb[i][k] != v {
				t.Fatalf("metrics line %d: %s is %v in %s but %v in %s", i, k, v, a, lb[i][k], b)
			}
		}
	}
	for _, p := range []string{a, b} {
		if temps, _ := globTemps(p); len(temps) > 0 {
			t.Fatalf("temporary files left beside %s: %v", p, temps)
		}
	}
}

func globTemps(path string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
