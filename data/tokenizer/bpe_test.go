package tokenizer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func id(c byte) int { return byteID + int(c) }

// tid is id as a token ID.
func tid(c byte) int32 { return int32(id(c)) }

func TestTrainBPEHandExample(t *testing.T) {
	// The classic example. "aaabdaaabac" is one pre-split chunk (all letters).
	// Byte IDs: a=97+10=107, b=108, c=109, d=110.
	// Pair counts: aa:4 (overlapping occurrences count), ab:2, bd:1, da:1, ba:1,
	// ac:1  -> merge 0: (a,a) = 266 "Z", merged left to right: "ZabdZabac".
	// Counts: Za:2, ab:2, bd:1, dZ:1, ba:1, ac:1. Tie at 2: the smaller pair
	// wins, (107,108) < (266,107) -> merge 1: (a,b) = 267 "Y": "ZYdZYac".
	// Counts: ZY:2, the rest 1 -> merge 2: (Z,Y) = 268 "X": "XdXac".
	// Now every pair occurs once, so training stops early with 3 merges.
	tok, err := TrainBPE("aaabdaaabac", BPEConfig{VocabSize: 1000})
	require.NoError(t, err)
	assert.Equal(t, [][2]int{{107, 107}, {107, 108}, {266, 267}}, tok.Merges())
	assert.Equal(t, MinBPEVocabSize+3, tok.VocabSize())
	assert.Equal(t, "bpe", tok.Kind())

	ids, err := tok.Encode("aaabdaaabac")
	require.NoError(t, err)
	assert.Equal(t, []int32{268, tid('d'), 268, tid('a'), tid('c')}, ids)
	// "aaaa" -> (a,a) left to right gives ZZ; no (Z,Z) merge exists.
	ids, err = tok.Encode("aaaa")
	require.NoError(t, err)
	assert.Equal(t, []int32{266, 266}, ids)
	// "aaab": ZY -> X.
	ids, err = tok.Encode("aaab")
	require.NoError(t, err)
	assert.Equal(t, []int32{268}, ids)

	for id, want := range map[int32]string{266: `"aa"`, 267: `"ab"`, 268: `"aaab"`} {
		assert.Equal(t, want, TokenString(tok, id))
	}
}

func TestTrainBPEPreSplit(t *testing.T) {
	// Chunks: "ab", " ab", " ab". Pairs: (a,b):3, (' ',a):2, and nothing
	// across chunks (no (b,' ')). Merge 0: (a,b) = 266; then (' ',266):2 ->
	// merge 1 = 267 " ab"; then no pair is left.
	tok, err := TrainBPE("ab ab ab", BPEConfig{VocabSize: 1000})
	require.NoError(t, err)
	assert.Equal(t, [][2]int{{id('a'), id('b')}, {id(' '), 266}}, tok.Merges())
	ids, err := tok.Encode("ab ab ab")
	require.NoError(t, err)
	assert.Equal(t, []int32{266, 267, 267}, ids)
	ids, err = tok.Encode("abab ab")
	require.NoError(t, err)
	assert.Equal(t, []int32{266, 266, 267}, ids)
}

// TestTrainBPEPreSplitGPT2 learns merges under GPT-2's rule, which does not cap digit runs:
// "1234" becomes one token (merges (1,2), then the smaller pair (3,4), then the two), while
// this package's rule cuts the run after three digits and never learns it.
func TestTrainBPEPreSplitGPT2(t *testing.T) {
	tok, err := TrainBPE("1234 1234", BPEConfig{VocabSize: 1000, PreSplit: PreSplitGPT2})
	require.NoError(t, err)
	assert.Equal(t, PreSplitGPT2, tok.PreSplit())
	assert.Equal(t, [][2]int{{id('1'), id('2')}, {id('3'), id('4')}, {266, 267}}, tok.Merges())
	ids, err := tok.Encode("1234 1234")
	require.NoError(t, err)
	assert.Equal(t, []int32{268, tid(' '), 268}, ids)

	own, err := TrainBPE("1234 1234", BPEConfig{VocabSize: 1000})
	require.NoError(t, err)
	assert.Equal(t, PreSplitTinychat, own.PreSplit())
	for _, m := range own.Merges() {
		assert.NotEqual(t, [2]int{id('3'), id('4')}, m, "a merge across the three-digit cap")
	}

	_, err = TrainBPE("1234", BPEConfig{PreSplit: "gpt4"})
	assert.ErrorIs(t, err, ErrInvalidConfig)
	assert.ErrorContains(t, err, `PreSplit "gpt4"`)
}

// SplitDigits: no merge holds a digit, so every digit is its own token, with either
// pre-splitting rule, while words still merge; without it the same corpus merges digits.
func TestTrainBPESplitDigits(t *testing.T) {
	corpus := strings.Repeat("Anna has 464 stamps. Ben has 46 stamps. 464+46=510. ", 20)
	for _, pre := range []string{PreSplitTinychat, PreSplitGPT2} {
		tok, err := TrainBPE(corpus, BPEConfig{VocabSize: 400, PreSplit: pre, SplitDigits: true})
		require.NoError(t, err)
		require.NotEmpty(t, tok.Merges())
		for i := range tok.Merges() {
			s := TokenString(tok, int32(firstMergeID+i))
			assert.False(t, strings.ContainsAny(s, "0123456789"), "merge %d is %s", i, s)
		}
		for _, text := range []string{"464", " 464", "Anna has 510 stamps."} {
			ids, err := tok.Encode(text)
			require.NoError(t, err)
			var digits []int32
			for _, id := range ids {
				if s := TokenString(tok, id); strings.ContainsAny(s, "0123456789") {
					require.Len(t, s, 3, "a digit alone, quoted: %s", s)
					digits = append(digits, id)
				}
			}
			assert.Len(t, digits, 3, "%q: %v", text, ids)
			back, err := tok.Decode(ids)
			require.NoError(t, err)
			assert.Equal(t, text, back)
		}
		ids, err := tok.Encode(" stamps")
		require.NoError(t, err)
		assert.Len(t, ids, 1, "words still merge")

		merged, err := TrainBPE(corpus, BPEConfig{VocabSize: 400, PreSplit: pre})
		require.NoError(t, err)
		ids, err = merged.Encode(" 464")
		require.NoError(t, err)
		assert.Less(t, len(ids), 4, "without SplitDigits the digits merge")
	}
}

func TestTrainBPEConfig(t *testing.T) {
	for _, vs := range []int{-1, 1, MinBPEVocabSize - 1} {
		_, err := TrainBPE("hello hello", BPEConfig{VocabSize: vs})
		assert.ErrorIs(t, err, ErrInvalidConfig, "VocabSize %d", vs)
	}
	// Exactly the minimum: no merges.
	tok, err := TrainBPE("hello hello", BPEConfig{VocabSize: MinBPEVocabSize})
	require.NoError(t, err)
	assert.Equal(t, MinBPEVocabSize, tok.VocabSize())
	assert.Empty(t, tok.Merges())

	// A cap on the number of merges.
	tok, err = TrainBPE(strings.Repeat("hello world ", 20), BPEConfig{VocabSize: MinBPEVocabSize + 3})
	require.NoError(t, err)
	assert.Equal(t, MinBPEVocabSize+3, tok.VocabSize())

	// Zero means the default, but a tiny corpus stops early.
	tok, err = TrainBPE("abcdef", BPEConfig{})
	require.NoError(t, err)
	assert.Equal(t, MinBPEVocabSize, tok.VocabSize(), "no pair occurs twice")
	assert.Equal(t, 778, DefaultBPEVocabSize)

	tok, err = TrainBPE("", BPEConfig{})
	require.NoError(t, err)
	assert.Equal(t, MinBPEVocabSize, tok.VocabSize())
}

func TestTrainBPEDeterministic(t *testing.T) {
	corpus := fuzzCorpus()
	a, err := TrainBPE(corpus, BPEConfig{VocabSize: 400})
	require.NoError(t, err)
	b, err := TrainBPE(corpus, BPEConfig{VocabSize: 400})
	require.NoError(t, err)
	assert.Equal(t, a.Merges(), b.Merges())
}

// TestTrainBPEMatchesReference compares the incremental trainer with a
// straightforward recount-everything implementation.
func TestTrainBPEMatchesReference(t *testing.T) {
	corpus := fuzzCorpus()[:3000] + " aaaa aaaaa abab ababab 1111 11111 !!!! \n\n\n  x"
	want := referenceMerges(corpus, 300)
	got, err := TrainBPE(corpus, BPEConfig{VocabSize: MinBPEVocabSize + 300})
	require.NoError(t, err)
	assert.Equal(t, want, got.Merges())

	// Random corpora over tiny alphabets: many overlapping pairs ("aaaa",
	// "abab") and, without spaces, a few very long chunks.
	rng := rand.New(rand.NewPCG(5, 6))
	for k := range 30 {
		alphabet := []string{"aab ", "ab", "aaab", "ab1 .", "a"}[k%5]
		b := make([]byte, 200+rng.IntN(3000))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		corpus := string(b)
		want := referenceMerges(corpus, 150)
		got, err := TrainBPE(corpus, BPEConfig{VocabSize: MinBPEVocabSize + 150})
		require.NoError(t, err)
		require.Equal(t, want, got.Merges(), "corpus %d (alphabet %q)", k, alphabet)
		// The training corpus round-trips.
		ids, err := got.Encode(corpus)
		require.NoError(t, err)
		back, err := got.Decode(ids)
		require.NoError(t, err)
		require.Equal(t, corpus, back)
	}
}

// referenceMerges is a slow, obviously correct BPE trainer: recount every
// pair of every chunk occurrence before each merge.
func referenceMerges(corpus string, maxMerges int) [][2]int {
	var words [][]int32
	for _, c := range splitChunks(corpus) {
		w := make([]int32, len(c))
		for i := range len(c) {
			w[i] = byteID + int32(c[i])
		}
		words = append(words, w)
	}
	var merges [][2]int
	for len(merges) < maxMerges {
		counts := map[uint64]int64{}
		for _, w := range words {
			for i := 0; i+1 < len(w); i++ {
				counts[pairKey(w[i], w[i+1])]++
			}
		}
		var best uint64
		var bestCount int64
		for p, c := range counts {
			if c > bestCount || (c == bestCount && p < best) {
				best, bestCount = p, c
			}
		}
		if bestCount < 2 {
			break
		}
		a, b := int32(best>>32), int32(uint32(best))
		m := int32(firstMergeID + len(merges))
		merges = append(merges, [2]int{int(a), int(b)})
		for k, w := range words {
			out := w[:0]
			for i := 0; i < len(w); {
				if i+1 < len(w) && w[i] == a && w[i+1] == b {
					out = append(out, m)
					i += 2
				} else {
					out = append(out, w[i])
					i++
				}
			}
			words[k] = out
		}
	}
	return merges
}

func TestSplitChunks(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"Hello world", []string{"Hello", " world"}},
		{"Hello, world!", []string{"Hello", ",", " world", "!"}},
		{"I'm here, they'll go; it's", []string{"I", "'m", " here", ",", " they", "'ll", " go", ";", " it", "'s"}},
		{"DON'T 'VE 'x", []string{"DON", "'T", " '", "VE", " '", "x"}},
		{"abc123def", []string{"abc", "123", "def"}},
		{"in 12345 years", []string{"in", " 123", "45", " years"}},
		{"3.14", []string{"3", ".", "14"}},
		{"a   b", []string{"a", "  ", " b"}},
		{"a\n\nb", []string{"a", "\n\n", "b"}},
		{"a\n b", []string{"a", "\n", " b"}},
		{"a\n\n  b", []string{"a", "\n\n ", " b"}},
		{"a \tb", []string{"a", " \t", "b"}},
		{"end  ", []string{"end", "  "}},
		{" ", []string{" "}},
		{"x ...!? y", []string{"x", " ...!?", " y"}},
		{"...'s", []string{"...'", "s"}},
		{"naïve café", []string{"naïve", " café"}},
		{"e\u0301t\u00e9", []string{"e\u0301t\u00e9"}},     // combining mark stays in the word
		{" \u0301x", []string{" \u0301", "x"}},             // a leading mark is a symbol
		{"日本語 テキスト", []string{"日本語", " テキスト"}},             // letters in any script
		{"hi 👋🏽👋 there", []string{"hi", " 👋🏽👋", " there"}}, // emoji are symbols
		{"ab\xffcd", []string{"ab", "\xff", "cd"}},         // invalid bytes are one-byte symbols
		{" \xff\xfe", []string{" \xff\xfe"}},
		{"\u00a0x", []string{"\u00a0", "x"}}, // NBSP is whitespace but does not attach
		{"Ⅻ½²", []string{"Ⅻ½²"}},             // \p{N}, not just ASCII digits
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, splitChunks(tc.in), "split(%q)", tc.in)
	}
}

func TestBPEMergesNeverCrossBoundaries(t *testing.T) {
	var sb strings.Builder
	words := []string{"the", "cat", "sat", "on", "mat", "it's", "don't", "abc123", "x42", "hello", "world"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		sb.WriteString(words[rng.IntN(len(words))])
		switch rng.IntN(6) {
		case 0:
			sb.WriteString("  ")
		case 1:
			sb.WriteString(".\n\n")
		case 2:
			sb.WriteString(", ")
		default:
			sb.WriteString(" ")
		}
	}
	tok, err := TrainBPE(sb.String(), BPEConfig{VocabSize: MinBPEVocabSize + 300})
	require.NoError(t, err)
	require.Greater(t, tok.VocabSize(), MinBPEVocabSize+20)

	isLetter := func(b byte) bool { return unicode.IsLetter(rune(b)) }
	isDigit := func(b byte) bool { return b >= '0' && b <= '9' }
	for i := firstMergeID; i < tok.VocabSize(); i++ {
		s := string(tok.tokens[i])
		// The corpus is ASCII, so every token must be (part of) one chunk.
		assert.Len(t, splitChunks(s), 1, "token %d %q spans chunks", i, s)
		for j := 0; j+1 < len(s); j++ {
			assert.False(t, isLetter(s[j]) && isDigit(s[j+1]) || isDigit(s[j]) && isLetter(s[j+1]),
				"token %d %q mixes letters and digits", i, s)
			assert.False(t, j+2 < len(s) && isLetter(s[j]) && s[j+1] == ' ' && isLetter(s[j+2]),
				"token %d %q spans two words", i, s)
			assert.False(t, isLetter(s[j]) && s[j+1] == ' ', "token %d %q has a trailing space", i, s)
		}
	}
	// The frequent words became single tokens with their leading space.
	ids, err := tok.Encode(" hello world")
	require.NoError(t, err)
	assert.Len(t, ids, 2)
}

func TestBPERoundTrip(t *testing.T) {
	tok := fuzzTokenizer(t)
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	cases := []string{
		"",
		"a",
		"<|end|>",
		"<|bos|>Hello<|end|>",
		"Hello, world! It's 2024.",
		"héllo wörld naïve café",
		"日本語のテキスト、中文文本。한국어 텍스트",
		"emoji 👋🏽👨‍👩‍👧 🇩🇪 ❤️",
		"\xff\xfe\x00\x80",
		"a\xc3",        // truncated 2-byte sequence
		"\xe2\x82 x",   // truncated €
		"\xed\xa0\x80", // encoded surrogate
		"tabs\t\tand\r\nnewlines\n\n\n",
		"   leading and trailing   ",
		"\u0301\u0301 e\u0301",
		strings.Repeat("ab", 500),
		strings.Repeat("the ", 300),
		strings.Repeat("!", 1000),
		strings.Repeat("1", 100),
		string(allBytes),
	}
	for _, s := range cases {
		ids, err := tok.Encode(s)
		require.NoError(t, err)
		for _, id := range ids {
			require.GreaterOrEqual(t, int(id), NumSpecial, "Encode(%q)", s)
			require.Less(t, int(id), tok.VocabSize(), "Encode(%q)", s)
		}
		got, err := tok.Decode(ids)
		require.NoError(t, err)
		assert.Equal(t, s, got)
		// Encoding twice (cache hit) gives the same IDs.
		again, err := tok.Encode(s)
		require.NoError(t, err)
		assert.Equal(t, ids, again)
	}
	ids, err := tok.Encode("")
	require.NoError(t, err)
	assert.Empty(t, ids)
}

func TestBPECompresses(t *testing.T) {
	tok := fuzzTokenizer(t)
	text := "the quick brown fox jumps over the lazy dog"
	ids, err := tok.Encode(text)
	require.NoError(t, err)
	assert.Less(t, len(ids), len(text)/2, "trained merges should compress in-domain text")
}

func TestBPENeverProducesSpecials(t *testing.T) {
	// Train on text full of special-token literals: still only ordinary IDs.
	corpus := strings.Repeat("<|end|> <|user|> hi <|assistant|> hello <|end|>\n", 50)
	tok, err := TrainBPE(corpus, BPEConfig{VocabSize: 400})
	require.NoError(t, err)
	for _, name := range SpecialNames {
		ids, err := tok.Encode(name)
		require.NoError(t, err)
		assert.NotEmpty(t, ids)
		for _, id := range ids {
			assert.GreaterOrEqual(t, int(id), NumSpecial, "Encode(%q) produced special %d", name, id)
		}
		got, err := tok.Decode(ids)
		require.NoError(t, err)
		assert.Equal(t, name, got)
	}
}

func TestBPEDecodeSpecialsAndErrors(t *testing.T) {
	tok, err := TrainBPE("aaabdaaabac", BPEConfig{})
	require.NoError(t, err)
	got, err := tok.Decode([]int32{BOS, User, 268, tid('d'), End, Assistant, tid('\xff'), End, Pad})
	require.NoError(t, err)
	assert.Equal(t, "<|bos|><|user|>aaabd<|end|><|assistant|>\xff<|end|><|pad|>", got)

	for _, bad := range []int32{-1, int32(tok.VocabSize()), math.MaxInt32} {
		_, err := tok.Decode([]int32{BOS, bad})
		require.Error(t, err, "id %d", bad)
		assert.ErrorIs(t, err, ErrInvalidID)
		assert.Contains(t, err.Error(), fmt.Sprintf("%d at position 1", bad))
	}
	got, err = tok.Decode(nil)
	require.NoError(t, err)
	assert.Equal(t, "", got)
}

func TestBPEMarshalRoundTrip(t *testing.T) {
	tok, err := TrainBPE("aaabdaaabac", BPEConfig{})
	require.NoError(t, err)
	data, err := tok.MarshalJSON()
	require.NoError(t, err)
	assert.JSONEq(t, `{"kind":"bpe","merges":[[107,107],[107,108],[266,267]],"specials":10}`, string(data))

	empty, err := TrainBPE("", BPEConfig{})
	require.NoError(t, err)
	data2, err := empty.MarshalJSON()
	require.NoError(t, err)
	assert.JSONEq(t, `{"kind":"bpe","merges":[],"specials":10}`, string(data2))

	big := fuzzTokenizer(t)
	data, err = big.MarshalJSON()
	require.NoError(t, err)
	restored, err := Unmarshal(data)
	require.NoError(t, err)
	require.IsType(t, &BPE{}, restored)
	assert.Equal(t, big.Merges(), restored.(*BPE).Merges())
	assert.Equal(t, big.VocabSize(), restored.VocabSize())
	assert.Equal(t, "bpe", restored.Kind())
	for _, s := range []string{fuzzCorpus(), "unseen wörds 123456 \xff <|end|>"} {
		want, err := big.Encode(s)
		require.NoError(t, err)
		got, err := restored.Encode(s)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	again, err := restored.MarshalJSON()
	require.NoError(t, err)
	assert.Equal(t, string(data), string(again))
}

func TestUnmarshalValid(t *testing.T) {
	tok, err := Unmarshal([]byte(`{"kind":"bpe","merges":[],"specials":10}`))
	require.NoError(t, err)
	assert.Equal(t, MinBPEVocabSize, tok.VocabSize())
	tok, err = Unmarshal([]byte(` {"kind":"char","alphabet":"","specials":10} `))
	require.NoError(t, err)
	assert.Equal(t, NumSpecial, tok.VocabSize())
	tok, err = Unmarshal([]byte(`{"merges":[[10,11],[266,12]],"kind":"bpe","specials":10}`))
	require.NoError(t, err)
	ids, err := tok.Encode("\x00\x01\x02")
	require.NoError(t, err)
	assert.Equal(t, []int32{267}, ids)
	// Without "specials": a tokenizer written before the tool tokens.
	tok, err = Unmarshal([]byte(`{"kind":"bpe","merges":[]}`))
	require.NoError(t, err)
	assert.Equal(t, LegacyNumSpecial+256, tok.VocabSize())
	tok, err = Unmarshal([]byte(`{"merges":[[5,6],[261,7]],"kind":"bpe"}`))
	require.NoError(t, err)
	ids, err = tok.Encode("\x00\x01\x02")
	require.NoError(t, err)
	assert.Equal(t, []int32{262}, ids)
}

func TestUnmarshalErrors(t *testing.T) {
	cases := map[string]string{
		"empty":               ``,
		"truncated":           `{"kind":"bpe"`,
		"trailing data":       `{"kind":"bpe","merges":[]}{}`,
		"not an object":       `[]`,
		"null":                `null`,
		"no kind":             `{}`,
		"kind not a string":   `{"kind":5}`,
		"unknown kind":        `{"kind":"wordpiece"}`,
		"char no alphabet":    `{"kind":"char"}`,
		"char null alphabet":  `{"kind":"char","alphabet":null}`,
		"char duplicate":      `{"kind":"char","alphabet":"aba"}`,
		"char with merges":    `{"kind":"char","alphabet":"ab","merges":[]}`,
		"unknown field":       `{"kind":"char","alphabet":"ab","extra":1}`,
		"bpe no merges":       `{"kind":"bpe"}`,
		"bpe null merges":     `{"kind":"bpe","merges":null}`,
		"bpe with alphabet":   `{"kind":"bpe","merges":[],"alphabet":"a"}`,
		"merges not array":    `{"kind":"bpe","merges":"x"}`,
		"merge 3 elements":    `{"kind":"bpe","merges":[[5,6,7]]}`,
		"merge 1 element":     `{"kind":"bpe","merges":[[5]]}`,
		"merge null":          `{"kind":"bpe","merges":[null]}`,
		"merge self ref":      `{"kind":"bpe","merges":[[261,5]]}`,
		"merge future ref":    `{"kind":"bpe","merges":[[5,6],[5,262]]}`,
		"merge of special":    `{"kind":"bpe","merges":[[4,6]]}`,
		"merge negative":      `{"kind":"bpe","merges":[[-1,6]]}`,
		"merge duplicate":     `{"kind":"bpe","merges":[[5,6],[7,8],[5,6]]}`,
		"merge float":         `{"kind":"bpe","merges":[[5.5,6]]}`,
		"merge huge":          `{"kind":"bpe","merges":[[99999999999999999999,6]]}`,
		"merge string":        `{"kind":"bpe","merges":[["5","6"]]}`,
		"specials 7":          `{"kind":"bpe","merges":[],"specials":7}`,
		"specials 5 written":  `{"kind":"char","alphabet":"a","specials":5}`,
		"specials string":     `{"kind":"char","alphabet":"a","specials":"10"}`,
		"specials null":       `{"kind":"char","alphabet":"a","specials":null,"specials":2}`,
		"merge of tool token": `{"kind":"bpe","merges":[[9,11]],"specials":10}`,
	}
	for name, in := range cases {
		tok, err := Unmarshal([]byte(in))
		assert.Nil(t, tok, name)
		assert.ErrorIs(t, err, ErrInvalidData, name)
	}
	_, err := Unmarshal([]byte(`{"kind":"bpe","merges":[[5,6],[5,262]]}`))
	assert.ErrorContains(t, err, "merge 1")
	_, err = Unmarshal([]byte(`{"kind":"wordpiece"}`))
	assert.ErrorContains(t, err, `unknown kind "wordpiece"`)
	_, err = Unmarshal([]byte(`{"kind":"bpe","merges":[],"specials":7}`))
	assert.ErrorContains(t, err, "unknown special-token set of 7 tokens (this version knows 10, and 5 when the field is absent)")
}

func TestMergeHeapMatchesNaive(t *testing.T) {
	// Small alphabet, many merges: lots of overlapping candidate pairs.
	rng := rand.New(rand.NewPCG(3, 4))
	randWord := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "aab"[rng.IntN(3)]
		}
		return string(b)
	}
	var sb strings.Builder
	for range 2000 {
		sb.WriteString(randWord(1 + rng.IntN(12)))
		sb.WriteByte(' ')
	}
	tok, err := TrainBPE(sb.String(), BPEConfig{VocabSize: MinBPEVocabSize + 200})
	require.NoError(t, err)
	require.Greater(t, len(tok.Merges()), 100)
	for range 500 {
		w := randWord(2 + rng.IntN(200))
		if rng.IntN(4) == 0 {
			w = " " + w
		}
		ids := make([]int32, len(w))
		for i := range len(w) {
			ids[i] = byteID + int32(w[i])
		}
		naive := tok.mergeNaive(append([]int32(nil), ids...))
		heap := tok.mergeHeap(append([]int32(nil), ids...))
		require.Equal(t, naive, heap, "word %q", w)
	}
}

func TestBPEConcurrentEncode(t *testing.T) {
	tok := fuzzTokenizer(t)
	texts := strings.Split(fuzzCorpus(), "\n")
	want := make([][]int32, len(texts))
	for i, s := range texts {
		ids, err := tok.Encode(s)
		require.NoError(t, err)
		want[i] = ids
	}
	fresh, err := NewBPEFromMerges(tok.Merges()) // cold cache
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for k := range 3 * len(texts) {
				i := (k + g*7) % len(texts)
				ids, err := fresh.Encode(texts[i])
				if err != nil || fmt.Sprint(ids) != fmt.Sprint(want[i]) {
					errs <- fmt.Sprintf("goroutine %d: text %d mismatch (err %v)", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestBPECacheBounded(t *testing.T) {
	tok, err := NewBPEFromMerges([][2]int{{id('a'), id('b')}})
	require.NoError(t, err)
	// 3*cacheGenSize distinct letter-only words.
	var sb strings.Builder
	for i := range 3 * cacheGenSize {
		sb.WriteByte(' ')
		for n := i + 1; n > 0; n /= 26 {
			sb.WriteByte(byte('a' + n%26))
		}
	}
	text := sb.String()
	ids, err := tok.Encode(text)
	require.NoError(t, err)
	got, err := tok.Decode(ids)
	require.NoError(t, err)
	assert.Equal(t, text, got)
	tok.mu.Lock()
	defer tok.mu.Unlock()
	assert.LessOrEqual(t, len(tok.cacheCur), cacheGenSize)
	assert.LessOrEqual(t, len(tok.cachePrev), cacheGenSize)
	assert.NotEmpty(t, tok.cacheCur)
}

func TestBPELongChunk(t *testing.T) {
	tok := fuzzTokenizer(t)
	// A single long chunk goes through mergeHeap and is not cached.
	long := strings.Repeat("thequickbrownfox", 200)
	ids, err := tok.Encode(long)
	require.NoError(t, err)
	raw := make([]int32, len(long))
	for i := range len(long) {
		raw[i] = byteID + int32(long[i])
	}
	naive := tok.mergeNaive(raw)
	require.Len(t, ids, len(naive))
	for i := range ids {
		require.Equal(t, int32(naive[i]), ids[i])
	}
	got, err := tok.Decode(ids)
	require.NoError(t, err)
	assert.Equal(t, long, got)
}

func TestNewBPEFromMergesCopies(t *testing.T) {
	m := [][2]int{{id('a'), id('b')}}
	tok, err := NewBPEFromMerges(m)
	require.NoError(t, err)
	m[0] = [2]int{id('x'), id('y')}
	assert.Equal(t, [][2]int{{id('a'), id('b')}}, tok.Merges())
	got := tok.Merges()
	got[0][0] = 7
	assert.Equal(t, [][2]int{{id('a'), id('b')}}, tok.Merges())
}
