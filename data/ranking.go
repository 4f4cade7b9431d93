package data

import (
	"errors"
	"fmt"
	"slices"
)

// Len returns the number of responses of r: len(r.Turns) when r.Turns is
// set, len(r.Responses) otherwise.
func (r Ranking) Len() int {
	if r.Turns != nil {
		return len(r.Turns)
	}
	return len(r.Responses)
}

// Turn returns response i of r as the assistant turn's messages: r.Turns[i],
// or, for a plain reply, one assistant message with r.Responses[i]. The
// prompt followed by the turn is the conversation that renders the
// response with the chat template. The returned slice may share memory with
// r. It panics if i is out of range, like an index expression.
func (r Ranking) Turn(i int) []Message {
	if r.Turns != nil {
		return r.Turns[i]
	}
	return []Message{{Role: RoleAssistant, Content: r.Responses[i]}}
}

// Validate checks that r is a ranking the reward model and DPO can learn
// from: the prompt satisfies [ValidatePrompt]; exactly one of Responses and
// Turns is set; there are at least two responses; every turn satisfies
// [ValidateTurn]; and no two responses are equal.
//
// An empty reply (an assistant message with no text: the model writes the
// end token at once) is a reply like any other and may be ranked anywhere;
// ranked below the others it teaches that saying nothing is worse. Being
// distinct, a ranking holds at most one. ([ReadPreferences] is stricter
// with files: there the best reply must not be empty.)
//
// The error describes the problem without naming the ranking; callers
// prefix its Source.
func (r Ranking) Validate() error {
	if err := ValidatePrompt(r.Prompt); err != nil {
		return fmt.Errorf("prompt: %w", err)
	}
	if r.Responses != nil && r.Turns != nil {
		return errors.New("both Responses and Turns are set, want one of them")
	}
	if n := r.Len(); n < 2 {
		return fmt.Errorf("%d responses, want at least 2", n)
	}
	for i, turn := range r.Turns {
		if err := ValidateTurn(turn); err != nil {
			return fmt.Errorf("response %d: %w", i, err)
		}
	}
	for i := range r.Len() {
		for j := range i {
			if r.sameResponse(i, j) {
				return fmt.Errorf("responses %d and %d are identical", j, i)
			}
		}
	}
	return nil
}

// sameResponse reports whether responses i and j of r are equal.
func (r Ranking) sameResponse(i, j int) bool {
	if r.Turns != nil {
		return slices.Equal(r.Turns[i], r.Turns[j])
	}
	return r.Responses[i] == r.Responses[j]
}

// isEmptyReply reports whether turn is the empty reply: one assistant
// message with no text.
func isEmptyReply(turn []Message) bool {
	return len(turn) == 1 && turn[0].Role == RoleAssistant && turn[0].Content == ""
}

// ValidateTurn checks that turn is one assistant turn, as a response of a
// [Ranking]: it holds only assistant, tool-call and tool-result messages
// (RoleAssistant, RoleToolCall, RoleToolResult); every tool call is followed
// by its result and every result by the assistant (its text or another
// call), as [ValidateConversation] requires; an assistant message other than
// the first follows a tool result (an assistant message right after another
// would open a second turn); and the last message is the assistant's final
// reply, whose text may be empty. A plain reply is a turn of one assistant
// message. After a prompt (which ends with a user turn) such a turn renders
// as one <|assistant|> … <|end|> span of the chat template.
func ValidateTurn(turn []Message) error {
	if len(turn) == 0 {
		return errors.New("empty turn (no messages), want at least the assistant's reply")
	}
	for i, m := range turn {
		switch m.Role {
		case RoleAssistant, RoleToolCall, RoleToolResult:
		default:
			return fmt.Errorf("message %d has role %q; a turn holds only %q, %q and %q messages",
				i, m.Role, RoleAssistant, RoleToolCall, RoleToolResult)
		}
	}
	if err := ValidateConversation(turn); err != nil {
		return err
	}
	for i := 1; i < len(turn); i++ {
		if turn[i].Role == RoleAssistant && turn[i-1].Role == RoleAssistant {
			return fmt.Errorf("message %d is an assistant message right after another, which would open a second turn", i)
		}
	}
	return nil
}

// SplitTurn splits a conversation that ends with an assistant turn into the
// messages before that turn (the prompt) and the turn: the longest suffix
// that renders as one assistant turn ([ValidateTurn]), which starts at the
// assistant text or tool call that opens it. For example, a conversation
// ending with a user message, a tool call, its result and the assistant's
// reply splits after the user message. If conv does not end with an
// assistant message, the turn is nil and the prompt is conv. Both results
// share conv's memory; the prompt's capacity ends where the turn begins, so
// appending to it does not overwrite the turn.
func SplitTurn(conv []Message) (prompt, turn []Message) {
	n := len(conv)
	if n == 0 || conv[n-1].Role != RoleAssistant {
		return conv, nil
	}
	start := n - 1
	for start > 0 && continuesTurn(conv[start-1].Role, conv[start].Role) {
		start--
	}
	return slices.Clip(conv[:start]), conv[start:]
}

// continuesTurn reports whether a message with role cur continues the
// assistant turn of the message before it, with role prev, as the chat
// template renders them.
func continuesTurn(prev, cur string) bool {
	switch cur {
	case RoleToolResult:
		return prev == RoleToolCall
	case RoleToolCall:
		return prev == RoleAssistant || prev == RoleToolResult
	case RoleAssistant:
		return prev == RoleToolResult
	}
	return false
}

// hasToolCall reports whether turn calls a tool.
func hasToolCall(turn []Message) bool {
	return slices.ContainsFunc(turn, func(m Message) bool { return m.Role == RoleToolCall })
}
