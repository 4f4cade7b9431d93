package chat_test

import (
	"context"
	"fmt"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/tools"
)

// Reply with tools: the calls the model writes are run and their results fed back before it
// goes on. (An untrained model stands in for a checkpoint here, so the reply itself is noise.)
func ExampleAssistant_ReplyWithTools() {
	tok := tokenizer.NewChar("abcdefghijklmnopqrstuvwxyz0123456789 +x.?")
	m, err := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: 64, Layers: 1, Heads: 2, Width: 16}, 1)
	if err != nil {
		panic(err)
	}
	asst, err := chat.NewAssistant(m, tok, 1) // or a checkpoint's Model and Tokenizer
	if err != nil {
		panic(err)
	}
	reg, err := tools.NewRegistry(tools.Calculator{})
	if err != nil {
		panic(err)
	}
	msgs := []data.Message{{Role: data.RoleUser, Content: "what do 3 tickets at 28 coins cost?"}}
	var shown []string // a REPL would print each call as it happens
	r, err := asst.ReplyWithTools(context.Background(), msgs, model.SampleConfig{MaxNewTokens: 40}, chat.ToolConfig{
		Tools:  reg,
		OnCall: func(c chat.ToolCall) { shown = append(shown, c.Text+" -> "+c.Result) },
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(shown) == len(r.Calls), r.Messages[len(r.Messages)-1].Role)
	// Output: true assistant
}
