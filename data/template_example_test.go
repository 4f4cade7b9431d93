package data_test

import (
	"fmt"
	"strings"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
)

// ExampleRenderChat renders a conversation in which the assistant calls the calculator, and
// marks the tokens the model is trained on with '^'.
func ExampleRenderChat() {
	tok := tokenizer.NewChar("0123456789+ abcdefghijklmnopqrstuvwxyz?.")
	ids, mask, err := data.RenderChat(tok, []data.Message{
		data.ContextMessage("ann has 12 cats."),
		{Role: data.RoleUser, Content: "cats times 3?"},
		{Role: data.RoleToolCall, Content: "calc 12x3"},
		{Role: data.RoleToolResult, Content: "36"},
		{Role: data.RoleAssistant, Content: "36."},
	})
	if err != nil {
		panic(err)
	}
	var b strings.Builder
	for i, id := range ids {
		s := tokenizer.TokenString(tok, id)
		if !tokenizer.IsSpecial(tok, id) {
			s = strings.Trim(s, `"`)
		}
		if mask[i] == 1 {
			s = "^" + s
		}
		b.WriteString(s)
	}
	fmt.Println(b.String())
	// Output:
	// <|bos|><|context|>ann has 12 cats.<|end|><|user|>cats times 3?<|end|><|assistant|>^<|tool_call|>^c^a^l^c^ ^1^2^x^3^<|tool_call_end|><|tool_result|>36<|tool_result_end|>^3^6^.^<|end|>
}
