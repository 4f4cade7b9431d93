package data

import (
	"errors"
	"fmt"
	"slices"
)

// Ranking is one prompt with replies in rank order, best first; a pairwise
// (chosen, rejected) row is a Ranking of two. The replies are either plain
// texts (Responses) or, when they call tools, assistant turns (Turns):
// exactly one of the two is set. [Ranking.Validate] checks a ranking;
// [Ranking.Len] and [Ranking.Turn] read its responses whichever field holds
// them.
type Ranking struct {
	// Source names the file and row, e.g. "prefs.jsonl:17".
	Source string
	// Prompt is the conversation so far; it satisfies [ValidatePrompt] (it
	// ends with a user turn).
	Prompt []Message
	// Responses are the assistant replies as texts, best first: at least
	// two, distinct. A reply may be empty (see [Ranking.Validate]). Nil
	// when Turns holds the responses.
	Responses []string
	// Turns are the responses as assistant turns, best first, when they
	// call tools: each the messages of the assistant's turn after the
	// prompt — texts, tool calls and tool results — ending with the
	// assistant's final reply ([ValidateTurn]); a plain reply is a turn of
	// one assistant message. At least two, distinct. Nil when Responses
	// holds the responses. (Omitted from JSON when nil, so a ranking of
	// texts encodes, and fingerprints, as before Turns existed.)
	Turns [][]Message `json:",omitempty"`
}

// Pairs returns all C(K,2) (better, worse) index pairs of the ranking's K
// responses (Responses or Turns), better first, in lexicographic order:
// (0,1), (0,2), ..., (0,K-1), (1,2), ..., (K-2,K-1). It returns nil for
// fewer than two responses.
func (r Ranking) Pairs() [][2]int {
	k := r.Len()
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
//     list of messages ending with the assistant's reply turn, plus a
//     "prompt" that is a string (one user turn) or a list of messages. When
//     chosen and rejected are lists, the reply is their last assistant turn
//     ([SplitTurn]: the final assistant message with the tool calls, results
//     and texts of its turn before it) and the messages before it continue
//     the prompt (TRL's conversational layout), unless they merely repeat it
//     (as in ultrafeedback_binarized, whose chosen holds the whole
//     dialogue); without a "prompt" they are the prompt ("implicit
//     prompt"), so chosen and rejected must then share them;
//   - K-wise: a "prompt" and "responses", a list of K ≥ 2 replies, best
//     first, each a string or a list of messages that is one assistant turn
//     ([ValidateTurn]). A row with a non-null "responses" field is read as
//     K-wise.
//
// A reply given as messages may call tools: its turn holds "tool_call" and
// "tool_result" messages ([RoleToolCall], [RoleToolResult]) before the
// assistant's final reply, e.g. [{"role": "tool_call", "content": "calc 2 +
// 3"}, {"role": "tool_result", "content": "5"}, {"role": "assistant",
// "content": "5."}]. A row in which some reply calls a tool is read into
// Ranking.Turns (its other replies as one-message turns); any other row
// into Ranking.Responses, as texts.
//
// Every ranking must pass [Ranking.Validate]: a valid prompt, at least two
// replies, and no two equal (a pair of equal replies teaches nothing and
// usually signals a broken export). The best reply must not be empty (an
// empty chosen reply usually signals a missing value written as ""); a
// worse reply may be: it is the reply of a model that ends its turn at
// once, which the ranking teaches is worse. Errors name the file and line
// (JSONL) or row (Parquet), as in ReadConversations, and the field:
// missing fields, values of the wrong type, a reply that is not one
// assistant turn, fewer than two responses, an empty best or a repeated
// reply, chosen and rejected with different prompts, an invalid prompt.
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
	var turns [][]Message // every reply as a turn, best first
	var err error
	if v, ok := row[responsesColumn]; ok && v != nil {
		if r.Prompt, err = promptField(row); err != nil {
			return r, err
		}
		list, ok := v.([]any)
		if !ok {
			return r, fmt.Errorf("%q is %s, want a list of replies (strings or lists of messages)", responsesColumn, kindOf(v))
		}
		for i, e := range list {
			turn, err := responseTurn(fmt.Sprintf("%s[%d]", responsesColumn, i), e)
			if err != nil {
				return r, err
			}
			turns = append(turns, turn)
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
		turns = [][]Message{chosen, rejected}
	}
	if slices.ContainsFunc(turns, hasToolCall) {
		r.Turns = turns
	} else {
		r.Responses = make([]string, len(turns))
		for i, turn := range turns {
			r.Responses[i] = turn[0].Content // a turn without tool calls is one assistant message
		}
	}
	if err := r.Validate(); err != nil {
		return r, err
	}
	if isEmptyReply(turns[0]) {
		return r, errors.New("response 0, the best, is empty (only a worse reply may be empty)")
	}
	return r, nil
}

// responseTurn reads the reply named name of a "responses" list: a string
// (a plain reply) or a list of messages that is one assistant turn.
func responseTurn(name string, v any) ([]Message, error) {
	if s, ok := asString(v); ok {
		return []Message{{Role: RoleAssistant, Content: s}}, nil
	}
	if _, ok := v.([]any); !ok {
		return nil, fmt.Errorf("%s is %s, want a string or a list of messages", name, kindOf(v))
	}
	turn, err := toMessages(name, v)
	if err != nil {
		return nil, err
	}
	if err := ValidateTurn(turn); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return turn, nil
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
// (nil without one), and returns the full prompt and the reply as a turn.
func replyField(row map[string]any, name string, prompt []Message) ([]Message, []Message, error) {
	v, ok := row[name]
	if !ok {
		return nil, nil, fmt.Errorf("missing %q field", name)
	}
	if s, ok := asString(v); ok {
		if prompt == nil {
			return nil, nil, fmt.Errorf("missing %q field (needed when %q is a string)", promptColumn, name)
		}
		return prompt, []Message{{Role: RoleAssistant, Content: s}}, nil
	}
	if _, ok := v.([]any); !ok {
		return nil, nil, fmt.Errorf("%q is %s, want a string or a list of messages", name, kindOf(v))
	}
	msgs, err := toMessages(name, v)
	if err != nil {
		return nil, nil, err
	}
	if len(msgs) == 0 {
		return nil, nil, fmt.Errorf("%q is an empty list, want messages ending with the assistant reply", name)
	}
	if last := msgs[len(msgs)-1]; last.Role != RoleAssistant {
		return nil, nil, fmt.Errorf("%q ends with a %q message, want the assistant reply", name, last.Role)
	}
	context, turn := SplitTurn(msgs)
	if err := ValidateTurn(turn); err != nil {
		return nil, nil, fmt.Errorf("%q: %w", name, err)
	}
	switch {
	case prompt == nil:
		if len(context) == 0 {
			return nil, nil, errors.New(`missing "prompt" field (chosen and rejected hold only the reply)`)
		}
	case len(context) == 0 || slices.Equal(context, prompt):
		context = prompt
	default:
		context = append(slices.Clip(prompt), context...)
	}
	return slices.Clone(context), turn, nil
}
