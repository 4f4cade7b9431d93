package tools_test

import (
	"context"
	"fmt"

	"github.com/tinychat-go/tinychat/retrieval"
	"github.com/tinychat-go/tinychat/tools"
)

func ExampleCalculator_Eval() {
	for _, expr := range []string{"347 + 28", "3 x (28 - 4)", "10 / 4", "2 / 3", "1 / 0"} {
		out, err := tools.Calculator{}.Eval(expr)
		fmt.Printf("%s = %s %v\n", expr, out, err)
	}
	// Output:
	// 347 + 28 = 375 <nil>
	// 3 x (28 - 4) = 72 <nil>
	// 10 / 4 = 2.5 <nil>
	// 2 / 3 = 0.666667 <nil>
	// 1 / 0 =  division by zero (the divisor at byte 4 is 0)
}

func ExampleRegistry_Run() {
	reg, err := tools.NewRegistry(tools.Calculator{})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for _, call := range []string{"calc 6 x 7", "calc 6 x", "weather Oakton"} {
		name, result := reg.Run(ctx, call)
		fmt.Printf("%s -> %s\n", name, result)
	}
	// Output:
	// calc -> 42
	// calc -> error: syntax error: the expression ends where a number was expected
	// weather -> error: unknown tool "weather" (tools: calc)
}

func ExampleSearch() {
	ps := retrieval.Split([]retrieval.Document{{Name: "news", Text: "Anna moved to Ashdale.\n\nBen has 28 stamps."}}, 0)
	bm, err := retrieval.NewBM25(ps, 0, 0)
	if err != nil {
		panic(err)
	}
	out, err := tools.Search{Retriever: bm, K: 1}.Run(context.Background(), "where does anna live now")
	fmt.Println(out, err)
	// Output: Anna moved to Ashdale. <nil>
}

// A ReAct loop with a scripted model standing in for a language model.
func ExampleReAct() {
	ps := retrieval.Split([]retrieval.Document{{Text: "Anna has 347 stamps.\n\nBen has 28 stamps."}}, 0)
	bm, err := retrieval.NewBM25(ps, 0, 0)
	if err != nil {
		panic(err)
	}
	reg, err := tools.NewRegistry(tools.Calculator{}, tools.Search{Retriever: bm, K: 1})
	if err != nil {
		panic(err)
	}
	steps := []string{
		"Thought: find anna.\nAction: search[anna stamps]",
		"Thought: find ben.\nAction: search[ben stamps]",
		"Action: calc[347 + 28]",
		"Action: answer[375 stamps]",
	}
	n := 0
	model := tools.ModelFunc(func(_ context.Context, trace string) (string, error) {
		n++
		return steps[n-1], nil
	})
	tr, err := (&tools.ReAct{Model: model, Tools: reg, MaxSteps: 6}).Run(context.Background(), "how many stamps do anna and ben have?")
	if err != nil {
		panic(err)
	}
	fmt.Print(tr.Text)
	fmt.Println(tr.Answered, tr.Answer)
	// Output:
	// Question: how many stamps do anna and ben have?
	// Thought: find anna.
	// Action: search[anna stamps]
	// Observation: Anna has 347 stamps.
	// Thought: find ben.
	// Action: search[ben stamps]
	// Observation: Ben has 28 stamps.
	// Action: calc[347 + 28]
	// Observation: 375
	// Action: answer[375 stamps]
	// true 375 stamps
}
