package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tinyworld"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/rlhf"
	"github.com/tinychat-go/tinychat/train"
)

// Report is the report card of a run (report.json).
type Report struct {
	Pretrain map[string]float64 `json:"pretrain"`
	Base     map[string]float64 `json:"base"`
	SFT      map[string]float64 `json:"sft"`
	Reward   map[string]float64 `json:"reward"`
	RLHF     map[string]float64 `json:"rlhf"`
	// Seconds is the wall time of all four stages; EvalSeconds that of the evaluation.
	Seconds     float64 `json:"seconds"`
	EvalSeconds float64 `json:"eval_seconds"`
	// PeakRSSMiB is the peak resident memory of each stage this process ran and of the
	// evaluation ("eval"), sampled every 20 ms, and the process's whole peak ("run", the
	// kernel's high-water mark), in MiB (Linux only; empty elsewhere). A stage skipped because
	// its checkpoint exists shows what loading it took.
	PeakRSSMiB  map[string]float64 `json:"peak_rss_mib,omitempty"`
	EvalPrompts int                `json:"eval_prompts"`
	// EvalSamples is the number of replies sampled per prompt for the sampled figures.
	EvalSamples int  `json:"eval_samples"`
	Plan        plan `json:"plan"`
	// Examples are a few held-out prompts with each model's greedy reply.
	Examples []Example `json:"examples"`
	// Alarms are the warnings rlhf.Alarms raises on PPO's metrics log (over-optimisation of
	// the reward model, a runaway KL, reply length or end rate).
	Alarms []string `json:"alarms"`
	// Skills are the new skills' tables (plan.Skills; skills_eval.go).
	Skills *SkillsReport `json:"skills,omitempty"`
}

// Example is one held-out prompt and the replies of each model.
type Example struct {
	Prompt string `json:"prompt"`
	Base   string `json:"base"`
	SFT    string `json:"sft"`
	RLHF   string `json:"rlhf"`
}

// judged is a model's replies to the evaluation prompts, greedy and sampled, with verdicts:
// greedy[i] for prompt i, sampled[i*k+s] for its sample s of k (plan.EvalSamples).
type judged struct {
	greedy, sampled []tinyworld.Verdict
	greedyText      []string
	stats           map[string]float64
	// replies are the sampled replies with their tokens, in the order of sampled (for the
	// KL to SFT).
	replies []chat.Reply
}

// evalModel generates a greedy reply and plan.EvalSamples temperature-1 replies to each prompt
// and judges them.
func (p *pipeline) evalModel(ctx context.Context, path string, prompts []tinyworld.Prompt) (*judged, error) {
	ck, err := model.LoadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	asst, err := chat.NewAssistant(ck.Model, ck.Tokenizer, 32)
	if err != nil {
		return nil, err
	}
	msgs := make([][]data.Message, len(prompts))
	for i, pr := range prompts {
		msgs[i] = pr.Messages
	}
	j := &judged{stats: map[string]float64{}}
	seed := p.plan.EvalSeed
	if seed == 0 {
		seed = p.plan.Seed + 1000
	}
	for _, temp := range []float64{0, 1} {
		k := 1
		if temp > 0 {
			k = max(1, p.plan.EvalSamples)
		}
		replies, err := asst.Replies(ctx, msgs, model.SampleConfig{
			MaxNewTokens: p.plan.MaxReplyTokens, Temperature: temp, NumSamples: k, Seed: seed,
		})
		if err != nil {
			return nil, err
		}
		if temp == 1 {
			j.replies = replies
		}
		var gold, correct, format, rude, ramble float64
		for i, r := range replies {
			v := p.world.Judge(prompts[i/k], r.Text, r.Ended)
			if temp == 0 {
				j.greedy = append(j.greedy, v)
				j.greedyText = append(j.greedyText, r.Text)
			} else {
				j.sampled = append(j.sampled, v)
			}
			gold += v.Score
			correct += b2f(v.Correct && v.Ended)
			format += b2f(v.Ended)
			rude += b2f(!v.Polite)
			ramble += b2f(!v.Concise)
		}
		n := float64(len(replies))
		suffix := ""
		if temp == 0 {
			suffix = "_greedy"
		}
		j.stats["gold_score"+suffix] = gold / n
		j.stats["correct_rate"+suffix] = correct / n
		j.stats["format_rate"+suffix] = format / n
		j.stats["rude_rate"+suffix] = rude / n
		j.stats["ramble_rate"+suffix] = ramble / n
	}
	return j, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// evaluate judges the base, SFT and RLHF models on the held-out prompts and writes the report.
func (p *pipeline) evaluate(ctx context.Context) (*Report, error) {
	t0 := now()
	p.beginPeak("eval")
	// The evaluation decodes on the whole machine: keep the helper goroutines awake between
	// the decoding steps' operations (43–47 s → 36–39 s for the default run's checkpoints,
	// the same replies).
	defer model.KeepThreadsAwake()()
	prompts := p.world.EvalPrompts(p.plan.EvalPrompts)
	p.logf("evaluating base, SFT and RLHF models on %d held-out prompts", len(prompts))
	evals := map[string]*judged{}
	for _, s := range []string{"pretrain", "sft", "rlhf"} {
		path := p.paths.stage(s)
		if s == "rlhf" {
			path = p.paths.stage(p.policyStage()) // PPO's policy, or the RLVR stage's after it
		}
		j, err := p.evalModel(ctx, path, prompts)
		if err != nil {
			return nil, fmt.Errorf("evaluating %s: %w", s, err)
		}
		evals[s] = j
	}
	// Head-to-heads: ties count half. The ceiling is the win rate of a model that scores the
	// judge's maximum on every reply: it can only tie where SFT's reply already does.
	var wins, ties, ceiling float64
	for i := range evals["rlhf"].sampled { // sample s of prompt j against SFT's sample s
		a, b := evals["rlhf"].sampled[i].Score, evals["sft"].sampled[i].Score
		switch {
		case a > b:
			wins++
		case a == b:
			ties++
		}
		if b >= tinyworld.CorrectPoints+tinyworld.PolitePoints+tinyworld.ConcisePoints {
			ceiling += 0.5
		} else {
			ceiling++
		}
	}
	r := &Report{
		Pretrain:    map[string]float64{"val_loss": p.metrics["pretrain"]["val_loss"], "seconds": p.seconds["pretrain"]},
		Base:        evals["pretrain"].stats,
		SFT:         evals["sft"].stats,
		Reward:      map[string]float64{"val_accuracy": p.metrics["reward"]["val_accuracy"], "seconds": p.seconds["reward"]},
		RLHF:        evals["rlhf"].stats,
		EvalPrompts: len(prompts),
		EvalSamples: len(evals["rlhf"].sampled) / len(prompts),
		Plan:        p.plan,
	}
	r.SFT["seconds"] = p.seconds["sft"]
	r.SFT["val_loss"] = p.metrics["sft"]["val_loss"]
	r.RLHF["seconds"] = p.seconds["rlhf"]
	n := float64(len(evals["rlhf"].sampled))
	r.RLHF["win_rate_vs_sft"] = (wins + ties/2) / n
	r.RLHF["tie_rate_vs_sft"] = ties / n
	r.RLHF["loss_rate_vs_sft"] = (n - wins - ties) / n
	r.RLHF["win_rate_ceiling"] = ceiling / n
	kl, err := p.klToSFT(ctx, evals["rlhf"].replies)
	if err != nil {
		return nil, fmt.Errorf("the KL to SFT: %w", err)
	}
	r.RLHF["kl"], r.RLHF["ppo_kl"] = kl, p.ppoKL()
	for _, s := range []string{"pretrain", "sft", "reward", "rlhf", "rlvr"} {
		r.Seconds += p.seconds[s]
	}
	if p.policyStage() == "rlvr" {
		r.RLHF["rlvr_seconds"] = p.seconds["rlvr"]
	}
	for i := 0; i < len(prompts) && i < 8; i++ {
		r.Examples = append(r.Examples, Example{
			Prompt: lastUser(prompts[i].Messages),
			Base:   evals["pretrain"].greedyText[i], SFT: evals["sft"].greedyText[i], RLHF: evals["rlhf"].greedyText[i],
		})
	}
	r.Alarms = []string{}
	if lines, err := train.ReadMetrics(train.MetricsPath(p.paths.stage("rlhf"))); err == nil {
		for _, a := range rlhf.Alarms(lines, rlhf.AlarmConfig{MaxReplyTokens: p.plan.MaxReplyTokens}) {
			r.Alarms = append(r.Alarms, a.String())
		}
	}
	if p.plan.Skills {
		sk, err := p.evaluateSkills(ctx)
		if err != nil {
			return nil, fmt.Errorf("evaluating the skills: %w", err)
		}
		r.Skills = sk
	}
	r.EvalSeconds = now().Sub(t0).Seconds()
	p.notePeak("eval")
	r.PeakRSSMiB = p.peakMiB
	if err := p.writeReport(r); err != nil {
		return nil, err
	}
	return r, nil
}

// klToModel estimates the KL of the policy that sampled replies (at temperature 1) to ref, in
// nats per reply: the mean over replies of Σ log π(token) − log π_ref(token) over the reply's
// tokens, as PPO's metrics log measures it on its own prompts. Both models score each reply
// after its prompt, cropped on the left where prompt and reply outgrow the block (the
// sampler slides its window there).
func klToModel(ctx context.Context, replies []chat.Reply, policy, ref *model.Model) (float64, error) {
	if len(replies) == 0 {
		return 0, nil
	}
	engines := make([]*model.Engine, 2)
	for i, m := range []*model.Model{policy, ref} {
		var err error
		if engines[i], err = model.NewEngine(m, 1); err != nil {
			return 0, err
		}
	}
	block := policy.Config.BlockSize
	var sum float64
	logp := make([]float64, 2)
	for i, r := range replies {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if len(r.Tokens) == 0 {
			continue
		}
		if len(r.Tokens) >= block {
			return 0, fmt.Errorf("reply %d has %d tokens, the block %d", i, len(r.Tokens), block)
		}
		prompt := r.Prompt[max(0, len(r.Prompt)+len(r.Tokens)-1-block):]
		for t, tok := range r.Tokens {
			for e, eng := range engines {
				var logits []float32
				var err error
				if t == 0 {
					eng.Reset()
					logits, err = eng.Prefill(0, prompt)
				} else {
					logits, err = eng.Prefill(0, r.Tokens[t-1:t])
				}
				if err != nil {
					return 0, fmt.Errorf("reply %d: %w", i, err)
				}
				logp[e] = logSoftmaxAt(logits, tok)
			}
			sum += logp[0] - logp[1]
		}
	}
	return sum / float64(len(replies)), nil
}

// klToSFT is klToModel of the run's final policy to its SFT model.
func (p *pipeline) klToSFT(ctx context.Context, replies []chat.Reply) (float64, error) {
	var ms []*model.Model
	for _, s := range []string{p.policyStage(), "sft"} {
		ck, err := model.LoadCheckpoint(p.paths.stage(s))
		if err != nil {
			return 0, err
		}
		ms = append(ms, ck.Model)
	}
	return klToModel(ctx, replies, ms[0], ms[1])
}

// logSoftmaxAt is log softmax(logits)[tok].
func logSoftmaxAt(logits []float32, tok int32) float64 {
	mx := logits[0]
	for _, v := range logits[1:] {
		mx = max(mx, v)
	}
	var z float64
	for _, v := range logits {
		z += math.Exp(float64(v - mx))
	}
	return float64(logits[tok]-mx) - math.Log(z)
}

// ppoKL is the mean KL to the SFT model per reply over PPO's last five iterations.
func (p *pipeline) ppoKL() float64 {
	lines, err := train.ReadMetrics(train.MetricsPath(p.paths.stage("rlhf")))
	if err != nil || len(lines) == 0 {
		return p.metrics["rlhf"]["kl"]
	}
	from := max(0, len(lines)-5)
	var s float64
	for _, l := range lines[from:] {
		s += l["kl"]
	}
	return s / float64(len(lines)-from)
}

func lastUser(msgs []data.Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == data.RoleUser {
			return msgs[i].Content
		}
	}
	return ""
}

// writeReport writes report.json, report.md and the plots.
func (p *pipeline) writeReport(r *Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(p.paths.dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	plots, err := p.plots()
	if err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	return os.WriteFile(filepath.Join(p.paths.dir, "report.md"), []byte(markdown(r, plots)), 0o644)
}

// rlvrMethodName is the RLVR stage's group method as papers write it.
func rlvrMethodName(pl plan) string {
	if rlhf.GroupMethod(pl.RLVRMethod) == rlhf.RLOO {
		return "RLOO"
	}
	return "GRPO"
}

// rlhfName is the card's name for the final policy: PPO's, or PPO's followed by RLVR.
func rlhfName(r *Report) string {
	if _, ok := r.RLHF["rlvr_seconds"]; ok {
		return "RLHF (PPO, then RLVR)"
	}
	return "RLHF (PPO)"
}

func markdown(r *Report, plots []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# tinychat report card\n\n")
	fmt.Fprintf(&b, "All four stages in %.1f minutes (evaluation %.0f s more); %d held-out prompts, a greedy reply and %d sampled ones (T=1) to each, judged by the gold judge (0–100).\n\n",
		r.Seconds/60, r.EvalSeconds, r.EvalPrompts, r.EvalSamples)
	if len(r.PeakRSSMiB) > 0 {
		var parts []string
		for _, s := range []string{"pretrain", "sft", "reward", "rlhf", "rlvr", "sft-direct", "eval", "run"} {
			if v, ok := r.PeakRSSMiB[s]; ok {
				parts = append(parts, fmt.Sprintf("%s %.0f", s, v))
			}
		}
		fmt.Fprintf(&b, "Peak resident memory (MiB) of what this process ran (sampled every 20 ms; run: the kernel's high-water mark): %s.\n\n", strings.Join(parts, ", "))
	}
	fmt.Fprintf(&b, "| model | gold (sampled, T=1) | gold (greedy) | correct (greedy) | format (greedy) | rude (sampled) | rambling (sampled) |\n|---|---|---|---|---|---|---|\n")
	for _, row := range []struct {
		name string
		m    map[string]float64
	}{{"base (pretrained)", r.Base}, {"SFT", r.SFT}, {rlhfName(r), r.RLHF}} {
		fmt.Fprintf(&b, "| %s | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f |\n", row.name,
			row.m["gold_score"], row.m["gold_score_greedy"], row.m["correct_rate_greedy"], row.m["format_rate_greedy"],
			row.m["rude_rate"], row.m["ramble_rate"])
	}
	fmt.Fprintf(&b, "\n- pretraining validation loss: %.3f (%.0f s)\n", r.Pretrain["val_loss"], r.Pretrain["seconds"])
	fmt.Fprintf(&b, "- SFT: held-out assistant-token loss %.3f (%.0f s)\n", r.SFT["val_loss"], r.SFT["seconds"])
	fmt.Fprintf(&b, "- reward model: held-out pairwise accuracy %.3f (%.0f s, sampling and judging included)\n", r.Reward["val_accuracy"], r.Reward["seconds"])
	fmt.Fprintf(&b, "- RLHF: gold %+.1f over SFT (sampled), wins %.1f%% of %d sampled head-to-heads against SFT (ties count half; %.0f%% ties, %.0f%% losses; a model scoring 100 everywhere would win %.1f%%), KL to SFT %.2f nats per reply on the held-out prompts' sampled replies (PPO's own prompts, its last five iterations: %.2f); PPO %.0f s",
		r.RLHF["gold_score"]-r.SFT["gold_score"], 100*r.RLHF["win_rate_vs_sft"], r.EvalPrompts*r.EvalSamples, 100*r.RLHF["tie_rate_vs_sft"],
		100*r.RLHF["loss_rate_vs_sft"], 100*r.RLHF["win_rate_ceiling"], r.RLHF["kl"], r.RLHF["ppo_kl"], r.RLHF["seconds"])
	if sec, ok := r.RLHF["rlvr_seconds"]; ok {
		fmt.Fprintf(&b, ", then RLVR (%s on the skills' prompts scored by the judge, and %d original prompts scored by the reward model) %.0f s",
			rlvrMethodName(r.Plan), r.Plan.RLVRFactPrompts, sec)
	}
	b.WriteString("\n\n")
	if len(r.Alarms) == 0 {
		fmt.Fprintf(&b, "PPO raised no alarm (over-optimisation of the reward model, runaway KL, reply length or end rate).\n\n")
	} else {
		fmt.Fprintf(&b, "PPO's alarms:\n\n")
		for _, a := range r.Alarms {
			fmt.Fprintf(&b, "- %s\n", a)
		}
		fmt.Fprintln(&b)
	}
	if r.Skills != nil {
		b.WriteString(r.Skills.markdown())
	}
	fmt.Fprintf(&b, "## Examples (greedy)\n\n| prompt | base | SFT | RLHF |\n|---|---|---|---|\n")
	esc := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ") }
	for _, e := range r.Examples {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", esc(e.Prompt), esc(e.Base), esc(e.SFT), esc(e.RLHF))
	}
	if len(plots) > 0 {
		fmt.Fprintf(&b, "\n## Curves\n\n")
		for _, p := range plots {
			fmt.Fprintf(&b, "![%s](%s)\n\n", p, p)
		}
	}
	return b.String()
}

// plots draws each stage's curves from its metrics log.
func (p *pipeline) plots() ([]string, error) {
	specs := []struct {
		stage, title, x string
		keys            []string
	}{
		{"pretrain", "pretraining", "step", []string{"loss", "val_loss"}},
		{"sft", "SFT", "step", []string{"loss", "val_loss", "format_rate"}},
		{"reward", "reward model", "step", []string{"loss", "val_accuracy"}},
		{"rlhf", "PPO", "iteration", []string{"score", "kl", "entropy"}},
		{"rlvr", "RLVR (" + rlvrMethodName(p.plan) + " on the skills' prompts and original ones)", "iteration", []string{"score", "kl"}},
	}
	var out []string
	for _, s := range specs {
		if s.stage == "rlvr" && p.policyStage() != "rlvr" {
			continue
		}
		lines, err := train.ReadMetrics(train.MetricsPath(p.paths.stage(s.stage)))
		if err != nil {
			continue // a skipped stage from an older run may have no log
		}
		pl := plot.New()
		pl.Title.Text = s.title
		pl.X.Label.Text = s.x
		var args []any
		for _, k := range s.keys {
			var pts plotter.XYs
			for _, l := range lines {
				if v, ok := l[k]; ok {
					pts = append(pts, plotter.XY{X: l["step"], Y: v})
				}
			}
			if len(pts) > 0 {
				args = append(args, k, pts)
			}
		}
		if len(args) == 0 {
			continue
		}
		if err := plotutil.AddLinePoints(pl, args...); err != nil {
			return nil, err
		}
		name := "plot_" + s.stage + ".png"
		if err := pl.Save(6*vg.Inch, 3.5*vg.Inch, filepath.Join(p.paths.dir, name)); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	name, err := p.overoptimisationPlot()
	if err != nil {
		return nil, err
	}
	if name != "" {
		out = append(out, name)
	}
	return out, nil
}

// overoptimisationPlot draws the gold score and the reward model's score (the proxy) of PPO's
// policy against √KL to the SFT model, as Gao et al. plot them; each against its value at the
// first measurement, gold in points/100, so both start at 0.
func (p *pipeline) overoptimisationPlot() (string, error) {
	lines, err := train.ReadMetrics(train.MetricsPath(p.paths.stage("rlhf")))
	if err != nil {
		return "", nil
	}
	var gold, proxy plotter.XYs
	var g0, p0 float64
	for _, l := range lines {
		g, okG := l["gold"]
		pr, okP := l["proxy"]
		if !okG || !okP {
			continue
		}
		if len(gold) == 0 {
			g0, p0 = g, pr
		}
		x := math.Sqrt(max(l["kl"], 0))
		gold, proxy = append(gold, plotter.XY{X: x, Y: (g - g0) / 100}), append(proxy, plotter.XY{X: x, Y: pr - p0})
	}
	if len(gold) < 2 {
		return "", nil
	}
	pl := plot.New()
	pl.Title.Text = "PPO: gold and proxy reward against KL"
	pl.X.Label.Text = "√KL to the SFT model (√nats per reply)"
	pl.Y.Label.Text = "change since the first measurement"
	pl.Legend.Top, pl.Legend.Left = true, true
	if err := plotutil.AddScatters(pl, "gold (judge, /100)", gold, "proxy (reward model)", proxy); err != nil {
		return "", err
	}
	name := "plot_overoptimisation.png"
	return name, pl.Save(6*vg.Inch, 3.5*vg.Inch, filepath.Join(p.paths.dir, name))
}
