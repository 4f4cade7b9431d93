// Command speed measures one training step (forward, backward, clipping, AdamW) of our GPT
// beside the PyTorch reference (../shared/bench/torch_gpt.py) at several shapes, alternating
// the runs, and prints a markdown table of medians: ms/step on each of our BLAS paths and
// PyTorch's, their ratios, our GFLOP/s and each process's peak resident memory.
//
//	go run ./examples/speed
//	go run ./examples/speed -shapes '4,4,128,64,12' -rounds 5
//
// Every measurement is its own process (so that peak RSS is the step's alone): ours re-runs
// this program, PyTorch runs torch_gpt.py with /usr/bin/python3 (Debian's python3-torch;
// -python names another; without torch the PyTorch columns say so). The default shapes are nanoGPT's CPU shape, a 6-layer width-384
// model and GPT-2 small's body (12 layers, width 768; about 7 GB of memory).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tinychat-go/tinychat/internal/blas"
	"github.com/tinychat-go/tinychat/internal/stepbench"
	"github.com/tinychat-go/tinychat/model"
)

// childEnv, when set to "SHAPE;STEPS;WARM", optionally followed by ";recompute" and ";bf16",
// makes this program one measurement of ours.
const childEnv = "TINYCHAT_SPEED_CHILD"

func main() {
	if spec := os.Getenv(childEnv); spec != "" {
		if err := child(spec, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "speed:", err)
			os.Exit(1)
		}
		return
	}
	cfg := defaultConfig()
	shapes := flag.String("shapes", "4,4,128,64,12;6,6,384,256,8;12,12,768,256,4", "shapes to measure, layers,heads,width,block,batch separated by ;")
	flag.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "alternating rounds; the table gives medians")
	flag.IntVar(&cfg.Steps, "steps", 0, "timed steps per measurement (0: about 4 s of work, 3..50)")
	flag.IntVar(&cfg.Warm, "warm", cfg.Warm, "untimed steps first")
	flag.StringVar(&cfg.Torch, "torch", cfg.Torch, "the PyTorch reference script (empty: skip PyTorch)")
	flag.StringVar(&cfg.Data, "data", cfg.Data, "the text torch_gpt.py reads (Tiny Shakespeare)")
	flag.StringVar(&cfg.TorchCommand, "python", cfg.TorchCommand, "the Python that has torch")
	paths := flag.String("blas", "openblas,go", "our paths to measure: openblas, go, bf16 (pure Go with bf16 mixed-precision products)")
	flag.BoolVar(&cfg.Recompute, "recompute", false, "our graphs recompute each block's activations in the backward pass (GraphConfig.Recompute)")
	flag.Parse()
	var err error
	if cfg.Shapes, err = parseShapes(*shapes); err != nil {
		fmt.Fprintln(os.Stderr, "speed:", err)
		os.Exit(2)
	}
	cfg.Paths = strings.Split(*paths, ",")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := run(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "speed:", err)
		os.Exit(1)
	}
	fmt.Print(table(cfg, res))
}

// config is what to measure.
type config struct {
	Shapes       []stepbench.Shape
	Paths        []string // our BLAS paths: "openblas" and/or "go"
	Rounds       int
	Steps, Warm  int // Steps 0: stepsFor
	Torch, Data  string
	Self         string   // the program to run for ours (default: this one)
	SelfArgs     []string // its arguments (a test binary's -test.run, say)
	TorchCommand string   // the Python interpreter (default python3)
	Recompute    bool     // our graphs recompute activations (GraphConfig.Recompute)
}

func defaultConfig() config {
	return config{Rounds: 3, Warm: 2, Torch: "../shared/bench/torch_gpt.py", Data: "../shared/data/tinyshakespeare.txt",
		Paths: []string{"openblas", "go"}, TorchCommand: systemPython()}
}

// systemPython is Debian's /usr/bin/python3 (where python3-torch installs) when it exists:
// a python3 earlier on PATH (pyenv's, say) may not have torch.
func systemPython() string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}

func parseShapes(s string) ([]stepbench.Shape, error) {
	var out []stepbench.Shape
	for _, part := range strings.Split(s, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		sh, err := stepbench.ParseShape(part)
		if err != nil {
			return nil, err
		}
		out = append(out, sh)
	}
	if len(out) == 0 {
		return nil, errors.New("no shapes")
	}
	return out, nil
}

// stepsFor is about 4 s of work at 100 GFLOP/s, at least 3 steps and at most 50.
func stepsFor(s stepbench.Shape) int {
	return min(50, max(3, int(4e11/s.FLOPs()+0.5)))
}

// sample is one measurement: the median ms/step and the process's peak RSS in bytes.
type sample struct {
	MS  float64
	RSS int64
}

// result holds every measurement of one shape by runner ("openblas", "go", "torch").
type result struct {
	Shape   stepbench.Shape
	Samples map[string][]sample
	Note    string // why PyTorch is missing, when it is
}

// run measures each shape Rounds times, alternating our paths and PyTorch within a round.
func run(ctx context.Context, cfg config, log io.Writer) ([]result, error) {
	if cfg.Rounds <= 0 || cfg.Warm < 0 || cfg.Steps < 0 {
		return nil, fmt.Errorf("rounds %d, warm %d, steps %d: want rounds > 0 and no negative count", cfg.Rounds, cfg.Warm, cfg.Steps)
	}
	for _, p := range cfg.Paths {
		if p != "openblas" && p != "go" && p != "bf16" {
			return nil, fmt.Errorf("BLAS path %q: want openblas, go or bf16", p)
		}
	}
	torchNote := ""
	if cfg.Torch == "" {
		torchNote = "PyTorch not measured (-torch empty)"
	} else if err := torchAvailable(ctx, cfg); err != nil {
		torchNote = "PyTorch not measured: " + err.Error()
	}
	if torchNote != "" {
		fmt.Fprintln(log, torchNote)
	}
	var out []result
	for _, sh := range cfg.Shapes {
		steps := cfg.Steps
		if steps == 0 {
			steps = stepsFor(sh)
		}
		r := result{Shape: sh, Samples: map[string][]sample{}, Note: torchNote}
		for round := range cfg.Rounds {
			runners := slices.Clone(cfg.Paths)
			if torchNote == "" {
				runners = append(runners, "torch")
			}
			for _, who := range runners {
				s, err := measure(ctx, cfg, who, sh, steps)
				if err != nil {
					return nil, fmt.Errorf("shape %s, %s: %w", sh, who, err)
				}
				fmt.Fprintf(log, "shape %s round %d %-8s %9.2f ms/step  peak RSS %s\n", sh, round+1, who, s.MS, mib(s.RSS))
				r.Samples[who] = append(r.Samples[who], s)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func torchAvailable(ctx context.Context, cfg config) error {
	if _, err := os.Stat(cfg.Torch); err != nil {
		return err
	}
	if _, err := os.Stat(cfg.Data); err != nil {
		return err
	}
	py := cmdOr(cfg.TorchCommand, "python3")
	if out, err := exec.CommandContext(ctx, py, "-c", "import torch").CombinedOutput(); err != nil {
		return fmt.Errorf("%s cannot import torch (Debian: apt install python3-torch): %s", py, lastLine(string(out)))
	}
	return nil
}

func cmdOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// measure runs one process: ours on a BLAS path, or PyTorch.
func measure(ctx context.Context, cfg config, who string, sh stepbench.Shape, steps int) (sample, error) {
	var cmd *exec.Cmd
	if who == "torch" {
		cmd = exec.CommandContext(ctx, cmdOr(cfg.TorchCommand, "python3"), cfg.Torch, "--data", cfg.Data,
			"--shape", sh.String(), "--steps", strconv.Itoa(steps), "--warm", strconv.Itoa(cfg.Warm))
	} else {
		self := cfg.Self
		if self == "" {
			var err error
			if self, err = os.Executable(); err != nil {
				return sample{}, err
			}
		}
		cmd = exec.CommandContext(ctx, self, cfg.SelfArgs...)
		spec := fmt.Sprintf("%s;%d;%d", sh, steps, cfg.Warm)
		if cfg.Recompute {
			spec += ";recompute"
		}
		blasPath := who
		if who == "bf16" {
			spec, blasPath = spec+";bf16", "go"
		}
		cmd.Env = append(os.Environ(), childEnv+"="+spec, "TINYCHAT_BLAS="+blasPath)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("%v: %s", err, lastLine(stderr.String()))
	}
	ms, err := parseMS(stdout.String())
	if err != nil {
		return sample{}, err
	}
	return sample{MS: ms, RSS: peakRSS(cmd.ProcessState)}, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// parseMS reads the "ms_per_step=X" line that torch_gpt.py and child print.
func parseMS(out string) (float64, error) {
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "ms_per_step="); ok {
			ms, err := strconv.ParseFloat(v, 64)
			if err != nil || !(ms > 0) {
				return 0, fmt.Errorf("bad ms_per_step %q", v)
			}
			return ms, nil
		}
	}
	return 0, fmt.Errorf("no ms_per_step line in the output %q", strings.TrimSpace(out))
}

// child is one measurement of ours: spec is "SHAPE;STEPS;WARM", then ";recompute" to
// recompute activations and ";bf16" for mixed precision; it prints the BLAS path and
// ms_per_step, the median of the timed steps (as torch_gpt.py does).
func child(spec string, w io.Writer) error {
	parts := strings.Split(spec, ";")
	if len(parts) < 3 {
		return fmt.Errorf("%s=%q: want SHAPE;STEPS;WARM[;recompute][;bf16]", childEnv, spec)
	}
	var opts stepbench.Options
	for _, o := range parts[3:] {
		switch {
		case o == "recompute" && !opts.Recompute:
			opts.Recompute = true
		case o == "bf16" && opts.Precision == model.FP32:
			opts.Precision = model.BF16
		default:
			return fmt.Errorf("%s=%q: option %q: want SHAPE;STEPS;WARM[;recompute][;bf16]", childEnv, spec, o)
		}
	}
	sh, err := stepbench.ParseShape(parts[0])
	if err != nil {
		return err
	}
	steps, err1 := strconv.Atoi(parts[1])
	warm, err2 := strconv.Atoi(parts[2])
	if err := errors.Join(err1, err2); err != nil || steps <= 0 || warm < 0 {
		return fmt.Errorf("%s=%q: want STEPS > 0 and WARM ≥ 0", childEnv, spec)
	}
	step, err := stepbench.NewWith(sh, 1, opts)
	if err != nil {
		return err
	}
	for range warm {
		if err := step(); err != nil {
			return err
		}
	}
	times := make([]float64, steps)
	for i := range times {
		t0 := time.Now()
		if err := step(); err != nil {
			return err
		}
		times[i] = float64(time.Since(t0).Microseconds()) / 1000
	}
	fmt.Fprintf(w, "blas=%s\nms_per_step=%.2f\n", blas.Name(), median(times))
	return nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func mib(b int64) string {
	if b <= 0 {
		return "—"
	}
	if b >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

// medianOf is the median ms/step and median peak RSS of who's samples (0 without any).
func (r result) medianOf(who string) (ms float64, rss int64) {
	ss := r.Samples[who]
	if len(ss) == 0 {
		return 0, 0
	}
	var m, b []float64
	for _, s := range ss {
		m, b = append(m, s.MS), append(b, float64(s.RSS))
	}
	return median(m), int64(median(b))
}

// pairedRatio is the median over rounds of who's time over PyTorch's in the same round (0
// without both): measured side by side, a round's two runs share the machine's state, so the
// ratio within a round is steadier than the ratio of the two medians when the machine's speed
// drifts between rounds.
func (r result) pairedRatio(who string) float64 {
	ours, torch := r.Samples[who], r.Samples["torch"]
	var ratios []float64
	for i := range min(len(ours), len(torch)) {
		if torch[i].MS > 0 {
			ratios = append(ratios, ours[i].MS/torch[i].MS)
		}
	}
	return median(ratios)
}

// table is the markdown table of medians.
func table(cfg config, rs []result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "One training step (forward, backward, clipping, AdamW), medians of %d alternating runs; ratio = the median over rounds of ours / PyTorch in the same round (below 1: faster).\n\n", cfg.Rounds)
	if cfg.Recompute {
		b.WriteString("Our graphs recompute each block's activations in the backward pass (-recompute); PyTorch's keep them.\n\n")
	}
	b.WriteString("| shape (layers, heads, width, block, batch) |")
	for _, p := range cfg.Paths {
		fmt.Fprintf(&b, " ours, %s |", pathName(p))
	}
	b.WriteString(" PyTorch |")
	for _, p := range cfg.Paths {
		fmt.Fprintf(&b, " ratio, %s |", pathName(p))
	}
	b.WriteString(" GFLOP/s, ours (best) | peak RSS, ours / PyTorch |\n|---|")
	b.WriteString(strings.Repeat("---|", 2*len(cfg.Paths)+3))
	b.WriteString("\n")
	var notes []string
	for _, r := range rs {
		tms, trss := r.medianOf("torch")
		fmt.Fprintf(&b, "| %s |", strings.ReplaceAll(r.Shape.String(), ",", ", "))
		best, bestRSS := 0.0, int64(0)
		for _, p := range cfg.Paths {
			ms, rss := r.medianOf(p)
			fmt.Fprintf(&b, " %s |", fmtMS(ms))
			if best == 0 || ms < best {
				best, bestRSS = ms, rss
			}
		}
		fmt.Fprintf(&b, " %s |", fmtMS(tms))
		for _, p := range cfg.Paths {
			if ratio := r.pairedRatio(p); ratio > 0 {
				fmt.Fprintf(&b, " %.2f |", ratio)
			} else {
				b.WriteString(" — |")
			}
		}
		gf := "—"
		if best > 0 {
			gf = fmt.Sprintf("%.0f", r.Shape.FLOPs()/(best/1000)/1e9)
		}
		fmt.Fprintf(&b, " %s | %s / %s |\n", gf, mib(bestRSS), mib(trss))
		if r.Note != "" && !slices.Contains(notes, r.Note) {
			notes = append(notes, r.Note)
		}
	}
	for _, n := range notes {
		fmt.Fprintf(&b, "\n%s\n", n)
	}
	return b.String()
}

func pathName(p string) string {
	switch p {
	case "go":
		return "pure Go"
	case "bf16":
		return "pure Go, bf16"
	}
	return "OpenBLAS"
}

func fmtMS(ms float64) string {
	switch {
	case ms <= 0:
		return "—"
	case ms >= 1000:
		return fmt.Sprintf("%.2f s", ms/1000)
	default:
		return fmt.Sprintf("%.1f ms", ms)
	}
}
