package reward_test

import (
	"context"
	"fmt"
	"math"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/reward"
)

// exampleScorer is a Scorer over a fresh, untrained reward model (Example trains one).
func exampleScorer() *reward.Scorer {
	tok := testutil.Tokenizer()
	cfg := testutil.TinyConfig()
	cfg.VocabSize = tok.VocabSize()
	chat, err := model.New(cfg, 1)
	if err != nil {
		panic(err)
	}
	m, err := reward.NewModel(chat, 2)
	if err != nil {
		panic(err)
	}
	s, err := reward.NewScorer(m, tok, 4, cfg.BlockSize)
	if err != nil {
		panic(err)
	}
	return s
}

// Score an assistant turn that calls a tool: the prompt and the whole turn, the tool's result
// included, rendered with the chat template and scored at the turn's closing <|end|>. A turn
// of one assistant message is a plain reply.
func ExampleScorer_ScoreTurn() {
	scorer := exampleScorer()
	prompt := testutil.RepeatPrompt("kibo")
	_, err := scorer.ScoreTurn(prompt, []data.Message{
		{Role: data.RoleToolCall, Content: "look kibo"},
		{Role: data.RoleToolResult, Content: "kibo"},
		{Role: data.RoleAssistant, Content: "kibo"},
	})
	fmt.Println("tool turn:", err)
	asTurn, _ := scorer.ScoreTurn(prompt, []data.Message{{Role: data.RoleAssistant, Content: "kibo"}})
	asReply, _ := scorer.Score(prompt, "kibo")
	fmt.Println("a one-message turn scores as the reply:", asTurn == asReply)
	_, err = scorer.ScoreTurn(prompt, []data.Message{{Role: data.RoleToolCall, Content: "look kibo"}})
	fmt.Println(err)
	// Output:
	// tool turn: <nil>
	// a one-message turn scores as the reply: true
	// reward: reply 0: message 0 is a tool call not followed by its tool result
}

// Score several turns at once, e.g. every response of a ranking (data.Ranking.Turn gives a
// text response as a turn too).
func ExampleScorer_ScoreTurnBatch() {
	scorer := exampleScorer()
	r := data.Ranking{Prompt: testutil.RepeatPrompt("kibo"), Turns: [][]data.Message{
		{{Role: data.RoleToolCall, Content: "look kibo"}, {Role: data.RoleToolResult, Content: "kibo"}, {Role: data.RoleAssistant, Content: "kibo"}},
		{{Role: data.RoleAssistant, Content: "dasu"}},
		{{Role: data.RoleAssistant, Content: ""}}, // the empty reply
	}}
	prompts := make([][]data.Message, r.Len())
	turns := make([][]data.Message, r.Len())
	for i := range r.Len() {
		prompts[i], turns[i] = r.Prompt, r.Turn(i)
	}
	scores, err := scorer.ScoreTurnBatch(context.Background(), prompts, turns)
	if err != nil {
		panic(err)
	}
	one, _ := scorer.ScoreTurn(r.Prompt, r.Turn(2))
	fmt.Println(len(scores), "scores; the last as ScoreTurn gives it:", math.Abs(float64(scores[2]-one)) < 1e-5)
	// Output:
	// 3 scores; the last as ScoreTurn gives it: true
}
