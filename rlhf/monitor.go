package rlhf

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	"github.com/tinychat-go/tinychat/model"
)

// AlarmConfig says when an RL run's metrics history raises an alarm (see Alarms). The zero value
// of a field means its default.
type AlarmConfig struct {
	// Proxy and Gold are the metrics compared for over-optimisation: the reward the policy is
	// trained on and the true quality, both measured on the same held-out prompts by the run's
	// Evaluate (defaults "proxy" and "gold").
	Proxy, Gold string
	// Window is the number of consecutive evaluations over which the proxy must rise while the
	// gold falls (default 3).
	Window int
	// MaxKL is the KL to the starting model, in nats per reply, above which the run is said to
	// run away (default 10).
	MaxKL float64
	// MaxReplyTokens is the length limit of the replies: a mean reply length within 10% of it
	// raises an alarm (0: no length alarm).
	MaxReplyTokens int
	// MinEndedRate is the share of replies closed with <|end|> below which the run raises an
	// alarm, once it has been above it (default 0.5).
	MinEndedRate float64
}

// Alarm is one warning about an RL run.
type Alarm struct {
	// Step is the step (iteration) at which it was raised; Kind is "overoptimisation", "kl",
	// "length" or "ended"; Message says what was seen.
	Step    int
	Kind    string
	Message string
}

func (a Alarm) String() string { return fmt.Sprintf("step %d: %s: %s", a.Step, a.Kind, a.Message) }

// Alarms scans a run's metrics history (the metrics log's lines, in order, each with "step")
// and returns the alarms it raises, at most one of each kind, at the first step that raises it:
// over-optimisation (the proxy reward rose at each of the last Window evaluations while the gold
// score fell over them), a KL that runs away, replies that run to the length limit, and an
// end-token rate that collapses.
func Alarms(lines []map[string]float64, cfg AlarmConfig) []Alarm {
	if cfg.Proxy == "" {
		cfg.Proxy = "proxy"
	}
	if cfg.Gold == "" {
		cfg.Gold = "gold"
	}
	if cfg.Window <= 0 {
		cfg.Window = 3
	}
	if cfg.MaxKL == 0 {
		cfg.MaxKL = 10
	}
	if cfg.MinEndedRate == 0 {
		cfg.MinEndedRate = 0.5
	}
	var out []Alarm
	raised := map[string]bool{}
	raise := func(step int, kind, format string, args ...any) {
		if !raised[kind] {
			raised[kind] = true
			out = append(out, Alarm{Step: step, Kind: kind, Message: fmt.Sprintf(format, args...)})
		}
	}
	var evals []map[string]float64 // lines with both proxy and gold
	endedOK := false
	for _, l := range lines {
		step := int(l["step"])
		if kl, ok := l["kl"]; ok && kl > cfg.MaxKL {
			raise(step, "kl", "KL to the starting model is %.2f nats per reply, above %.2f", kl, cfg.MaxKL)
		}
		if n, ok := l["reply_len"]; ok && cfg.MaxReplyTokens > 0 && n >= 0.9*float64(cfg.MaxReplyTokens) {
			raise(step, "length", "replies average %.1f tokens, near the limit of %d", n, cfg.MaxReplyTokens)
		}
		if e, ok := l["ended_rate"]; ok {
			if e >= cfg.MinEndedRate {
				endedOK = true
			} else if endedOK {
				raise(step, "ended", "only %.0f%% of replies end with <|end|>", 100*e)
			}
		}
		_, hasP := l[cfg.Proxy]
		_, hasG := l[cfg.Gold]
		if !hasP || !hasG {
			continue
		}
		evals = append(evals, l)
		if len(evals) <= cfg.Window {
			continue
		}
		w := evals[len(evals)-cfg.Window-1:]
		rising := true
		for i := 1; i < len(w); i++ {
			rising = rising && w[i][cfg.Proxy] > w[i-1][cfg.Proxy]
		}
		if first, last := w[0][cfg.Gold], w[len(w)-1][cfg.Gold]; rising && last < first {
			raise(step, "overoptimisation", "%s rose %.3g → %.3g over the last %d evaluations while %s fell %.3g → %.3g",
				cfg.Proxy, w[0][cfg.Proxy], w[len(w)-1][cfg.Proxy], cfg.Window, cfg.Gold, first, last)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Step < out[j].Step })
	return out
}

// watch raises a run's alarms as they happen: it keeps the metrics history since the run
// (re)started and logs each new alarm as a warning.
type watch struct {
	cfg     AlarmConfig
	log     *slog.Logger
	history []map[string]float64
	seen    map[string]bool
	// Raised are the alarms logged so far.
	Raised []Alarm
}

func newWatch(cfg AlarmConfig, log *slog.Logger) *watch {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &watch{cfg: cfg, log: log, seen: map[string]bool{}}
}

// step records a step's metrics; eval merges an evaluation's into the last step's.
func (w *watch) step(step int, m map[string]float64) {
	line := map[string]float64{"step": float64(step)}
	for k, v := range m {
		line[k] = v
	}
	w.history = append(w.history, line)
	w.check()
}

func (w *watch) eval(m map[string]float64) {
	if len(w.history) == 0 {
		return
	}
	for k, v := range m {
		w.history[len(w.history)-1][k] = v
	}
	w.check()
}

func (w *watch) check() {
	for _, a := range Alarms(w.history, w.cfg) {
		if !w.seen[a.Kind] {
			w.seen[a.Kind] = true
			w.Raised = append(w.Raised, a)
			w.log.Warn("RL alarm", "step", a.Step, "kind", a.Kind, "message", a.Message)
		}
	}
}

// evaluator wraps a run's Evaluate for the training loop: it measures the policy and shows the
// result to the watch.
func evaluator(f func(context.Context, *model.Model) (map[string]float64, error), policy *model.Model, w *watch) func(context.Context) (map[string]float64, error) {
	if f == nil {
		return nil
	}
	return func(ctx context.Context) (map[string]float64, error) {
		m, err := f(ctx, policy)
		if err == nil {
			w.eval(m)
		}
		return m, err
	}
}
