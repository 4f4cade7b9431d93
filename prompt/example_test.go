package prompt_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/tinychat-go/tinychat/prompt"
)

var shots = []prompt.Example{
	{Question: "where does Anna live?", Answer: "Anna lives in Oakton."},
	{
		Question:   "do Anna and Ben live in the same town?",
		Answer:     "no, they do not.",
		Reasoning:  []string{"Anna lives in Oakton.", "Ben lives in Ashdale."},
		Conclusion: "so no, they do not.",
	},
}

func ExampleText() {
	fmt.Println(prompt.Text(shots, "do Cara and Dan live in the same town?", prompt.Options{Reasoning: true}))
	// Output:
	// question: where does Anna live? answer: Anna lives in Oakton.
	// question: do Anna and Ben live in the same town? answer: Anna lives in Oakton. Ben lives in Ashdale. so no, they do not.
	// question: do Cara and Dan live in the same town? answer:
}

func ExampleChat() {
	for _, m := range prompt.Chat(shots, "do Cara and Dan live in the same town?", prompt.Options{Trigger: true}) {
		fmt.Printf("%s: %s\n", m.Role, m.Content)
	}
	// Output:
	// user: where does Anna live?
	// assistant: Anna lives in Oakton.
	// user: do Anna and Ben live in the same town?
	// assistant: no, they do not.
	// user: do Cara and Dan live in the same town? let's think step by step.
}

func ExampleTrigger() {
	fmt.Println(prompt.Trigger("who has more stamps, Anna or Ben?"))
	// Output:
	// who has more stamps, Anna or Ben? let's think step by step.
}

func ExampleParse() {
	p := prompt.Parse("Anna has 347 stamps. Ben has 215 stamps. so Anna has more.")
	fmt.Printf("%q\n%q\n", p.Steps, p.Answer)
	fmt.Printf("%q\n", prompt.Parse("Anna has more stamps.").Answer)
	// Output:
	// ["Anna has 347 stamps." "Ben has 215 stamps."]
	// "so Anna has more."
	// "Anna has more stamps."
}

func ExampleFromReply() {
	e := prompt.FromReply("what colour does the singer from Oakton like?",
		"the singer from Oakton is Anna. Anna likes blue. so blue.")
	fmt.Printf("%q %q\n", e.Reasoning, e.Conclusion)
	// Output:
	// ["the singer from Oakton is Anna." "Anna likes blue."] "so blue."
}

func ExampleCutText() {
	answer, stopped := prompt.CutText(" Cara lives in Riverby.\nquestion: where does", prompt.DefaultTextFormat)
	fmt.Printf("%q %v\n", answer, stopped)
	answer, stopped = prompt.CutText(" Cara lives in Riverby. Cara lives in", prompt.DefaultTextFormat)
	fmt.Printf("%q %v\n", answer, stopped)
	// Output:
	// "Cara lives in Riverby." true
	// "Cara lives in Riverby. Cara lives in" false
}

func ExampleRandom() {
	pool := []prompt.Example{
		{Question: "where does Anna live?"}, {Question: "where does Ben live?"},
		{Question: "where does Cara live?"}, {Question: "where does Dan live?"},
	}
	for _, e := range prompt.Random(pool, "where does Ben live?", 2, 1) {
		fmt.Println(e.Question)
	}
	// Output:
	// where does Anna live?
	// where does Dan live?
}

func ExampleNearest() {
	pool := []prompt.Example{
		{Question: "what colour does Ben like?"},
		{Question: "do Cara and Dan live in the same town?"},
		{Question: "how many stamps does Eva have?"},
		{Question: "what colour does Finn like best?"},
	}
	near, err := prompt.Nearest(context.Background(), pool, "what colour does Gina like?", 2, prompt.HashEmbedder{})
	if err != nil {
		panic(err)
	}
	for _, e := range near {
		fmt.Println(e.Question)
	}
	// Output:
	// what colour does Ben like?
	// what colour does Finn like best?
}

func ExampleHashEmbedder() {
	vs, _ := prompt.HashEmbedder{Dim: 8}.Embed(context.Background(), []string{"where does Anna live?"})
	fmt.Println(vs[0])
	// Output:
	// [2 0 0 1 0 0 0 1]
}

func ExampleReadExamples() {
	file := `{"question": "where does Anna live?", "answer": "Anna lives in Oakton."}
{"question": "where does Ben live?", "answer": "Ben lives in Ashdale."}`
	shots, err := prompt.ReadExamples(strings.NewReader(file))
	if err != nil {
		panic(err)
	}
	fmt.Println(prompt.Text(shots, "where does Cara live?", prompt.Options{}))
	// Output:
	// question: where does Anna live? answer: Anna lives in Oakton.
	// question: where does Ben live? answer: Ben lives in Ashdale.
	// question: where does Cara live? answer:
}
