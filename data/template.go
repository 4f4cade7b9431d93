package data

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tinychat-go/tinychat/data/tokenizer"
)

// The chat template, in tokens:
//
//	<|bos|> [system content <|end|>] then, per turn,
//	<|user|> user content <|end|>   or   <|context|> passages <|end|>   or
//	<|assistant|> assistant content <|end|>
//
// A system message has no role token of its own: it is the text between
// <|bos|> and the first <|end|>.
//
// An assistant turn may call tools. The calls and their results are
// messages of their own (RoleToolCall, RoleToolResult) between the
// assistant's texts, and they all render inside one assistant turn:
//
//	<|assistant|> text <|tool_call|> calc 347 + 28 <|tool_call_end|>
//	<|tool_result|> 375 <|tool_result_end|> text <|end|>
//
// A tool call continues the assistant turn of the message before it (a
// RoleAssistant or RoleToolResult message) or, after any other message,
// opens one; an assistant message right after a tool result continues that
// turn, so its text follows <|tool_result_end|> directly. Either assistant
// text may be empty. Tool and context turns need a tokenizer with the tool
// tokens (tokenizer.RequireToolTokens); conversations without them render
// exactly as they did before the tool tokens existed, with old tokenizers
// too.

// RenderChat renders a whole conversation with the chat template. It returns
// the token IDs and a loss mask of the same length: 1 on what the model
// writes in assistant turns (their text, their tool calls with
// <|tool_call|> and <|tool_call_end|>, and the closing <|end|>), 0
// elsewhere (<|bos|>, role tokens, system, user and context text with their
// <|end|>, and tool results with <|tool_result|> and <|tool_result_end|>,
// which the runtime writes, not the model). The mask is what supervised
// fine-tuning trains on: the model learns to write the assistant's replies,
// its tool calls and to end them, never the user's turns nor tool output.
//
// msgs must satisfy [ValidateConversation]. Errors (an invalid conversation,
// a nil tokenizer, an encoding error, which names the message index) are
// returned without a Source; callers prefix it.
func RenderChat(tok tokenizer.Tokenizer, msgs []Message) (ids []int32, mask []float32, err error) {
	if err := ValidateConversation(msgs); err != nil {
		return nil, nil, err
	}
	return render(tok, msgs, true)
}

// RenderPrompt renders msgs with the chat template followed by <|assistant|>,
// ready for the model to generate the assistant's reply (which it ends with
// <|end|>; the chat package parses it). msgs must satisfy [ValidatePrompt]: in
// particular it must end with a user turn.
func RenderPrompt(tok tokenizer.Tokenizer, msgs []Message) ([]int32, error) {
	if err := ValidatePrompt(msgs); err != nil {
		return nil, err
	}
	ids, _, err := render(tok, msgs, false)
	if err != nil {
		return nil, err
	}
	return append(ids, tokenizer.Assistant), nil
}

// ContextMessage is a context turn holding passages, one per line.
func ContextMessage(passages ...string) Message {
	return Message{Role: RoleContext, Content: strings.Join(passages, "\n")}
}

// render renders already validated messages; the mask is built only if
// withMask is set.
func render(tok tokenizer.Tokenizer, msgs []Message, withMask bool) (ids []int32, mask []float32, err error) {
	if tok == nil {
		return nil, nil, errors.New("data: nil tokenizer")
	}
	push := func(id int32, m float32) {
		ids = append(ids, id)
		if withMask {
			mask = append(mask, m)
		}
	}
	specials := tokenizer.NumSpecialOf(tok)
	push(tokenizer.BOS, 0)
	inTurn := false // inside an assistant turn that continues past a tool call
	for i, msg := range msgs {
		var m float32
		// open and closeWith are pushed before and after the content; 0 means none.
		var open, closeWith int32 = 0, tokenizer.End
		var closeMask float32
		switch msg.Role {
		case RoleSystem:
		case RoleUser:
			open = tokenizer.User
		case RoleContext:
			open = tokenizer.Context
		case RoleAssistant:
			if !inTurn {
				push(tokenizer.Assistant, 0)
			}
			m, closeMask = 1, 1
			inTurn = i+1 < len(msgs) && msgs[i+1].Role == RoleToolCall
			if inTurn {
				closeWith = 0
			}
		case RoleToolCall:
			if !inTurn {
				push(tokenizer.Assistant, 0)
				inTurn = true
			}
			open, closeWith, m, closeMask = tokenizer.ToolCall, tokenizer.ToolCallEnd, 1, 1
		case RoleToolResult:
			open, closeWith = tokenizer.ToolResult, tokenizer.ToolResultEnd
		}
		if open >= tokenizer.ToolCall || closeWith >= tokenizer.ToolCall {
			if err := tokenizer.RequireToolTokens(tok); err != nil {
				return nil, nil, fmt.Errorf("message %d (%s): %w", i, msg.Role, err)
			}
		}
		if open != 0 {
			push(open, m)
		}
		content, err := tok.Encode(msg.Content)
		if err != nil {
			return nil, nil, fmt.Errorf("message %d (%s): encoding: %w", i, msg.Role, err)
		}
		for j, id := range content {
			if int(id) < specials {
				return nil, nil, fmt.Errorf("message %d (%s): token %d has ID %d, want an ordinary token (≥ %d)",
					i, msg.Role, j, id, specials)
			}
			push(id, m)
		}
		if closeWith != 0 {
			push(closeWith, closeMask)
		}
	}
	return ids, mask, nil
}

// ValidateConversation checks that msgs is a conversation the chat template
// can render for training: it is not empty, every role is one of the Role
// constants, a system message appears only as the first message, every tool
// call is followed by its tool result and every tool result by the
// assistant (its text or another call), and the last message is an
// assistant text (the reply to learn). The error
// describes the problem without naming the conversation; callers prefix its
// Source.
func ValidateConversation(msgs []Message) error {
	if err := validateRoles(msgs); err != nil {
		return err
	}
	if last := msgs[len(msgs)-1]; last.Role != RoleAssistant {
		return fmt.Errorf("conversation must end with an assistant turn, but its last message (%d) is %s", len(msgs)-1, last.Role)
	}
	return nil
}

// ValidatePrompt checks that msgs is a prompt the model can reply to: like
// [ValidateConversation], except that the last message must be a user turn.
func ValidatePrompt(msgs []Message) error {
	if err := validateRoles(msgs); err != nil {
		return err
	}
	if last := msgs[len(msgs)-1]; last.Role != RoleUser {
		return fmt.Errorf("prompt must end with a user turn, but its last message (%d) is %s", len(msgs)-1, last.Role)
	}
	return nil
}

// validateRoles checks that msgs is not empty, has only known roles, has a
// system message, if any, only first, has a tool result right after every
// tool call and only there, and has the assistant go on after every tool
// result (an assistant text or another tool call).
func validateRoles(msgs []Message) error {
	if len(msgs) == 0 {
		return errors.New("empty conversation (no messages)")
	}
	for i, m := range msgs {
		next := ""
		if i+1 < len(msgs) {
			next = msgs[i+1].Role
		}
		switch m.Role {
		case RoleUser, RoleAssistant, RoleContext:
		case RoleSystem:
			if i != 0 {
				return fmt.Errorf("message %d is a system message; only the first message may be one", i)
			}
		case RoleToolCall:
			if next != RoleToolResult {
				return fmt.Errorf("message %d is a tool call not followed by its tool result", i)
			}
		case RoleToolResult:
			if i == 0 || msgs[i-1].Role != RoleToolCall {
				return fmt.Errorf("message %d is a tool result that does not follow a tool call", i)
			}
			if next != RoleAssistant && next != RoleToolCall {
				return fmt.Errorf("message %d is a tool result not followed by the assistant (an assistant message or another tool call)", i)
			}
		default:
			return fmt.Errorf("message %d has unknown role %q (want %q, %q, %q, %q, %q or %q)", i, m.Role,
				RoleSystem, RoleUser, RoleAssistant, RoleToolCall, RoleToolResult, RoleContext)
		}
	}
	return nil
}
