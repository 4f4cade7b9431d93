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
	"github.com/tinychat-go/tinychat/train"
)

// judged is a model's replies to the held-out prompts with their verdicts: greedy[i] for
// prompt i, sampled[i*k+s] for its sample s of k; kl is the mean KL to the SFT model over the
// sampled replies (Σ log π − log π_sft per reply).
type judged struct {
	greedy, sampled []tinyworld.Verdict
	kl, proxy       float64
}

// judge generates a greedy reply and EvalSamples T=1 replies (the evaluation seed) to every
// held-out prompt with m, judges them, and measures the sampled replies' KL to the SFT model.
func (b *bakeoff) judge(ctx context.Context, m *model.Model) (*judged, error) {
	asst, err := b.lanes(m)
	if err != nil {
		return nil, err
	}
	j := &judged{}
	for _, temp := range []float64{0, 1} {
		k := 1
		if temp > 0 {
			k = b.plan.EvalSamples
		}
		replies, err := asst.Replies(ctx, b.evalMsgs, model.SampleConfig{
			MaxNewTokens: b.plan.MaxReplyTokens, Temperature: temp, NumSamples: k, Seed: b.evalSeed(), ReturnLogProbs: temp > 0,
		})
		if err != nil {
			return nil, err
		}
		for i, r := range replies {
			v := b.world.Judge(b.eval[i/k], r.Text, r.Ended)
			if temp == 0 {
				j.greedy = append(j.greedy, v)
			} else {
				j.sampled = append(j.sampled, v)
			}
		}
		if temp > 0 {
			if j.kl, err = b.klToSFT(replies); err != nil {
				return nil, err
			}
			if j.proxy, err = b.proxy(ctx, replies, k); err != nil {
				return nil, err
			}
		}
	}
	return j, nil
}

// proxy is the reward model's mean score of replies (k per held-out prompt).
func (b *bakeoff) proxy(ctx context.Context, replies []chat.Reply, k int) (float64, error) {
	prompts, texts := make([][]data.Message, len(replies)), make([]string, len(replies))
	for i, r := range replies {
		prompts[i], texts[i] = b.evalMsgs[i/k], r.Text
	}
	scores, err := b.scorer.ScoreBatch(ctx, prompts, texts)
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, s := range scores {
		sum += float64(s)
	}
	return sum / float64(len(scores)), nil
}

// klToSFT is the mean over replies of Σ (log π − log π_sft) over their tokens: the sampled
// estimate of KL(π‖π_sft) per reply (log π as sampled, log π_sft from the SFT model).
func (b *bakeoff) klToSFT(replies []chat.Reply) (float64, error) {
	if len(replies) == 0 {
		return 0, nil
	}
	// Rows as long as the longest sequence (a multiple of 8 up to the block), 16 at a time: the
	// log-probabilities of a position do not depend on what follows it.
	T, rows := 8, 16
	seqs := make([][]int32, len(replies))
	for i, r := range replies {
		seq := append(append([]int32(nil), r.Prompt...), r.Tokens...)
		if len(seq)-1 > b.sft.Model.Config.BlockSize {
			seq = seq[len(seq)-1-b.sft.Model.Config.BlockSize:]
		}
		seqs[i] = seq
		T = max(T, (len(seq)-1+7)/8*8)
	}
	T = min(T, b.sft.Model.Config.BlockSize)
	g, err := b.sft.Model.NewGraph(model.GraphConfig{Batch: rows, Block: T, Objective: model.LogProbs})
	if err != nil {
		return 0, err
	}
	var total float64
	for lo := 0; lo < len(seqs); lo += rows {
		hi := min(lo+rows, len(seqs))
		clear(g.Tokens)
		clear(g.Targets)
		for k, seq := range seqs[lo:hi] {
			copy(g.Tokens[k*T:], seq[:len(seq)-1])
			copy(g.Targets[k*T:], seq[1:])
		}
		if err := g.Run(); err != nil {
			return 0, err
		}
		for k, seq := range seqs[lo:hi] {
			r := replies[lo+k]
			start := k*T + len(seq) - 1 - len(r.Tokens)
			for n, lp := range r.LogProbs {
				total += float64(lp) - float64(g.Output[start+n])
			}
		}
	}
	return total / float64(len(replies)), nil
}

// row is one line of the bake-off's table.
type row struct {
	Method string `json:"method"`
	// Gold is the mean gold score of sampled replies (T=1), GoldGreedy of greedy ones;
	// Correct the greedy correctness rate.
	Gold, GoldGreedy, Correct float64
	// Win is the win rate against SFT's sampled replies (ties count half), Ties the tie rate.
	Win, Ties float64
	// KL is the KL to the SFT model per reply; Proxy the reward model's mean score of the
	// sampled replies.
	KL, Proxy float64
	// Seconds is the wall time of the method (training, or best-of-n's sampling); Replies the
	// replies it sampled.
	Seconds  float64
	Replies  int
	NoGreedy bool     `json:"no_greedy,omitempty"`
	Alarms   []string `json:"alarms,omitempty"`
}

// row makes a table row from judged replies; the sampled head-to-heads pair each sample with
// SFT's sample of the same index.
func (b *bakeoff) row(name string, j *judged, replies int, seconds float64) row {
	r := row{Method: name, KL: j.kl, Proxy: j.proxy, Seconds: seconds, Replies: replies}
	k := len(j.sampled) / len(b.eval)
	for i, v := range j.sampled {
		r.Gold += v.Score
		s := b.sftJudged.sampled[(i/k)*b.plan.EvalSamples+i%k]
		switch {
		case v.Score > s.Score:
			r.Win++
		case v.Score == s.Score:
			r.Win += 0.5
			r.Ties++
		}
	}
	n := float64(len(j.sampled))
	r.Gold, r.Win, r.Ties = r.Gold/n, r.Win/n, r.Ties/n
	for _, v := range j.greedy {
		r.GoldGreedy += v.Score
		if v.Correct && v.Ended {
			r.Correct++
		}
	}
	if g := float64(len(j.greedy)); g > 0 {
		r.GoldGreedy, r.Correct = r.GoldGreedy/g, r.Correct/g
	}
	return r
}

// report is the bake-off's result (report.json).
type report struct {
	Budget      int     `json:"budget"`
	EvalPrompts int     `json:"eval_prompts"`
	EvalSamples int     `json:"eval_samples"`
	Plan        runPlan `json:"plan"`
	Rows        []row   `json:"rows"`
	// RLRows and DPORows are the row lengths the RL methods and DPO trained on (0: the
	// model's block); Command the command line; Seconds the whole run's wall time; Load the
	// 1-minute load average at the start and the end (Linux; nil elsewhere) on CPUs cores.
	RLRows  int       `json:"rl_rows"`
	DPORows int       `json:"dpo_rows"`
	Command string    `json:"command,omitempty"`
	Seconds float64   `json:"seconds"`
	Load    []float64 `json:"load,omitempty"`
	CPUs    int       `json:"cpus"`
}

// loadAverage is the 1-minute load average (Linux's /proc/loadavg), or -1.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	var l float64
	if _, err := fmt.Sscan(string(b), &l); err != nil {
		return -1
	}
	return l
}

// table renders the rows as a markdown table.
func (r *report) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| method | gold, sampled | gold, greedy | correct, greedy | win vs SFT (ties) | reward model | KL to SFT | wall time | replies sampled |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range r.Rows {
		greedy, correct := fmt.Sprintf("%.1f", x.GoldGreedy), fmt.Sprintf("%.3f", x.Correct)
		if x.NoGreedy {
			greedy, correct = "—", "—"
		}
		kl := x.KL
		if math.Abs(kl) < 0.005 {
			kl = 0 // SFT against itself: rounding, not "-0.00"
		}
		fmt.Fprintf(&b, "| %s | %.1f | %s | %s | %.1f%% (%.0f%%) | %.2f | %.2f | %.0f s | %d |\n",
			x.Method, x.Gold, greedy, correct, 100*x.Win, 100*x.Ties, x.Proxy, kl, x.Seconds, x.Replies)
	}
	return b.String()
}

// write saves report.json, report.md and plot_bakeoff.png.
func (b *bakeoff) write(r *report) error {
	r.Plan = b.plan
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.out, "report.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	plotName, err := b.plot()
	if err != nil {
		return err
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# Alignment bake-off on the tiny world\n\n")
	fmt.Fprintf(&md, "Every trained method samples %d replies (PPO's %d iterations × %d prompts); every model is judged by the gold judge on the same %d held-out prompts, one greedy reply and %d sampled at T=1 with the same seeds. Best-of-n keeps, for each held-out prompt, the reward model's best of n samples (its KL is the analytic log n − (n−1)/n).\n\n",
		r.Budget, b.plan.PPOIterations, b.plan.PPOPrompts, r.EvalPrompts, r.EvalSamples)
	block := b.sft.Model.Config.BlockSize
	fmt.Fprintf(&md, "The RL methods train on rows of %s (rlhf.RolloutBlock of their prompts and replies; the model's block is %d).", rowsText(r.RLRows, block), block)
	if b.plan.PPOPretrainCoef > 0 {
		fmt.Fprintf(&md, " PPO-ptx adds the pretraining mix (the next-token loss on the world's text, γ %g).", b.plan.PPOPretrainCoef)
	}
	if b.plan.GroupPretrainCoef > 0 {
		fmt.Fprintf(&md, " GRPO, RLOO and GRPO with the gold reward add the pretraining mix (γ %g).", b.plan.GroupPretrainCoef)
	}
	if r.DPORows >= 0 {
		fmt.Fprintf(&md, " DPO trains on rows of %s at β %g, LR %g (cosine to a tenth, 5%% warm-up), RPO α %g, %d epoch(s).",
			rowsText(r.DPORows, block), b.plan.DPOBeta, b.plan.DPOLR, b.plan.DPORPOAlpha, b.plan.DPOEpochs)
	}
	md.WriteString("\n\n")
	md.WriteString(r.table())
	if r.Command != "" {
		fmt.Fprintf(&md, "\nCommand: `%s`. ", r.Command)
	}
	fmt.Fprintf(&md, "Whole run: %.0f s on %d cores", r.Seconds, r.CPUs)
	if len(r.Load) == 2 && r.Load[0] >= 0 && r.Load[1] >= 0 {
		fmt.Fprintf(&md, " (1-minute load average %.2f at the start, %.2f at the end)", r.Load[0], r.Load[1])
	}
	md.WriteString("; a method whose checkpoint was already there shows the wall time it was trained in.\n")
	for _, x := range r.Rows {
		for _, a := range x.Alarms {
			fmt.Fprintf(&md, "\n- %s alarm: %s", x.Method, a)
		}
	}
	if plotName != "" {
		fmt.Fprintf(&md, "\n\n![gold and proxy against KL](%s)\n", plotName)
	}
	return os.WriteFile(filepath.Join(b.out, "report.md"), []byte(md.String()), 0o644)
}

func rowsText(rows, block int) string {
	if rows == 0 {
		return fmt.Sprintf("the model's block (%d)", block)
	}
	return fmt.Sprint(rows, " tokens")
}

// plot draws every RL method's gold score (measured during training on the curve prompts)
// against √KL to the SFT model.
func (b *bakeoff) plot() (string, error) {
	pl := plot.New()
	pl.Title.Text = "gold score during training against √KL"
	pl.X.Label.Text = "√KL to the SFT model (√nats per reply, rollout estimate)"
	pl.Y.Label.Text = "gold score (held-out, sampled)"
	var args []any
	for _, m := range b.methods {
		lines, err := train.ReadMetrics(train.MetricsPath(filepath.Join(b.out, m+".safetensors")))
		if err != nil {
			continue
		}
		var pts plotter.XYs
		for _, l := range lines {
			if g, ok := l["gold"]; ok {
				pts = append(pts, plotter.XY{X: math.Sqrt(max(l["kl"], 0)), Y: g})
			}
		}
		if len(pts) > 0 {
			args = append(args, methodName(m), pts)
		}
	}
	if len(args) == 0 {
		return "", nil
	}
	pl.Legend.Top, pl.Legend.Left = true, true
	if err := plotutil.AddScatters(pl, args...); err != nil {
		return "", err
	}
	name := "plot_bakeoff.png"
	return name, pl.Save(7*vg.Inch, 4*vg.Inch, filepath.Join(b.out, name))
}
