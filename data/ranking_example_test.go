package data_test

import (
	"fmt"

	"github.com/tinychat-go/tinychat/data"
)

// A ranking whose best response calls the calculator; the empty reply (the model ends its
// turn at once) is ranked last.
func calcRanking() data.Ranking {
	return data.Ranking{
		Source: "example:0",
		Prompt: []data.Message{{Role: data.RoleUser, Content: "what is 347 + 28?"}},
		Turns: [][]data.Message{
			{
				{Role: data.RoleToolCall, Content: "calc 347 + 28"},
				{Role: data.RoleToolResult, Content: "375"},
				{Role: data.RoleAssistant, Content: "375."},
			},
			{{Role: data.RoleAssistant, Content: "365."}},
			{{Role: data.RoleAssistant, Content: ""}},
		},
	}
}

// Validate checks a ranking of assistant turns before training on it.
func ExampleRanking_Validate() {
	r := calcRanking()
	fmt.Println(r.Validate())
	r.Turns[1] = r.Turns[0] // a repeated response teaches nothing
	fmt.Println(r.Validate())
	r.Turns[1] = []data.Message{{Role: data.RoleToolCall, Content: "calc 347 + 28"}} // no result, no reply
	fmt.Println(r.Validate())
	// Output:
	// <nil>
	// responses 0 and 1 are identical
	// response 1: message 0 is a tool call not followed by its tool result
}

// Len counts the responses, whether they are texts or turns.
func ExampleRanking_Len() {
	texts := data.Ranking{Prompt: calcRanking().Prompt, Responses: []string{"375.", "365."}}
	fmt.Println(texts.Len(), calcRanking().Len())
	// Output:
	// 2 3
}

// Turn gives every response as the assistant turn's messages, so that prompt + turn renders
// it with the chat template; a text response is a turn of one assistant message.
func ExampleRanking_Turn() {
	r := calcRanking()
	for i := range r.Len() {
		fmt.Printf("%d: %q\n", i, r.Turn(i))
	}
	texts := data.Ranking{Prompt: r.Prompt, Responses: []string{"375.", "365."}}
	fmt.Printf("%q\n", texts.Turn(1))
	// Output:
	// 0: [{"tool_call" "calc 347 + 28"} {"tool_result" "375"} {"assistant" "375."}]
	// 1: [{"assistant" "365."}]
	// 2: [{"assistant" ""}]
	// [{"assistant" "365."}]
}

// ValidateTurn checks one assistant turn: an assistant message right after another would
// open a second turn.
func ExampleValidateTurn() {
	fmt.Println(data.ValidateTurn(calcRanking().Turns[0]))
	fmt.Println(data.ValidateTurn([]data.Message{
		{Role: data.RoleAssistant, Content: "let me think."},
		{Role: data.RoleAssistant, Content: "375."},
	}))
	// Output:
	// <nil>
	// message 1 is an assistant message right after another, which would open a second turn
}

// SplitTurn turns whole conversations that share a prompt (as a dataset or a tool-using
// demonstration writes them) into a ranking of their final turns.
func ExampleSplitTurn() {
	prompt := []data.Message{{Role: data.RoleUser, Content: "what is 347 + 28?"}}
	chats := [][]data.Message{
		append(prompt[:1:1], data.Message{Role: data.RoleToolCall, Content: "calc 347 + 28"},
			data.Message{Role: data.RoleToolResult, Content: "375"}, data.Message{Role: data.RoleAssistant, Content: "375."}),
		append(prompt[:1:1], data.Message{Role: data.RoleAssistant, Content: "365."}),
	}
	r := data.Ranking{Source: "chats"}
	for _, chat := range chats {
		p, turn := data.SplitTurn(chat)
		r.Prompt = p
		r.Turns = append(r.Turns, turn)
	}
	fmt.Printf("prompt %q\n", r.Prompt)
	fmt.Printf("turns %q\n", r.Turns)
	fmt.Println(r.Validate())
	// Output:
	// prompt [{"user" "what is 347 + 28?"}]
	// turns [[{"tool_call" "calc 347 + 28"} {"tool_result" "375"} {"assistant" "375."}] [{"assistant" "365."}]]
	// <nil>
}
