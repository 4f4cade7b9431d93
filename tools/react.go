package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// DefaultMaxSteps is the most steps a ReAct loop takes when its MaxSteps is zero.
const DefaultMaxSteps = 6

// AnswerAction is the action that ends a ReAct loop with its input as the answer.
const AnswerAction = "answer"

// Model writes the next step of a ReAct trace. Given the trace so far (see ReAct), it returns
// its continuation: a thought and an action. Whatever it writes after the action's line (an
// observation of its own, further steps) is ignored.
type Model interface {
	Next(ctx context.Context, trace string) (string, error)
}

// ModelFunc adapts a function to a Model.
type ModelFunc func(ctx context.Context, trace string) (string, error)

// Next calls f.
func (f ModelFunc) Next(ctx context.Context, trace string) (string, error) { return f(ctx, trace) }

// ReAct runs the ReAct loop (Yao et al., "ReAct: Synergizing Reasoning and Acting in Language
// Models"): the model writes a thought and an action, the action runs, its observation is
// appended, and the model goes on, until it answers or MaxSteps steps have run. The trace is
// plain text, one line per entry:
//
//	Question: how many stamps do anna and ben have?
//	Thought: i need anna's stamps.
//	Action: search[anna stamps]
//	Observation: anna has 347 stamps.
//	Thought: ...
//	Action: calc[347 + 28]
//	Observation: 375
//	Action: answer[375]
//
// An action is written NAME[INPUT] (or NAME INPUT); answer[...] ends the loop, any other name
// is run by Tools. A step without an action, an unknown tool or a failing one gets an
// observation starting with ErrorPrefix, so the model can recover; the loop itself only fails
// when the model does (or ctx is cancelled).
type ReAct struct {
	Model Model
	// Tools runs the actions; nil means none (every action but answer fails in-band).
	Tools *Registry
	// MaxSteps bounds the steps (model calls); 0 means DefaultMaxSteps.
	MaxSteps int
}

// Step is one thought, action and observation of a trace.
type Step struct {
	// Thought is the text of the Thought line ("" when the model wrote none).
	Thought string
	// Action and Input are the action's name and input ("" when the model wrote no action).
	Action, Input string
	// Observation is what the action returned ("" for the answer).
	Observation string
}

// Trace is a finished ReAct loop.
type Trace struct {
	Question string
	Steps    []Step
	// Answer is the input of the answer action; Answered reports whether the model answered
	// within MaxSteps.
	Answer   string
	Answered bool
	// Text is the whole trace as the model last saw it, with the final step.
	Text string
}

// Run answers question with the loop and returns the full trace (also the trace so far
// when an error ends it).
func (r *ReAct) Run(ctx context.Context, question string) (Trace, error) {
	if r.Model == nil {
		return Trace{}, errors.New("tools: react: nil model")
	}
	maxSteps := r.MaxSteps
	if maxSteps <= 0 {
		maxSteps = DefaultMaxSteps
	}
	tr := Trace{Question: question}
	var sb strings.Builder
	sb.WriteString("Question: " + oneLine(question) + "\n")
	for range maxSteps {
		if err := ctx.Err(); err != nil {
			tr.Text = sb.String()
			return tr, err
		}
		out, err := r.Model.Next(ctx, sb.String())
		if err != nil {
			tr.Text = sb.String()
			return tr, fmt.Errorf("tools: react: step %d: %w", len(tr.Steps)+1, err)
		}
		st, found := ParseStep(out)
		if st.Thought != "" {
			sb.WriteString("Thought: " + st.Thought + "\n")
		}
		if !found {
			st.Observation = ErrorPrefix + "no action (write Action: search[...], calc[...] or answer[...])"
		} else {
			sb.WriteString("Action: " + st.Action + "[" + st.Input + "]\n")
			if st.Action == AnswerAction {
				tr.Steps = append(tr.Steps, st)
				tr.Answer, tr.Answered = st.Input, true
				tr.Text = sb.String()
				return tr, nil
			}
			if r.Tools == nil {
				st.Observation = ErrorPrefix + "no tools are available"
			} else {
				st.Observation = r.Tools.Call(ctx, st.Action, st.Input)
			}
		}
		sb.WriteString("Observation: " + oneLine(st.Observation) + "\n")
		tr.Steps = append(tr.Steps, st)
	}
	tr.Text = sb.String()
	return tr, nil
}

// ParseStep reads a model's step: the text of its first "Thought:" line and its first
// "Action:" line, NAME[INPUT] or NAME INPUT (the name lower-cased). found reports whether
// there was an action with a name. Lines after the action are ignored.
func ParseStep(out string) (st Step, found bool) {
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := cutPrefixFold(line, "thought:"); ok && st.Thought == "" {
			st.Thought = strings.TrimSpace(rest)
			continue
		}
		rest, ok := cutPrefixFold(line, "action:")
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		if i := strings.IndexByte(rest, '['); i >= 0 {
			st.Action = strings.TrimSpace(rest[:i])
			in := rest[i+1:]
			if j := strings.LastIndexByte(in, ']'); j >= 0 {
				in = in[:j]
			}
			st.Input = strings.TrimSpace(in)
		} else {
			st.Action, st.Input = ParseCall(rest)
		}
		st.Action = strings.ToLower(st.Action)
		return st, st.Action != ""
	}
	return st, false
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

// oneLine joins the lines of s with spaces, so an observation stays one trace line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
