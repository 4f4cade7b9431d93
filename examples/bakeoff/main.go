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
// to -out. Every RL method, and DPO, trains on rows sized to its prompts and replies
// (rlhf.RolloutBlock), not the model's whole block. -methods picks the methods; -plan overrides
// fields of the plan (report.json's "plan"), e.g. DPO's: -plan '{"DPOBeta":0.5,"DPORPOAlpha":0}'.
// A method whose checkpoint is already there is not trained again; PPO-ptx is the tinychat run's
// own RLHF stage, copied rather than trained again, when that stage is the same training (PPO-ptx
// on the fact prompts alone, without SkillRL, on the same rows).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"

	"github.com/tinychat-go/tinychat/data/tinyworld"
	"github.com/tinychat-go/tinychat/internal/termprogress"
)

func main() {
	runDir := flag.String("run", "runs/tinychat", "the tinychat run whose pretrain, sft and reward checkpoints (and report.json's plan) are used")
	out := flag.String("out", "runs/bakeoff", "output folder")
	methods := flag.String("methods", strings.Join(allMethods, ","), "comma-separated methods to run")
	overrides := flag.String("plan", "", `JSON object overriding fields of the plan, e.g. '{"DPOBeta":0.5,"DPOLR":1e-5,"DPORPOAlpha":1}' (see report.json's "plan" for the fields)`)
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof reads it)")
	memProfile := flag.String("memprofile", "", "write the run's allocations (pprof's allocs profile: every allocation site, sampled) to this file at the end")
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
	if *overrides != "" {
		if err := b.plan.override(*overrides); err != nil {
			fmt.Fprintln(os.Stderr, "bakeoff: -plan:", err)
			os.Exit(2)
		}
	}
	stopProfile := func() {}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bakeoff: -cpuprofile:", err)
			os.Exit(2)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bakeoff: -cpuprofile:", err)
			os.Exit(2)
		}
		stopProfile = func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "bakeoff: -cpuprofile:", err)
			}
		}
	}
	b.command = commandLine(os.Args[1:])
	b.log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	b.progress = termprogress.New(os.Stderr, termprogress.Auto).Update
	rep, err := b.run(ctx)
	stopProfile()
	if *memProfile != "" {
		if perr := writeAllocsProfile(*memProfile); perr != nil {
			fmt.Fprintln(os.Stderr, "bakeoff: -memprofile:", perr)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bakeoff:", err)
		os.Exit(1)
	}
	fmt.Print(rep.table())
	fmt.Printf("\nreport: %s\n", filepath.Join(*out, "report.md"))
}

// writeAllocsProfile writes pprof's allocs profile (what the run allocated, by site) to path,
// after a collection: the profile counts allocations up to the last completed one.
func writeAllocsProfile(path string) error {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// runPlan is the part of a tinychat run's plan (report.json's "plan") the bake-off follows,
// and the bake-off's own settings (BestOfN, GroupSize, DPO's). Every field can be overridden
// with -plan.
type runPlan struct {
	Seed                                 uint64
	RMPrompts, PPOIterations, PPOPrompts int
	PPOLR, PPOKL, PPOPretrainCoef        float64
	MaxReplyTokens                       int
	EvalPrompts, EvalSamples             int
	EvalSeed                             uint64
	CurveInterval, CurvePrompts          int
	// SkillRL says the run's PPO also trained on skill prompts (then its RLHF checkpoint is
	// not the bake-off's PPO-ptx).
	SkillRL bool
	// BestOfN are the n of best-of-n; GroupSize is GRPO's and RLOO's replies per prompt.
	BestOfN   []int
	GroupSize int
	// GroupPretrainCoef is γ of the pretraining mix in GRPO, RLOO and GRPO with the gold
	// reward (rlhf.GroupConfig.PretrainCoef); the bake-off sets it to PPOPretrainCoef, so
	// that the group methods are compared with PPO-ptx like for like (0: without the mix).
	GroupPretrainCoef float64
	// DPOBeta, DPOLR and DPORPOAlpha are DPO's β, peak learning rate (cosine to a tenth after
	// a 5% warm-up) and the weight of the RPO term (rlhf.DPOConfig.RPOAlpha; 0: off);
	// DPOEpochs its passes over the pairs.
	DPOBeta, DPOLR, DPORPOAlpha float64
	DPOEpochs                   int
}

// The bake-off's DPO settings: rlhf.DefaultDPOConfig's, with the RPO term (α 1). The sweep in
// docs/bakeoff/dpo_sweep.md measures them against plain DPO (α 0), which lost a fifth of SFT's
// greedy correctness on this world, and against larger β and lower learning rates.
const (
	dpoBeta, dpoLR, dpoRPOAlpha = 0.1, 5e-5, 1.0
	dpoEpochs                   = 1
)

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
	p.GroupPretrainCoef = p.PPOPretrainCoef
	p.DPOBeta, p.DPOLR, p.DPORPOAlpha, p.DPOEpochs = dpoBeta, dpoLR, dpoRPOAlpha, dpoEpochs
	return p, nil
}

// override sets the fields of js, a JSON object of runPlan's fields, and checks the result.
func (p *runPlan) override(js string) error {
	dec := json.NewDecoder(strings.NewReader(js))
	dec.DisallowUnknownFields()
	q := *p
	if err := dec.Decode(&q); err != nil {
		return fmt.Errorf("%w (fields: see report.json's \"plan\")", err)
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	if err := q.check(); err != nil {
		return err
	}
	*p = q
	return nil
}

// check refuses a plan the bake-off cannot run.
func (p *runPlan) check() error {
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"RMPrompts", float64(p.RMPrompts)}, {"PPOIterations", float64(p.PPOIterations)}, {"PPOPrompts", float64(p.PPOPrompts)},
		{"PPOLR", p.PPOLR}, {"MaxReplyTokens", float64(p.MaxReplyTokens)}, {"EvalPrompts", float64(p.EvalPrompts)},
		{"EvalSamples", float64(p.EvalSamples)}, {"CurveInterval", float64(p.CurveInterval)}, {"CurvePrompts", float64(p.CurvePrompts)},
		{"DPOBeta", p.DPOBeta}, {"DPOLR", p.DPOLR}, {"DPOEpochs", float64(p.DPOEpochs)},
	} {
		if !(f.v > 0) || math.IsInf(f.v, 1) {
			return fmt.Errorf("%s must be positive, got %g", f.name, f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"PPOKL", p.PPOKL}, {"PPOPretrainCoef", p.PPOPretrainCoef}, {"GroupPretrainCoef", p.GroupPretrainCoef}, {"DPORPOAlpha", p.DPORPOAlpha}} {
		if !(f.v >= 0) || math.IsInf(f.v, 1) {
			return fmt.Errorf("%s must be ≥ 0, got %g", f.name, f.v)
		}
	}
	if p.GroupSize < 2 {
		return fmt.Errorf("GroupSize is %d, want ≥ 2 (a group baseline needs two replies)", p.GroupSize)
	}
	for _, n := range p.BestOfN {
		if n < 1 {
			return fmt.Errorf("BestOfN holds %d, want every n ≥ 1", n)
		}
	}
	return nil
}

func newWorld(seed uint64) *tinyworld.World { return tinyworld.New(tinyworld.Config{Seed: seed}) }

// commandLine is the command that runs the bake-off with args, quoted for a POSIX shell.
func commandLine(args []string) string {
	out := []string{"go run ./examples/bakeoff"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`*?[]{}()<>|&;#~!") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}
