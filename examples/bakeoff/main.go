// Command bakeoff compares the alignment methods on the tiny world, where the true quality of
// every reply is known (the gold judge): SFT, best-of-n sampling against the reward model, PPO,
// PPO-ptx, DPO, GRPO, RLOO, and GRPO with the gold judge itself as the reward (RL from a
// verifiable reward). It reuses a tinychat run's pretraining, SFT and reward checkpoints, gives
// every trained method the same budget of sampled replies, and judges every model on the same
// held-out prompts with the same sampling seeds.
//
//	go run ./examples/tinychat              # once: the checkpoints (runs/tinychat)
//	go run ./examples/bakeoff               # the comparison, into runs/bakeoff
//
// It writes report.md, report.json and plot_bakeoff.png (gold against √KL for every RL method)
// to -out. A method whose checkpoint is already there is not trained again; PPO-ptx is the
// tinychat run's own RLHF stage (the same plan), copied rather than trained again.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/tinychat-go/tinychat/data/tinyworld"
	"github.com/tinychat-go/tinychat/internal/termprogress"
)

func main() {
	runDir := flag.String("run", "runs/tinychat", "the tinychat run whose pretrain, sft and reward checkpoints (and report.json's plan) are used")
	out := flag.String("out", "runs/bakeoff", "output folder")
	methods := flag.String("methods", strings.Join(allMethods, ","), "comma-separated methods to run")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bakeoff: unexpected arguments %q (see -h)\n", flag.Args())
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	b, err := newBakeoff(*runDir, *out, strings.Split(*methods, ","))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bakeoff:", err)
		os.Exit(2)
	}
	b.log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	b.progress = termprogress.New(os.Stderr, termprogress.Auto).Update
	rep, err := b.run(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bakeoff:", err)
		os.Exit(1)
	}
	fmt.Print(rep.table())
	fmt.Printf("\nreport: %s\n", filepath.Join(*out, "report.md"))
}

// runPlan is the part of a tinychat run's plan (report.json's "plan") the bake-off follows,
// and the bake-off's own sizes (BestOfN, GroupSize).
type runPlan struct {
	Seed                                 uint64
	RMPrompts, PPOIterations, PPOPrompts int
	PPOLR, PPOKL, PPOPretrainCoef        float64
	MaxReplyTokens                       int
	EvalPrompts, EvalSamples             int
	EvalSeed                             uint64
	CurveInterval, CurvePrompts          int
	// BestOfN are the n of best-of-n; GroupSize is GRPO's and RLOO's replies per prompt.
	BestOfN   []int
	GroupSize int
}

// readPlan reads report.json's plan from a tinychat run.
func readPlan(runDir string) (runPlan, error) {
	b, err := os.ReadFile(filepath.Join(runDir, "report.json"))
	if err != nil {
		return runPlan{}, fmt.Errorf("%w (run tinychat first: go run ./examples/tinychat)", err)
	}
	var card struct {
		Plan runPlan `json:"plan"`
	}
	if err := json.Unmarshal(b, &card); err != nil {
		return runPlan{}, fmt.Errorf("%s: %w", filepath.Join(runDir, "report.json"), err)
	}
	p := card.Plan
	if p.PPOIterations <= 0 || p.PPOPrompts <= 0 || p.EvalPrompts <= 0 || p.MaxReplyTokens <= 0 {
		return runPlan{}, errors.New(filepath.Join(runDir, "report.json") + ": its plan lacks the PPO or evaluation sizes")
	}
	p.EvalSamples = max(p.EvalSamples, 1)
	if p.CurveInterval <= 0 {
		p.CurveInterval = max(1, p.PPOIterations/10)
	}
	if p.CurvePrompts <= 0 {
		p.CurvePrompts = 64
	}
	p.BestOfN = []int{1, 2, 4, 8, 16}
	p.GroupSize = 8
	return p, nil
}

func newWorld(seed uint64) *tinyworld.World { return tinyworld.New(tinyworld.Config{Seed: seed}) }
