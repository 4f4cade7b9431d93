package tokenizer

import (
	"fmt"
	"strings"
)

// GPT-2's byte-to-unicode table: the printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ')
// stand for themselves; every other byte b, taken in increasing order, is the rune 256+n where
// n counts the non-printable bytes before it (so ' ' is 'Ġ' and '\n' is 'Ċ'). Token strings in
// GPT-2's vocab.json, Hugging Face's tokenizer.json and llama.cpp's GGUF vocabularies are
// token bytes written this way.
var byteRune, runeByte = func() (br [256]rune, rb map[rune]byte) {
	rb = make(map[rune]byte, 256)
	n := 0
	for b := range 256 {
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		if printable {
			br[b] = rune(b)
		} else {
			br[b] = rune(256 + n)
			n++
		}
		rb[br[b]] = byte(b)
	}
	return br, rb
}()

// ByteLevelString writes token bytes in GPT-2's byte-to-unicode form: each byte becomes one
// printable rune (' ' becomes 'Ġ', '\n' becomes 'Ċ', 'a' stays 'a'), so any byte string,
// including invalid UTF-8, becomes a printable string without spaces.
func ByteLevelString(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) * 2)
	for _, c := range b {
		sb.WriteRune(byteRune[c])
	}
	return sb.String()
}

// ByteLevelBytes inverts ByteLevelString. A rune outside GPT-2's table gives an error wrapping
// [ErrInvalidData].
func ByteLevelBytes(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i, r := range s {
		b, ok := runeByte[r]
		if !ok {
			return nil, fmt.Errorf("%w: token %q has %q at byte %d, which is not a GPT-2 byte-level character", ErrInvalidData, s, r, i)
		}
		out = append(out, b)
	}
	return out, nil
}

// TokenStrings returns the text of every token of t, indexed by ID, in GPT-2's byte-level form
// (see [ByteLevelString]), with the special tokens as their SpecialNames. This is the
// vocabulary that llama.cpp and Hugging Face tokenizers read. It fails, wrapping
// [ErrInvalidData], when two IDs have the same string (two merges that built the same bytes,
// or an ordinary token spelling a special token's name): neither format can hold that.
func TokenStrings(t *BPE) ([]string, error) {
	out := make([]string, t.VocabSize())
	seen := make(map[string]int, len(out))
	for id := range out {
		if id < t.Specials() {
			out[id] = SpecialNames[id]
		} else {
			out[id] = ByteLevelString(t.tokens[id])
		}
		if prev, dup := seen[out[id]]; dup {
			return nil, fmt.Errorf("%w: tokens %d and %d are both %q", ErrInvalidData, prev, id, out[id])
		}
		seen[out[id]] = id
	}
	return out, nil
}

// TokenBytes returns the bytes of ordinary token id (a copy), or an error wrapping
// [ErrInvalidID] for a special token or an ID out of range.
func (t *BPE) TokenBytes(id int) ([]byte, error) {
	if id < t.Specials() || id >= len(t.tokens) {
		return nil, fmt.Errorf("%w: %d is not an ordinary token (ordinary IDs are %d..%d)", ErrInvalidID, id, t.Specials(), len(t.tokens)-1)
	}
	return append([]byte(nil), t.tokens[id]...), nil
}
