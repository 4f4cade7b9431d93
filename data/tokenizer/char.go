package tokenizer

import (
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"
)

// Char is a character-level tokenizer, as used by nanoGPT's
// shakespeare-char: IDs 0..Specials()-1 are the special tokens and each
// rune of the alphabet gets one further ID, in alphabet order.
//
// A Char is immutable and safe for concurrent use.
type Char struct {
	alphabet []rune       // alphabet[i] has ID specials+i
	ascii    [128]int32   // ID of an ASCII rune, or 0 if absent (0 is Pad, never a character)
	index    map[rune]int // ID of a non-ASCII rune
	specials int          // NumSpecial, or LegacyNumSpecial for an old tokenizer
}

var _ Tokenizer = (*Char)(nil)

// NewChar builds a character-level tokenizer whose alphabet is the distinct
// runes of corpus in sorted (code point) order: the smallest rune gets ID
// NumSpecial. Invalid UTF-8 bytes in corpus are ignored (they cannot be
// represented and Encode rejects them).
func NewChar(corpus string) *Char {
	seen := make(map[rune]struct{})
	for i := 0; i < len(corpus); {
		r, size := utf8.DecodeRuneInString(corpus[i:])
		i += size
		if r == utf8.RuneError && size == 1 {
			continue // invalid byte, not a literal U+FFFD
		}
		seen[r] = struct{}{}
	}
	runes := make([]rune, 0, len(seen))
	for r := range seen {
		runes = append(runes, r)
	}
	slices.Sort(runes)
	c, err := NewCharFromAlphabet(runes)
	if err != nil {
		// Unreachable: the runes are distinct and valid.
		panic(fmt.Sprintf("tokenizer: NewChar: %v", err))
	}
	return c
}

// NewCharFromAlphabet builds a character-level tokenizer with the given
// alphabet; IDs follow the given order (runes[i] gets ID NumSpecial+i), so an
// existing vocabulary can be reproduced exactly. It returns an error wrapping
// [ErrInvalidData] if a rune is repeated or is not a valid Unicode scalar
// value (for example a surrogate half).
func NewCharFromAlphabet(runes []rune) (*Char, error) {
	return newChar(runes, NumSpecial)
}

// newChar is NewCharFromAlphabet with the given number of specials.
func newChar(runes []rune, specials int) (*Char, error) {
	c := &Char{
		alphabet: slices.Clone(runes),
		index:    make(map[rune]int),
		specials: specials,
	}
	for i, r := range runes {
		if !utf8.ValidRune(r) {
			return nil, fmt.Errorf("%w: alphabet entry %d (U+%04X) is not a valid rune", ErrInvalidData, i, r)
		}
		id := specials + i
		if r < utf8.RuneSelf {
			if c.ascii[r] != 0 {
				return nil, fmt.Errorf("%w: alphabet repeats %q (entries %d and %d)", ErrInvalidData, r, int(c.ascii[r])-specials, i)
			}
			c.ascii[r] = int32(id)
			continue
		}
		if prev, ok := c.index[r]; ok {
			return nil, fmt.Errorf("%w: alphabet repeats %q (entries %d and %d)", ErrInvalidData, r, prev-specials, i)
		}
		c.index[r] = id
	}
	return c, nil
}

// Alphabet returns a copy of the alphabet in ID order: Alphabet()[i] has ID
// Specials()+i.
func (c *Char) Alphabet() []rune { return slices.Clone(c.alphabet) }

// Specials is the number of special tokens, the ID of the first alphabet
// rune: NumSpecial, or LegacyNumSpecial for a tokenizer restored from JSON
// written before the tool tokens (see the package documentation).
func (c *Char) Specials() int { return c.specials }

// Encode turns text into one ID per rune. It fails with an error wrapping
// [ErrUnknownChar] that names the first character missing from the alphabet
// (or the first invalid UTF-8 byte) and its byte offset in text. Special
// tokens are never produced: "<|end|>" in text is seven ordinary characters.
func (c *Char) Encode(text string) ([]int32, error) {
	ids := make([]int32, 0, len(text))
	for i := 0; i < len(text); {
		if b := text[i]; b < utf8.RuneSelf {
			id := c.ascii[b]
			if id == 0 {
				return nil, fmt.Errorf("%w %q (U+%04X) at byte offset %d", ErrUnknownChar, rune(b), b, i)
			}
			ids = append(ids, int32(id))
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if r == utf8.RuneError && size == 1 {
			return nil, fmt.Errorf("%w: invalid UTF-8 byte 0x%02X at byte offset %d", ErrUnknownChar, text[i], i)
		}
		id, ok := c.index[r]
		if !ok {
			return nil, fmt.Errorf("%w %q (U+%04X) at byte offset %d", ErrUnknownChar, r, r, i)
		}
		ids = append(ids, int32(id))
		i += size
	}
	return ids, nil
}

// Decode turns IDs back into text. Special tokens render as their
// SpecialNames; an ID outside [0, VocabSize) gives an error wrapping
// [ErrInvalidID].
func (c *Char) Decode(ids []int32) (string, error) {
	buf := make([]byte, 0, len(ids))
	for pos, id32 := range ids {
		id := int(id32)
		switch {
		case id >= c.specials && id-c.specials < len(c.alphabet):
			buf = utf8.AppendRune(buf, c.alphabet[id-c.specials])
		case id >= 0 && id < c.specials:
			buf = append(buf, SpecialNames[id]...)
		default:
			return "", invalidID(id, pos, c.VocabSize())
		}
	}
	return string(buf), nil
}

// VocabSize is Specials() plus the alphabet size.
func (c *Char) VocabSize() int { return c.specials + len(c.alphabet) }

// Kind returns "char".
func (c *Char) Kind() string { return KindChar }

// MarshalJSON serialises the tokenizer as
// {"kind":"char","alphabet":"...","specials":10}, the alphabet string
// listing the runes in ID order; an old tokenizer (LegacyNumSpecial) is
// written as it was, without "specials".
func (c *Char) MarshalJSON() ([]byte, error) {
	a := string(c.alphabet)
	data, err := json.Marshal(jsonForm{Kind: KindChar, Alphabet: &a, Specials: specialsField(c.specials)})
	if err != nil {
		return nil, fmt.Errorf("tokenizer: marshal char tokenizer: %w", err)
	}
	return data, nil
}
