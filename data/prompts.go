package data

import "fmt"

// ReadPrompts reads prompts — conversations that end with a user turn, for the model to
// answer — from .jsonl and .parquet files and directories, as RL stages (PPO, GRPO, RLOO,
// best-of-n) need them. Files are found and read as [ReadConversations] reads them, and every
// line or row is one prompt in one of TRL's prompt-only layouts:
//   - "prompt": a string (one user turn) or a list of {"role", "content"} messages;
//   - "messages": a list of messages.
//
// Other fields are ignored, so a preference or SFT dataset's prompts can be read too when its
// rows carry a "prompt". The messages must pass [ValidatePrompt]: system only first, known
// roles, ending with a user turn. Errors name the file and line or row.
func ReadPrompts(paths ...string) ([]Conversation, error) {
	var out []Conversation
	err := readChatFiles("prompts", paths, func(src string, row map[string]any) error {
		var msgs []Message
		var err error
		switch {
		case row[promptColumn] != nil:
			msgs, err = turns(row, promptColumn, RoleUser)
		case row[messagesColumn] != nil:
			msgs, err = toMessages(messagesColumn, row[messagesColumn])
		default:
			return fmt.Errorf("missing field: want %q or %q (fields: %s)", promptColumn, messagesColumn, fieldNames(row))
		}
		if err != nil {
			return err
		}
		if err := ValidatePrompt(msgs); err != nil {
			return err
		}
		out = append(out, Conversation{Source: src, Messages: msgs})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
