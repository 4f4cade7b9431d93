package prompt

import (
	"strings"

	"github.com/tinychat-go/tinychat/data"
)

// StepTrigger is the zero-shot chain-of-thought trigger, appended to a
// question after a space. It is the tiny world's (data/tinyworld's
// StepTrigger).
const StepTrigger = "let's think step by step."

// Example is one solved example of a few-shot prompt.
type Example struct {
	// Question is the question asked ("where does Anna live?").
	Question string `json:"question"`
	// Answer is the direct reply ("Anna lives in Oakton.").
	Answer string `json:"answer"`
	// Reasoning holds the sentences of a step-by-step reply before its
	// conclusion ("Anna lives in Oakton.", "Ben lives in Ashdale."); empty
	// for an example without reasoning.
	Reasoning []string `json:"reasoning,omitempty"`
	// Conclusion ends a step-by-step reply ("so no, they do not."); ""
	// means Answer.
	Conclusion string `json:"conclusion,omitempty"`
}

// Reply returns the example's reply: its Answer, or with reasoning set
// (and the example has some) the reasoning then the conclusion, joined by
// spaces.
func (e Example) Reply(reasoning bool) string {
	if !reasoning || len(e.Reasoning) == 0 {
		return e.Answer
	}
	c := e.Conclusion
	if c == "" {
		c = e.Answer
	}
	return strings.Join(append(append([]string(nil), e.Reasoning...), c), " ")
}

// FromReply returns the example of a question and a full reply, split by
// [Parse]: a reply with a conclusion ("... so no, they do not.") gives the
// reasoning's sentences and the conclusion, which is also the Answer.
func FromReply(question, reply string) Example {
	p := Parse(reply)
	e := Example{Question: question, Answer: p.Answer, Reasoning: p.Steps}
	if len(p.Steps) > 0 {
		e.Conclusion = p.Answer
	}
	return e
}

// TextFormat is the plain text form of a base model's few-shot prompt.
// One example is
//
//	Question + question + Answer + " " + reply + Sep
//
// and the prompt ends with Question + question + Answer, for the model to
// continue.
type TextFormat struct {
	// Question opens a question; default "question: ".
	Question string
	// Answer follows the question; default " answer:" (the reply comes
	// after a space, which byte-level BPE keeps with the next word).
	Answer string
	// Sep ends an example; default "\n" (the tiny world's corpus has one
	// paragraph per line).
	Sep string
}

// DefaultTextFormat is the tiny world corpus's form: "question: Q answer:
// A" lines.
var DefaultTextFormat = TextFormat{Question: "question: ", Answer: " answer:", Sep: "\n"}

// withDefaults fills the empty fields of f from [DefaultTextFormat].
func (f TextFormat) withDefaults() TextFormat {
	if f.Question == "" {
		f.Question = DefaultTextFormat.Question
	}
	if f.Answer == "" {
		f.Answer = DefaultTextFormat.Answer
	}
	if f.Sep == "" {
		f.Sep = DefaultTextFormat.Sep
	}
	return f
}

// Options shape a prompt. The zero value asks for direct answers in
// [DefaultTextFormat].
type Options struct {
	// Reasoning shows the examples' reasoning before their conclusion
	// (chain of thought); examples without reasoning show their Answer.
	Reasoning bool
	// Trigger appends [StepTrigger] to the question asked (not to the
	// examples' questions).
	Trigger bool
	// Format is the text form of [Text]; empty fields take the defaults
	// of [DefaultTextFormat].
	Format TextFormat
}

// query returns the question to ask, with the trigger if o says so.
func (o Options) query(q string) string {
	if o.Trigger {
		return Trigger(q)
	}
	return q
}

// Trigger returns question followed by [StepTrigger].
func Trigger(question string) string { return question + " " + StepTrigger }

// Text returns a k-shot prompt for a base model: every example in the
// text form, then the question, ending where the model is to write the
// answer. With no examples it is the zero-shot prompt.
func Text(shots []Example, question string, o Options) string {
	f := o.Format.withDefaults()
	var b strings.Builder
	for _, e := range shots {
		b.WriteString(f.Question + e.Question + f.Answer + " " + e.Reply(o.Reasoning) + f.Sep)
	}
	b.WriteString(f.Question + o.query(question) + f.Answer)
	return b.String()
}

// Chat returns a k-shot prompt for a chat model: each example as a user
// turn and an assistant turn, then the question as the last user turn,
// ready for data.RenderPrompt.
func Chat(shots []Example, question string, o Options) []data.Message {
	msgs := make([]data.Message, 0, 2*len(shots)+1)
	for _, e := range shots {
		msgs = append(msgs,
			data.Message{Role: data.RoleUser, Content: e.Question},
			data.Message{Role: data.RoleAssistant, Content: e.Reply(o.Reasoning)})
	}
	return append(msgs, data.Message{Role: data.RoleUser, Content: o.query(question)})
}
