package chat_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/model"
)

// Ask a chat model (an SFT or RLHF checkpoint) and stream its reply as it is generated.
func ExampleAssistant() {
	dir, _ := os.MkdirTemp("", "chat-example")
	defer os.RemoveAll(dir)
	words := testutil.Words(150, 1)
	ck := testutil.ExampleFineTuned(dir, words, 300) // or model.LoadStage(path, model.StageSFT, model.StageRLHF)

	asst, err := chat.NewAssistant(ck.Model, ck.Tokenizer, 1)
	if err != nil {
		panic(err)
	}
	var shown strings.Builder
	st := chat.NewStreamer(ck.Tokenizer, &shown)
	msgs := []data.Message{{Role: data.RoleUser, Content: "repeat " + words[7]}}
	r, err := asst.Reply(context.Background(), msgs, model.SampleConfig{
		MaxNewTokens: 12, // greedy (Temperature 0), stopping at <|end|>
		OnToken:      func(_ int, tok int32) bool { return st.Add(tok) },
	})
	if err != nil {
		panic(err)
	}
	if err := st.Finish(r.Text); err != nil {
		panic(err)
	}
	fmt.Println(r.Text == words[7], shown.String() == r.Text, r.Ended)
	// Output: true true true
}
