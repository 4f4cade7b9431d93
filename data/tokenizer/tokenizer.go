// Package tokenizer turns text into token IDs and back for tinychat models.
//
// Two tokenizers are provided:
//
//   - [Char], a character-level tokenizer (one ID per distinct rune of a
//     corpus, as in nanoGPT's shakespeare-char), and
//   - [BPE], a GPT-2 style byte-level byte-pair-encoding tokenizer with its
//     own trainer ([TrainBPE]).
//
// Every tokenizer reserves the same five special-token IDs (see [Pad] ..
// [End]) so that pretraining, SFT and RLHF share one vocabulary layout.
// Special tokens are never produced by Encode: callers insert them as IDs.
//
// Tokenizers serialise to JSON with MarshalJSON (stored in checkpoint
// metadata) and are restored with [Unmarshal].
//
// BPE tokenizers also write and read Hugging Face's tokenizer.json
// ([BPE.MarshalHF], [ReadHF]) and GPT-2's vocab.json + merges.txt
// ([ReadGPT2Files]), with token strings in GPT-2's byte-to-unicode form
// ([ByteLevelString], [TokenStrings]); an imported GPT-2 tokenizer uses
// GPT-2's own pre-splitting ([PreSplitGPT2]) so that it encodes exactly as
// GPT-2 does.
//
// # BPE pre-splitting
//
// Before BPE, text is cut into chunks and merges never cross chunk
// boundaries, so tokens never span two words, a word and a number, etc. The
// splitter is a hand-written equivalent of GPT-2's pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// (Go's regexp has no lookahead). At each position the first rule that
// applies wins:
//
//  1. a contraction: an ASCII apostrophe followed by s, t, re, ve, m, ll or
//     d, matched case-insensitively as in GPT-4 ("'S" and "'LL" too);
//  2. an optional single leading ' ' plus a run of letters (\p{L});
//     combining marks (\p{M}) continue a letter run, so words in scripts
//     with diacritics/vowel signs stay whole (GPT-2 would split them off);
//  3. an optional single leading ' ' plus one to three numbers (\p{N}):
//     digit runs are capped at 3 like GPT-4, so "12345" is "123" "45";
//  4. an optional single leading ' ' plus a run of other symbols (neither
//     whitespace, letter nor number; invalid UTF-8 bytes count as symbols,
//     one byte each, so arbitrary bytes are handled);
//  5. a run of whitespace (unicode.IsSpace). If it is followed by a
//     non-space and ends with ' ', that last ' ' is left to start the next
//     chunk (it attaches to the following word, as in GPT-2). Unlike GPT-2,
//     a run ending in another whitespace character (such as "\n\n" before a
//     word) stays whole, since only ' ' can attach to a word.
//
// Chunks are never empty and concatenate back to the input.
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
	// NumSpecial is the number of reserved special-token IDs; ordinary
	// tokens start at this ID.
	NumSpecial = 5
)

// SpecialNames[i] is the literal text of special token i.
var SpecialNames = [NumSpecial]string{"<|pad|>", "<|bos|>", "<|user|>", "<|assistant|>", "<|end|>"}

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
)

// Tokenizer converts between text and token IDs. Implementations are safe
// for concurrent use.
type Tokenizer interface {
	// Encode turns ordinary text into token IDs. It never produces a special
	// token, even when the text contains "<|end|>" literally (that is
	// encoded as ordinary characters/bytes).
	Encode(text string) ([]int, error)
	// Decode turns IDs back into text; special tokens render as their
	// SpecialNames. Out-of-range IDs give an error.
	Decode(ids []int) (string, error)
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
	switch f.Kind {
	case KindChar:
		if f.Merges != nil || f.Pre != "" {
			return nil, fmt.Errorf("%w: char tokenizer has a \"merges\" or \"pre\" field", ErrInvalidData)
		}
		if f.Alphabet == nil {
			return nil, fmt.Errorf("%w: char tokenizer lacks the \"alphabet\" field", ErrInvalidData)
		}
		return NewCharFromAlphabet([]rune(*f.Alphabet))
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
		return NewBPE(merges, f.Pre)
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
// tokenizer does not know as "<|invalid:ID|>".
func TokenString(t Tokenizer, id int) string {
	if id >= 0 && id < NumSpecial {
		return SpecialNames[id]
	}
	if t == nil {
		return "<|invalid:" + strconv.Itoa(id) + "|>"
	}
	s, err := t.Decode([]int{id})
	if err != nil {
		return "<|invalid:" + strconv.Itoa(id) + "|>"
	}
	return strconv.Quote(s)
}

// invalidID builds the error Decode returns for an out-of-range ID found at
// index pos of its input.
func invalidID(id, pos, vocab int) error {
	return fmt.Errorf("%w: %d at position %d (vocabulary size %d)", ErrInvalidID, id, pos, vocab)
}
