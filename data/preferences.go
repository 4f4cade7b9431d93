package data

import (
	"errors"
	"fmt"
	"slices"
)

// Ranking is one prompt with replies in rank order, best first; a pairwise
// (chosen, rejected) row is a Ranking of two.
type Ranking struct {
	// Source names the file and row, e.g. "prefs.jsonl:17".
	Source string
	// Prompt is the conversation so far; it satisfies [ValidatePrompt] (it
	// ends with a user turn).
	Prompt []Message
	// Responses are the assistant replies, best first: at least two,
	// non-empty and distinct.
	Responses []string
}

// Pairs returns all C(K,2) (better, worse) index pairs of the ranking's K
// responses, better first, in lexicographic order: (0,1), (0,2), ...,
// (0,K-1), (1,2), ..., (K-2,K-1). It returns nil for fewer than two
// responses.
func (r Ranking) Pairs() [][2]int {
	k := len(r.Responses)
	if k < 2 {
		return nil
	}
	pairs := make([][2]int, 0, k*(k-1)/2)
	for i := range k {
		for j := i + 1; j < k; j++ {
			pairs = append(pairs, [2]int{i, j})
		}
	}
	return pairs
}

// ReadPreferences reads preference data for reward modelling and preference
// optimisation from .jsonl and .parquet files and directories (listed as in
// [ReadConversations]). Every JSONL line or Parquet row is one Ranking, in
// one of the TRL layouts:
//   - pairwise: "chosen" and "rejected" replies, each either a string or a
//     list of messages whose last message is the assistant reply, plus a
//     "prompt" that is a string (one user turn) or a list of messages. When
//     chosen and rejected are lists, the messages before their replies
//     continue the prompt (TRL's conversational layout), unless they merely
//     repeat it (as in ultrafeedback_binarized, whose chosen holds the whole
//     dialogue); without a "prompt" they are the prompt ("implicit prompt"),
//     so chosen and rejected must then share them;
//   - K-wise: a "prompt" and "responses", a list of K ≥ 2 reply strings,
//     best first. A row with a non-null "responses" field is read as K-wise.
//
// Every reply must be non-empty, and the replies of a row must differ (a pair
// of equal replies teaches nothing and usually signals a broken export). The
// prompt must satisfy [ValidatePrompt]. Errors name the file and line
// (JSONL) or row (Parquet), as in ReadConversations: missing fields, values
// of the wrong type, fewer than two responses, an empty or repeated reply,
// chosen and rejected with different prompts, an invalid prompt.
func ReadPreferences(paths ...string) ([]Ranking, error) {
	var out []Ranking
	err := readChatFiles("preferences", paths, func(src string, row map[string]any) error {
		r, err := parseRanking(row)
		if err != nil {
			return err
		}
		r.Source = src
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// parseRanking extracts the prompt and ranked replies of one row.
func parseRanking(row map[string]any) (Ranking, error) {
	var r Ranking
	var err error
	if v, ok := row[responsesColumn]; ok && v != nil {
		if r.Prompt, err = promptField(row); err != nil {
			return r, err
		}
		list, ok := v.([]any)
		if !ok {
			return r, fmt.Errorf("%q is %s, want a list of strings", responsesColumn, kindOf(v))
		}
		for i, e := range list {
			s, ok := asString(e)
			if !ok {
				return r, fmt.Errorf("%s[%d] is %s, want a string", responsesColumn, i, kindOf(e))
			}
			r.Responses = append(r.Responses, s)
		}
	} else {
		_, hasChosen := row[chosenColumn]
		_, hasRejected := row[rejectedColumn]
		if !hasChosen && !hasRejected {
			return r, fmt.Errorf("missing field: want %q and %q, or %q (fields: %s)",
				chosenColumn, rejectedColumn, responsesColumn, fieldNames(row))
		}
		var prompt []Message
		if v, ok := row[promptColumn]; ok && v != nil {
			if prompt, err = promptField(row); err != nil {
				return r, err
			}
		}
		cPrompt, chosen, err := replyField(row, chosenColumn, prompt)
		if err != nil {
			return r, err
		}
		rPrompt, rejected, err := replyField(row, rejectedColumn, prompt)
		if err != nil {
			return r, err
		}
		if !slices.Equal(cPrompt, rPrompt) {
			return r, fmt.Errorf("%q and %q have different prompts", chosenColumn, rejectedColumn)
		}
		r.Prompt = cPrompt
		r.Responses = []string{chosen, rejected}
	}
	if err := ValidatePrompt(r.Prompt); err != nil {
		return r, fmt.Errorf("prompt: %w", err)
	}
	if len(r.Responses) < 2 {
		return r, fmt.Errorf("%d responses, want at least 2", len(r.Responses))
	}
	for i, s := range r.Responses {
		if s == "" {
			return r, fmt.Errorf("response %d is empty", i)
		}
		if j := slices.Index(r.Responses[:i], s); j >= 0 {
			return r, fmt.Errorf("responses %d and %d are identical", j, i)
		}
	}
	return r, nil
}

// promptField reads the "prompt" field: a string (one user turn) or a list
// of messages.
func promptField(row map[string]any) ([]Message, error) {
	v, ok := row[promptColumn]
	if !ok {
		return nil, fmt.Errorf("missing %q field", promptColumn)
	}
	if s, ok := asString(v); ok {
		return []Message{{Role: RoleUser, Content: s}}, nil
	}
	if _, ok := v.([]any); ok {
		return toMessages(promptColumn, v)
	}
	return nil, fmt.Errorf("%q is %s, want a string or a list of messages", promptColumn, kindOf(v))
}

// replyField reads a "chosen" or "rejected" field, given the row's prompt
// (nil without one), and returns the full prompt and the reply.
func replyField(row map[string]any, name string, prompt []Message) ([]Message, string, error) {
	v, ok := row[name]
	if !ok {
		return nil, "", fmt.Errorf("missing %q field", name)
	}
	if s, ok := asString(v); ok {
		if prompt == nil {
			return nil, "", fmt.Errorf("missing %q field (needed when %q is a string)", promptColumn, name)
		}
		return prompt, s, nil
	}
	if _, ok := v.([]any); !ok {
		return nil, "", fmt.Errorf("%q is %s, want a string or a list of messages", name, kindOf(v))
	}
	msgs, err := toMessages(name, v)
	if err != nil {
		return nil, "", err
	}
	if len(msgs) == 0 {
		return nil, "", fmt.Errorf("%q is an empty list, want messages ending with the assistant reply", name)
	}
	last := msgs[len(msgs)-1]
	if last.Role != RoleAssistant {
		return nil, "", fmt.Errorf("%q ends with a %q message, want the assistant reply", name, last.Role)
	}
	context := msgs[:len(msgs)-1]
	switch {
	case prompt == nil:
		if len(context) == 0 {
			return nil, "", errors.New(`missing "prompt" field (chosen and rejected hold only the reply)`)
		}
	case len(context) == 0 || slices.Equal(context, prompt):
		context = prompt
	default:
		context = append(slices.Clip(prompt), context...)
	}
	return slices.Clone(context), last.Content, nil
}
