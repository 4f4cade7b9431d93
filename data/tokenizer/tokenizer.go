package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Reserved special-token IDs, identical in every tokenizer, so pretraining,
// SFT and RLHF share one vocabulary.
const (
	// Pad is the padding token "<|pad|>".
	Pad = 0
	// BOS is the beginning-of-sequence token "<|bos|>".
	BOS = 1
	// User starts a user turn: "<|user|>".
	User = 2
	// Assistant starts an assistant turn: "<|assistant|>".
	Assistant = 3
	// End ends a turn or a document: "<|end|>".
	End = 4
	// ToolCall starts a tool call the assistant writes inside its turn:
	// "<|tool_call|>", followed by the call's text ("calc 347 + 28") and
	// ToolCallEnd.
	ToolCall = 5
	// ToolCallEnd ends a tool call: "<|tool_call_end|>".
	ToolCallEnd = 6
	// ToolResult starts the result of a tool call, which the runtime (not
	// the model) appends after ToolCallEnd: "<|tool_result|>".
	ToolResult = 7
	// ToolResultEnd ends a tool result: "<|tool_result_end|>".
	ToolResultEnd = 8
	// Context starts a context turn (retrieved passages put before the
	// question), ended by End like a user turn: "<|context|>".
	Context = 9
	// NumSpecial is the number of special tokens of the tokenizers this
	// version makes; their ordinary tokens start at this ID.
	NumSpecial = 10
	// LegacyNumSpecial is the number of special tokens (Pad .. End) of the
	// tokenizers written before the tool tokens existed; their ordinary
	// tokens start at ID 5.
	LegacyNumSpecial = 5
)

// SpecialNames[i] is the literal text of special token i.
var SpecialNames = [NumSpecial]string{
	"<|pad|>", "<|bos|>", "<|user|>", "<|assistant|>", "<|end|>",
	"<|tool_call|>", "<|tool_call_end|>", "<|tool_result|>", "<|tool_result_end|>", "<|context|>",
}

// Kind names returned by Tokenizer.Kind and stored in the JSON form.
const (
	// KindChar is the Kind of a [Char] tokenizer.
	KindChar = "char"
	// KindBPE is the Kind of a [BPE] tokenizer.
	KindBPE = "bpe"
)

// Sentinel errors; returned errors wrap one of these (test with errors.Is).
var (
	// ErrUnknownChar is wrapped by Char.Encode when the text contains a
	// character outside the alphabet (or an invalid UTF-8 byte).
	ErrUnknownChar = errors.New("tokenizer: unknown character")
	// ErrInvalidID is wrapped by Decode when an ID is out of range.
	ErrInvalidID = errors.New("tokenizer: invalid token ID")
	// ErrInvalidConfig is wrapped by TrainBPE for a bad BPEConfig.
	ErrInvalidConfig = errors.New("tokenizer: invalid config")
	// ErrInvalidData is wrapped by Unmarshal and the constructors when the
	// serialised form or the given alphabet/merges are malformed.
	ErrInvalidData = errors.New("tokenizer: invalid tokenizer data")
	// ErrNoToolTokens is wrapped by RequireToolTokens for a tokenizer
	// written before the tool tokens existed.
	ErrNoToolTokens = errors.New("tokenizer: no tool-call tokens")
)

// Tokenizer converts between text and token IDs. Implementations are safe
// for concurrent use.
type Tokenizer interface {
	// Encode turns ordinary text into token IDs. It never produces a special
	// token, even when the text contains "<|end|>" literally (that is
	// encoded as ordinary characters/bytes).
	Encode(text string) ([]int32, error)
	// Decode turns IDs back into text; special tokens render as their
	// SpecialNames. Out-of-range IDs give an error.
	Decode(ids []int32) (string, error)
	// VocabSize is the number of token IDs, specials included.
	VocabSize() int
	// Kind is "char" or "bpe".
	Kind() string
	// MarshalJSON serialises the tokenizer (it is stored in checkpoint
	// metadata).
	MarshalJSON() ([]byte, error)
}

// jsonForm is the union of the serialised forms of all tokenizers.
type jsonForm struct {
	Kind     string   `json:"kind"`
	Alphabet *string  `json:"alphabet,omitempty"`
	Merges   *[][]int `json:"merges,omitempty"`
	Pre      string   `json:"pre,omitempty"` // BPE pre-splitting rule (PreSplitGPT2; empty for the default)
	// Specials is the number of special tokens: NumSpecial, or absent for
	// the LegacyNumSpecial of tokenizers written before the tool tokens.
	Specials *int `json:"specials,omitempty"`
}

// Unmarshal restores a tokenizer from MarshalJSON output. The data is
// validated (known kind, no unknown fields, no trailing data, alphabets
// without duplicate runes, merges that reference only earlier IDs, no
// duplicate merges); problems are reported as errors wrapping
// [ErrInvalidData]. Unmarshal never panics, whatever the input.
func Unmarshal(data []byte) (Tokenizer, error) {
	if !json.Valid(data) {
		// Run the decoder anyway to get a descriptive syntax error.
		var v any
		err := json.Unmarshal(data, &v)
		if err == nil {
			err = errors.New("not a single JSON value")
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidData, err)
	}
	var f jsonForm
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidData, err)
	}
	specials := LegacyNumSpecial
	if f.Specials != nil {
		specials = *f.Specials
		if specials != NumSpecial {
			return nil, fmt.Errorf("%w: unknown special-token set of %d tokens (this version knows %d, and %d when the field is absent)",
				ErrInvalidData, specials, NumSpecial, LegacyNumSpecial)
		}
	}
	switch f.Kind {
	case KindChar:
		if f.Merges != nil || f.Pre != "" {
			return nil, fmt.Errorf("%w: char tokenizer has a \"merges\" or \"pre\" field", ErrInvalidData)
		}
		if f.Alphabet == nil {
			return nil, fmt.Errorf("%w: char tokenizer lacks the \"alphabet\" field", ErrInvalidData)
		}
		return newChar([]rune(*f.Alphabet), specials)
	case KindBPE:
		if f.Alphabet != nil {
			return nil, fmt.Errorf("%w: bpe tokenizer has an \"alphabet\" field", ErrInvalidData)
		}
		if f.Merges == nil {
			return nil, fmt.Errorf("%w: bpe tokenizer lacks the \"merges\" field", ErrInvalidData)
		}
		merges := make([][2]int, len(*f.Merges))
		for i, m := range *f.Merges {
			if len(m) != 2 {
				return nil, fmt.Errorf("%w: merge %d has %d elements, want 2", ErrInvalidData, i, len(m))
			}
			merges[i] = [2]int{m[0], m[1]}
		}
		return newBPE(merges, specials, f.Pre)
	case "":
		return nil, fmt.Errorf("%w: missing \"kind\"", ErrInvalidData)
	default:
		return nil, fmt.Errorf("%w: unknown kind %q (want %q or %q)", ErrInvalidData, f.Kind, KindChar, KindBPE)
	}
}

// TokenString renders one token for display/debugging. Special tokens render
// as their SpecialNames (unquoted), ordinary tokens as a Go-quoted string of
// their text, so spaces, newlines and invalid UTF-8 bytes are visible (the
// token " the" renders with its quotes, byte 0xE2 as "\xe2"), and IDs the
// tokenizer does not know (any ID, for a nil tokenizer) as "<|invalid:ID|>".
func TokenString(t Tokenizer, id int32) string {
	if t == nil {
		return "<|invalid:" + strconv.Itoa(int(id)) + "|>"
	}
	if IsSpecial(t, id) {
		return SpecialNames[id]
	}
	s, err := t.Decode([]int32{id})
	if err != nil {
		return "<|invalid:" + strconv.Itoa(int(id)) + "|>"
	}
	return strconv.Quote(s)
}

// NumSpecialOf returns the number of special tokens of t, the first ID of
// its ordinary tokens: NumSpecial for the tokenizers this version makes,
// LegacyNumSpecial for those restored from JSON written before the tool
// tokens. A Tokenizer of another package that has no Specials() int method
// counts as NumSpecial; a nil one as 0.
func NumSpecialOf(t Tokenizer) int {
	if t == nil {
		return 0
	}
	if s, ok := t.(interface{ Specials() int }); ok {
		return s.Specials()
	}
	return NumSpecial
}

// IsSpecial reports whether id is one of t's special tokens.
func IsSpecial(t Tokenizer, id int32) bool { return id >= 0 && int(id) < NumSpecialOf(t) }

// HasToolTokens reports whether t has the tool-call and context tokens
// (ToolCall .. Context).
func HasToolTokens(t Tokenizer) bool { return NumSpecialOf(t) >= NumSpecial }

// RequireToolTokens returns nil if t has the tool-call and context tokens,
// and otherwise an error wrapping [ErrNoToolTokens] that says the tokenizer
// (and so its model) predates them.
func RequireToolTokens(t Tokenizer) error {
	if HasToolTokens(t) {
		return nil
	}
	return fmt.Errorf("%w: the tokenizer has the %d special tokens of a checkpoint written before tool calls existed (%v); tool calls, tool results and context turns need a model trained with a tokenizer of this version (%d specials)",
		ErrNoToolTokens, NumSpecialOf(t), SpecialNames[:min(NumSpecialOf(t), NumSpecial)], NumSpecial)
}

// invalidID builds the error Decode returns for an out-of-range ID found at
// index pos of its input.
func invalidID(id, pos, vocab int) error {
	return fmt.Errorf("%w: %d at position %d (vocabulary size %d)", ErrInvalidID, id, pos, vocab)
}
