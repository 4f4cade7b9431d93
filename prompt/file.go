package prompt

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrExamples reports a malformed examples file.
var ErrExamples = errors.New("prompt: bad examples")

// maxExampleLine is the longest line ReadExamples accepts.
const maxExampleLine = 1 << 20

// ReadExamples reads few-shot examples, one JSON object per line
// (JSONL): {"question": ..., "answer": ...} with optional "reasoning" (a
// list of sentences) and "conclusion". Blank lines are skipped; unknown
// fields, an empty question or answer, and a line over 1 MiB are errors
// that name the line (and wrap [ErrExamples]).
func ReadExamples(r io.Reader) ([]Example, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxExampleLine)
	var out []Example
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		var e Example
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrExamples, n, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("%w: line %d: more than one JSON value", ErrExamples, n)
		}
		if e.Question == "" || e.Answer == "" {
			return nil, fmt.Errorf("%w: line %d: question and answer are required", ErrExamples, n)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrExamples, err)
	}
	return out, nil
}
