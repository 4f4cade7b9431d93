package prompt

import (
	"regexp"
	"strings"
)

// Parsed is a reply split into its reasoning and its final answer.
type Parsed struct {
	// Reasoning is the text before the conclusion ("Anna lives in Oakton.
	// Ben lives in Ashdale."); "" if the reply has no conclusion.
	Reasoning string
	// Steps are the sentences of Reasoning.
	Steps []string
	// Answer is the conclusion ("so no, they do not."), or the whole
	// reply, trimmed, if it has none.
	Answer string
}

// conclusionRE finds where a conclusion opens: "so" at the start of the
// reply or of a sentence, or after a comma.
var conclusionRE = regexp.MustCompile(`(?i)(^|[.!?,;:]\s*)so\b`)

// Parse splits a reply at its conclusion: the part from the last "so"
// that opens the reply or a sentence, or follows a comma ("Anna lives in
// Oakton. Ben lives in Ashdale. so no, they do not." → reasoning "Anna
// lives in Oakton. Ben lives in Ashdale.", answer "so no, they do not.").
// A reply without one is all answer. The tiny world's judge reads a reply
// the same way.
func Parse(reply string) Parsed {
	reply = strings.TrimSpace(reply)
	locs := conclusionRE.FindAllStringSubmatchIndex(reply, -1)
	if len(locs) == 0 {
		return Parsed{Answer: reply}
	}
	at := locs[len(locs)-1][3]
	r := strings.TrimSpace(strings.TrimRight(strings.TrimSpace(reply[:at]), ",;:"))
	return Parsed{Reasoning: r, Steps: sentences(r), Answer: strings.TrimSpace(reply[at:])}
}

// sentences splits text after . ! and ?, keeping the marks.
func sentences(text string) []string {
	var out []string
	start := 0
	for i, r := range text {
		if r == '.' || r == '!' || r == '?' {
			if s := strings.TrimSpace(text[start : i+1]); s != "" && s != "." {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(text[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

// CutText returns a base model's continuation of a [Text] prompt up to
// where the examples' form says the answer ends: the separator (a newline
// by default) or the start of another question. stopped reports whether
// it ended so; a continuation that runs on without is not in the
// examples' form. The answer is trimmed of spaces.
func CutText(continuation string, f TextFormat) (answer string, stopped bool) {
	f = f.withDefaults()
	end := len(continuation)
	for _, mark := range []string{f.Sep, f.Question} {
		if i := strings.Index(continuation, mark); i >= 0 && i < end {
			end, stopped = i, true
		}
	}
	return strings.TrimSpace(continuation[:end]), stopped
}
