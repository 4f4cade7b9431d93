package tools_test

import (
	"context"
	"fmt"

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
