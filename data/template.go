package data

import (
	"errors"
	"fmt"
	"math"

	"github.com/tinychat-go/tinychat/data/tokenizer"
)

// The chat template, in tokens:
//
//	<|bos|> [system content <|end|>] then, per turn,
//	<|user|> user content <|end|>   or   <|assistant|> assistant content <|end|>
//
// A system message has no role token of its own: it is the text between
// <|bos|> and the first <|end|>.

// RenderChat renders a whole conversation with the chat template. It returns
// the token IDs and a loss mask of the same length: 1 on the content tokens
// of every assistant turn and on their closing <|end|>, 0 elsewhere (<|bos|>,
// role tokens, system and user text with their <|end|>). The mask is what
// supervised fine-tuning trains on: the model learns to write the assistant's
// replies and to end them, never the user's turns.
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
	for i, msg := range msgs {
		var m float32
		switch msg.Role {
		case RoleSystem:
		case RoleUser:
			push(tokenizer.User, 0)
		case RoleAssistant:
			push(tokenizer.Assistant, 0)
			m = 1
		}
		content, err := tok.Encode(msg.Content)
		if err != nil {
			return nil, nil, fmt.Errorf("message %d (%s): encoding: %w", i, msg.Role, err)
		}
		for j, id := range content {
			if id < specials || id > math.MaxInt32 {
				return nil, nil, fmt.Errorf("message %d (%s): token %d has ID %d, want an ordinary token in [%d, %d]",
					i, msg.Role, j, id, specials, math.MaxInt32)
			}
			push(int32(id), m)
		}
		push(tokenizer.End, m)
	}
	return ids, mask, nil
}

// ValidateConversation checks that msgs is a conversation the chat template
// can render for training: it is not empty, every role is system, user or
// assistant, a system message appears only as the first message, and the
// last message is an assistant turn (the reply to learn). The error
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

// validateRoles checks that msgs is not empty, has only known roles, and has
// a system message, if any, only first.
func validateRoles(msgs []Message) error {
	if len(msgs) == 0 {
		return errors.New("empty conversation (no messages)")
	}
	for i, m := range msgs {
		switch m.Role {
		case RoleUser, RoleAssistant:
		case RoleSystem:
			if i != 0 {
				return fmt.Errorf("message %d is a system message; only the first message may be one", i)
			}
		default:
			return fmt.Errorf("message %d has unknown role %q (want %q, %q or %q)", i, m.Role, RoleSystem, RoleUser, RoleAssistant)
		}
	}
	return nil
}
