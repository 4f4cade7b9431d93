// Command tinychat trains a tiny ChatGPT through the whole recipe on a generated tiny world —
// pretraining, supervised fine-tuning, a reward model, and RLHF with PPO, then RLVR (RLOO on
// the skills' prompts with the judge's rewards) — then evaluates every stage with the world's
// gold judge on held-out prompts and writes a report card.
//
//	go run ./examples/tinychat            # the full run with the skills (about 16 minutes on 2 cores)
//	go run ./examples/tinychat -quick     # a scaled-down run in about a minute
//	go run ./examples/tinychat -chat      # then chat with the result
//	go run ./examples/tinychat -plan '{"EvalSeed":1002}'  # re-evaluate a finished run, other samples
//
// The direct-answer SFT ablation (sft-direct) trains beside SFT and the reward model, each on
// one core, with the same results as in turn (-serial). Checkpoints, metrics logs, report.md,
// report.json and plots go to -out (runs/tinychat). Rerunning skips finished stages and
// resumes an interrupted one.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/internal/termprogress"
	"github.com/tinychat-go/tinychat/model"
)

var now = time.Now

func main() {
	os.Exit(runMain())
}

// runMain is main with its exit status returned, so that deferred work (the CPU profile) is done.
func runMain() int {
	out := flag.String("out", "", "output folder (default runs/tinychat, or runs/tinychat-quick with -quick)")
	quick := flag.Bool("quick", false, "run a scaled-down pipeline (about a minute)")
	chat := flag.Bool("chat", false, "chat with the RLHF model at the end")
	seed := flag.Uint64("seed", 1, "seed of the world, the initialisation and the sampling")
	evalPrompts := flag.Int("eval-prompts", 0, "held-out prompts to evaluate on (0: the plan's, 500, or 200 with -quick)")
	overrides := flag.String("plan", "", `JSON object overriding fields of the run's plan, e.g. '{"PPOIterations":80,"PPOKL":0.03}' (see report.json's "plan" for the fields)`)
	serial := flag.Bool("serial", false, "train the direct-answer SFT ablation after the other stages rather than beside them (each stage's time and peak memory then its own; the same results)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof reads it)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "tinychat: unexpected arguments %q (see -h)\n", flag.Args())
		return 2
	}
	if *evalPrompts < 0 {
		fmt.Fprintf(os.Stderr, "tinychat: -eval-prompts is %d, want ≥ 0 (0: the plan's)\n", *evalPrompts)
		return 2
	}
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "tinychat: -cpuprofile:", err)
			return 2
		}
		defer stopProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	pl := defaultPlan(*seed)
	dir := "runs/tinychat"
	if *quick {
		pl, dir = quickPlan(*seed), "runs/tinychat-quick"
	}
	if *out != "" {
		dir = *out
	}
	if *evalPrompts > 0 {
		pl.EvalPrompts = *evalPrompts
	}
	if *overrides != "" {
		if err := pl.override(*overrides); err != nil {
			fmt.Fprintln(os.Stderr, "tinychat: -plan:", err)
			return 2
		}
	}
	if *out == "" {
		// A run with the skills never shares checkpoints with one without.
		base := defaultPlan(*seed)
		if *quick {
			base = quickPlan(*seed)
		}
		switch {
		case pl.Skills && !base.Skills:
			dir += "-skills"
		case !pl.Skills && base.Skills:
			dir += "-noskills"
		}
	}
	fmt.Fprintf(os.Stderr, "tinychat: writing to %s; BLAS: %s\n", dir, model.BLASName())
	p := &pipeline{plan: pl, paths: paths{dir: dir}, log: os.Stderr, progress: termprogress.New(os.Stderr, termprogress.Auto).Update, serial: *serial}
	r, err := p.run(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tinychat:", err)
		return 1
	}
	printSummary(os.Stdout, r, dir)
	if *chat {
		if err := repl(ctx, p.paths.stage(p.policyStage()), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "tinychat:", err)
			return 1
		}
	}
	return 0
}

func printSummary(w io.Writer, r *Report, dir string) {
	fmt.Fprintf(w, "\nreport card (%d held-out prompts; full report in %s/report.md)\n", r.EvalPrompts, dir)
	fmt.Fprintf(w, "  pretrain  val loss %.3f\n", r.Pretrain["val_loss"])
	for _, row := range []struct {
		name string
		m    map[string]float64
	}{{"base", r.Base}, {"sft", r.SFT}, {"rlhf", r.RLHF}} {
		fmt.Fprintf(w, "  %-8s  gold %.1f sampled / %.1f greedy, correct %.2f, format %.2f, rude %.2f\n", row.name,
			row.m["gold_score"], row.m["gold_score_greedy"], row.m["correct_rate_greedy"], row.m["format_rate_greedy"], row.m["rude_rate"])
	}
	fmt.Fprintf(w, "  reward    held-out accuracy %.3f\n", r.Reward["val_accuracy"])
	fmt.Fprintf(w, "  rlhf      wins %.1f%% vs sft (ceiling %.1f%%), KL %.2f nats/reply\n",
		100*r.RLHF["win_rate_vs_sft"], 100*r.RLHF["win_rate_ceiling"], r.RLHF["kl"])
	fmt.Fprintf(w, "  time      %.1f min for the four stages\n", r.Seconds/60)
	if r.Skills != nil {
		fmt.Fprintf(w, "  skills    %d tables in report.md (evaluated in %.0fs)\n", len(r.Skills.Tables), r.Skills.EvalSeconds)
	}
}

// repl is a minimal chat loop on a checkpoint (examples/chat has the full one).
func repl(ctx context.Context, path string, in io.Reader, out io.Writer) error {
	ck, err := model.LoadStage(path, model.StageSFT, model.StageRLHF)
	if err != nil {
		return err
	}
	asst, err := chat.NewAssistant(ck.Model, ck.Tokenizer, 1)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "chat with the RLHF model (/quit to leave)")
	sc := bufio.NewScanner(in)
	for fmt.Fprint(out, "> "); sc.Scan(); fmt.Fprint(out, "> ") {
		line := strings.TrimSpace(sc.Text())
		if line == "/quit" {
			return nil
		}
		if line == "" {
			continue
		}
		st := chat.NewStreamer(ck.Tokenizer, out)
		r, err := asst.Reply(ctx, []data.Message{{Role: data.RoleUser, Content: line}}, model.SampleConfig{
			Temperature: 0.8, TopK: 40, Seed: uint64(now().UnixNano()),
			OnToken: func(_ int, tok int32) bool { return st.Add(tok) },
		})
		if err != nil {
			return err
		}
		if err := st.Finish(r.Text); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	return sc.Err()
}
