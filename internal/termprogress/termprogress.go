package termprogress

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/tinychat-go/tinychat/train"
)

// Mode selects how progress is shown.
type Mode int

const (
	// Auto draws a bar on a terminal and plain lines otherwise.
	Auto Mode = iota
	// Bar always draws the bar.
	Bar
	// Lines prints one plain line per logged metrics line.
	Lines
	// Quiet shows nothing.
	Quiet
)

// Reporter turns train.Progress events into a bar or lines on a writer.
type Reporter struct {
	mu   sync.Mutex
	w    io.Writer
	mode Mode
	bar  *progressbar.ProgressBar
	name string // the bar's stage
	// beside holds the last progress of the stages that run beside the bar's (a stage's
	// updates are drawn by the bar that exists when its first one comes, so two stages at
	// once share one bar: the first one's, the others' counts in its description).
	beside map[string]train.Progress
}

// New returns a Reporter writing to w in mode (Auto resolves against w).
func New(w io.Writer, mode Mode) *Reporter {
	if mode == Auto {
		mode = Lines
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = Bar
		}
	}
	return &Reporter{w: w, mode: mode, beside: map[string]train.Progress{}}
}

// Update shows one step's progress; pass it as train.Config.OnProgress.
func (r *Reporter) Update(p train.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch r.mode {
	case Lines:
		if p.Metrics != nil {
			fmt.Fprintf(r.w, "%s %d/%d %s\n", p.Name, p.Step, p.Steps, train.FormatMetrics(p.Metrics))
		}
	case Bar:
		if r.bar != nil && r.name != p.Name {
			// Another stage running beside the bar's: its count goes at the end of the
			// bar's description until the bar's stage ends.
			if p.Step == p.Steps {
				delete(r.beside, p.Name)
			} else {
				r.beside[p.Name] = p
			}
			return
		}
		if r.bar == nil {
			delete(r.beside, p.Name)
			r.name = p.Name
			r.bar = progressbar.NewOptions(p.Steps,
				progressbar.OptionSetWriter(r.w),
				progressbar.OptionSetDescription(p.Name),
				progressbar.OptionShowCount(),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionSetWidth(24),
				progressbar.OptionShowDescriptionAtLineEnd(),
				progressbar.OptionClearOnFinish(),
			)
		}
		r.bar.Describe(fmt.Sprintf("%s loss %.4f lr %.2e %.0f tok/s%s", p.Name, p.Loss, p.LR, p.TokensPerSecond, r.besideText()))
		_ = r.bar.Set(p.Step)
		if p.Step == p.Steps {
			r.finishBar()
		}
	}
}

// besideText lists the stages running beside the bar's, in name order: " · sft-direct 812/3000".
func (r *Reporter) besideText() string {
	names := make([]string, 0, len(r.beside))
	for name := range r.beside {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		fmt.Fprintf(&b, " · %s %d/%d", name, r.beside[name].Step, r.beside[name].Steps)
	}
	return b.String()
}

func (r *Reporter) finishBar() {
	if r.bar != nil {
		_ = r.bar.Finish()
		r.bar = nil
	}
}
