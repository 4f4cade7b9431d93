package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// The pre-splitting rules are documented in the package comment (section
// "BPE pre-splitting"); nextChunk implements them.

// class is the splitter's character class of a rune.
type class uint8

const (
	clsOther  class = iota // symbol / punctuation / invalid byte
	clsSpace               // whitespace
	clsLetter              // \p{L}
	clsNumber              // \p{N}
	clsMark                // \p{M}: continues a letter run, else a symbol
)

// asciiClass is the class of each ASCII byte.
var asciiClass = func() (t [utf8.RuneSelf]class) {
	for b := range utf8.RuneSelf {
		t[b] = classifySlow(rune(b))
	}
	return t
}()

func classifySlow(r rune) class {
	switch {
	case unicode.IsSpace(r):
		return clsSpace
	case unicode.IsLetter(r):
		return clsLetter
	case unicode.IsNumber(r):
		return clsNumber
	case unicode.IsMark(r):
		return clsMark
	default:
		return clsOther
	}
}

// classAt returns the class of the rune starting at s[i] and its width in
// bytes. An invalid UTF-8 byte is a one-byte symbol.
func classAt(s string, i int) (class, int) {
	if b := s[i]; b < utf8.RuneSelf {
		return asciiClass[b], 1
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size == 1 {
		return clsOther, 1
	}
	return classifySlow(r), size
}

// contractionLen returns the length of the contraction suffix ('s, 't, 're,
// 've, 'm, 'll, 'd; case-insensitive) at the start of s, which begins just
// after an apostrophe, or 0 if there is none.
func contractionLen(s string) int {
	if len(s) == 0 {
		return 0
	}
	switch s[0] | 0x20 { // ASCII lower case
	case 's', 't', 'm', 'd':
		return 1
	case 'r', 'v':
		if len(s) >= 2 && s[1]|0x20 == 'e' {
			return 2
		}
	case 'l':
		if len(s) >= 2 && s[1]|0x20 == 'l' {
			return 2
		}
	}
	return 0
}

// maxDigits caps a run of numbers in one chunk.
const maxDigits = 3

// nextChunk returns the end of the chunk that starts at s[i]; i < len(s).
func nextChunk(s string, i int) int {
	if s[i] == '\'' {
		if n := contractionLen(s[i+1:]); n > 0 {
			return i + 1 + n
		}
	}
	c, w := classAt(s, i)
	if s[i] == ' ' && i+1 < len(s) {
		// An optional single leading space before a letter/number/symbol run.
		if c2, w2 := classAt(s, i+1); c2 != clsSpace {
			i++
			c, w = c2, w2
		}
	}
	j := i + w
	switch c {
	case clsLetter:
		for j < len(s) {
			c, w := classAt(s, j)
			if c != clsLetter && c != clsMark {
				break
			}
			j += w
		}
	case clsNumber:
		for n := 1; n < maxDigits && j < len(s); n++ {
			c, w := classAt(s, j)
			if c != clsNumber {
				break
			}
			j += w
		}
	case clsOther, clsMark:
		for j < len(s) {
			c, w := classAt(s, j)
			if c != clsOther && c != clsMark {
				break
			}
			j += w
		}
	case clsSpace:
		last := i // start of the last whitespace rune of the run
		for j < len(s) {
			c, w := classAt(s, j)
			if c != clsSpace {
				break
			}
			last = j
			j += w
		}
		if j < len(s) && last > i && s[last] == ' ' {
			return last // leave the final ' ' for the following chunk
		}
	}
	return j
}

// splitChunks returns the pre-split chunks of s (substrings of s).
func splitChunks(s string) []string {
	var chunks []string
	for i := 0; i < len(s); {
		j := nextChunk(s, i)
		chunks = append(chunks, s[i:j])
		i = j
	}
	return chunks
}
