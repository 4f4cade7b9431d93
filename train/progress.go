package train

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// ProgressMode selects how the loop reports progress on stderr.
type ProgressMode int

const (
	// ProgressAuto draws a progress bar when stderr is a terminal and logs plain lines
	// otherwise (CI, files).
	ProgressAuto ProgressMode = iota
	// ProgressBar always draws the bar.
	ProgressBar
	// ProgressLines logs one plain line per log interval.
	ProgressLines
	// ProgressQuiet reports nothing.
	ProgressQuiet
)

// ProgressWriter is where progress goes (stderr by default; tests may redirect it).
var ProgressWriter io.Writer = os.Stderr

// Progress shows a run's progress on ProgressWriter: a bar on a terminal, plain lines otherwise.
type Progress struct {
	mode  ProgressMode
	name  string
	bar   *progressbar.ProgressBar
	w     io.Writer
	total int
}

// NewProgress starts progress reporting for steps start..total.
func NewProgress(mode ProgressMode, name string, start, total int) *Progress {
	p := &Progress{mode: mode, name: name, w: ProgressWriter, total: total}
	if mode == ProgressAuto {
		p.mode = ProgressLines
		if f, ok := p.w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			p.mode = ProgressBar
		}
	}
	if p.mode == ProgressBar {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(name),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(24),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionClearOnFinish(),
		)
		_ = p.bar.Set(start)
	}
	return p
}

// Update moves the bar to step with a short status text.
func (p *Progress) Update(step int, status string) {
	if p.bar == nil {
		return
	}
	p.bar.Describe(p.name + " " + status)
	_ = p.bar.Set(step)
}

// Log prints a metrics line (plain-lines mode only; the bar shows the same figures).
func (p *Progress) Log(m map[string]float64) {
	if p.mode == ProgressLines {
		fmt.Fprintf(p.w, "%s %d/%d %s\n", p.name, int(m["step"]), p.total, formatMetrics(m))
	}
}

// Finish completes the bar.
func (p *Progress) Finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
