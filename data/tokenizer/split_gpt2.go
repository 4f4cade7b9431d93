package tokenizer

// Pre-splitting rules a BPE tokenizer can use (see [BPE.PreSplit]).
const (
	// PreSplitTinychat is this package's own pre-splitting, described in the package
	// documentation ("BPE pre-splitting"). It is the default (the empty string).
	PreSplitTinychat = ""
	// PreSplitGPT2 is GPT-2's pre-splitting, the regular expression
	//
	//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
	//
	// used by GPT-2's own tokenizer, by Hugging Face's ByteLevel pre-tokenizer and by
	// llama.cpp's "gpt-2" pre-tokenizer. Imported GPT-2 tokenizers use it, so that they encode
	// exactly as they did where they came from. It differs from PreSplitTinychat in four
	// places: contractions are lower case only, digit runs are not capped, combining marks
	// do not continue a letter run, and a run of whitespace followed by a non-space always
	// leaves its last character to the next chunk (so "\n\nHi" is "\n", "\n", "Hi").
	PreSplitGPT2 = "gpt2"
)

// NewBPE is [NewBPEFromMerges] with a choice of pre-splitting rule, PreSplitTinychat or
// PreSplitGPT2; any other value is an error wrapping [ErrInvalidData].
func NewBPE(merges [][2]int, preSplit string) (*BPE, error) {
	return newBPE(merges, NumSpecial, preSplit)
}

// PreSplit is the tokenizer's pre-splitting rule: PreSplitTinychat (the default) or
// PreSplitGPT2.
func (t *BPE) PreSplit() string { return t.pre }

// nextChunkGPT2 returns the end of the GPT-2 pre-split chunk that starts at s[i]; i < len(s).
func nextChunkGPT2(s string, i int) int {
	if s[i] == '\'' && i+1 < len(s) {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	cls := func(j int) (class, int) {
		c, w := classAt(s, j)
		if c == clsMark {
			c = clsOther // GPT-2 has no special case for marks
		}
		return c, w
	}
	c, w := cls(i)
	if s[i] == ' ' && i+1 < len(s) {
		if c2, w2 := cls(i + 1); c2 != clsSpace {
			i++
			c, w = c2, w2
		}
	}
	j := i + w
	if c == clsSpace {
		last, runes := i, 1
		for j < len(s) {
			c, w := cls(j)
			if c != clsSpace {
				break
			}
			last = j
			runes++
			j += w
		}
		if j < len(s) && runes > 1 {
			return last // \s+(?!\S): the last whitespace character goes to the next chunk
		}
		return j
	}
	for j < len(s) {
		c2, w := cls(j)
		if c2 != c {
			break
		}
		j += w
	}
	return j
}

// chunker returns the function that finds the end of the pre-split chunk starting at s[i]
// under the rule preSplit (PreSplitTinychat or PreSplitGPT2).
func chunker(preSplit string) func(s string, i int) int {
	if preSplit == PreSplitGPT2 {
		return nextChunkGPT2
	}
	return nextChunk
}
