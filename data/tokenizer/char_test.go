package tokenizer

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSpecialNames(t *testing.T) {
	assert.Equal(t, "<|pad|>", SpecialNames[Pad])
	assert.Equal(t, "<|bos|>", SpecialNames[BOS])
	assert.Equal(t, "<|user|>", SpecialNames[User])
	assert.Equal(t, "<|assistant|>", SpecialNames[Assistant])
	assert.Equal(t, "<|end|>", SpecialNames[End])
	assert.Len(t, SpecialNames, NumSpecial)
}

func TestCharExactIDs(t *testing.T) {
	c := NewChar("hello world")
	// Sorted distinct runes: ' ' d e h l o r w -> IDs 10..17.
	assert.Equal(t, []rune(" dehlorw"), c.Alphabet())
	assert.Equal(t, NumSpecial+8, c.VocabSize())
	assert.Equal(t, "char", c.Kind())

	ids, err := c.Encode("hello world")
	require.NoError(t, err)
	assert.Equal(t, []int32{13, 12, 14, 14, 15, 10, 17, 15, 16, 14, 11}, ids)

	got, err := c.Decode(ids)
	require.NoError(t, err)
	assert.Equal(t, "hello world", got)

	ids, err = c.Encode("")
	require.NoError(t, err)
	assert.Empty(t, ids)
}

func TestCharUnicodeRoundTrip(t *testing.T) {
	corpus := "Grüße, 世界! 👋🏽 naïve café\n"
	c := NewChar(corpus)
	ids, err := c.Encode(corpus)
	require.NoError(t, err)
	assert.Len(t, ids, len([]rune(corpus)))
	for _, id := range ids {
		assert.GreaterOrEqual(t, int(id), NumSpecial)
		assert.Less(t, int(id), c.VocabSize())
	}
	got, err := c.Decode(ids)
	require.NoError(t, err)
	assert.Equal(t, corpus, got)
}

func TestCharUnknownChar(t *testing.T) {
	c := NewChar("hello")
	_, err := c.Encode("hex")
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrUnknownChar)
	assert.Equal(t, `tokenizer: unknown character 'x' (U+0078) at byte offset 2`, err.Error())

	// The offset is in bytes: "é" takes two.
	c = NewChar("héllo")
	_, err = c.Encode("hé€")
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrUnknownChar)
	assert.Equal(t, `tokenizer: unknown character '€' (U+20AC) at byte offset 3`, err.Error())

	// Invalid UTF-8 is reported as such, even if U+FFFD is in the alphabet.
	c = NewChar("ab\uFFFD")
	_, err = c.Encode("ab\xff")
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrUnknownChar)
	assert.Contains(t, err.Error(), "invalid UTF-8 byte 0xFF at byte offset 2")
	ids, err := c.Encode("\uFFFD")
	require.NoError(t, err)
	assert.Equal(t, []int32{NumSpecial + 2}, ids)
}

func TestNewCharSkipsInvalidUTF8(t *testing.T) {
	c := NewChar("a\xffb\xc3")
	assert.Equal(t, []rune("ab"), c.Alphabet())
}

func TestCharNeverProducesSpecials(t *testing.T) {
	c := NewChar(strings.Join(SpecialNames[:], " "))
	for _, name := range SpecialNames {
		ids, err := c.Encode(name)
		require.NoError(t, err)
		assert.Len(t, ids, len(name))
		for _, id := range ids {
			assert.GreaterOrEqual(t, int(id), NumSpecial, "Encode(%q) produced special %d", name, id)
		}
		got, err := c.Decode(ids)
		require.NoError(t, err)
		assert.Equal(t, name, got)
	}
}

func TestCharDecodeSpecialsAndErrors(t *testing.T) {
	c := NewChar("hi")
	got, err := c.Decode([]int32{BOS, User, NumSpecial + 0, NumSpecial + 1, End, Assistant, Pad})
	require.NoError(t, err)
	assert.Equal(t, "<|bos|><|user|>hi<|end|><|assistant|><|pad|>", got)

	for _, bad := range []int32{-1, int32(c.VocabSize()), math.MaxInt32} {
		_, err := c.Decode([]int32{NumSpecial, bad})
		require.Error(t, err, "id %d", bad)
		assert.ErrorIs(t, err, ErrInvalidID)
		assert.Contains(t, err.Error(), "at position 1")
	}
}

func TestNewCharFromAlphabet(t *testing.T) {
	c, err := NewCharFromAlphabet([]rune("ba€"))
	require.NoError(t, err)
	ids, err := c.Encode("abb€")
	require.NoError(t, err)
	assert.Equal(t, []int32{11, 10, 10, 12}, ids, "IDs follow the given order")

	_, err = NewCharFromAlphabet([]rune("abca"))
	assert.ErrorIs(t, err, ErrInvalidData)
	assert.ErrorContains(t, err, "repeats 'a'")
	_, err = NewCharFromAlphabet([]rune("x€y€"))
	assert.ErrorIs(t, err, ErrInvalidData)
	_, err = NewCharFromAlphabet([]rune{'a', 0xD800})
	assert.ErrorIs(t, err, ErrInvalidData)
	_, err = NewCharFromAlphabet([]rune{-1})
	assert.ErrorIs(t, err, ErrInvalidData)

	c, err = NewCharFromAlphabet(nil)
	require.NoError(t, err)
	assert.Equal(t, NumSpecial, c.VocabSize())
}

func TestCharMarshalRoundTrip(t *testing.T) {
	c := NewChar("ba\"<>\n€")
	data, err := c.MarshalJSON()
	require.NoError(t, err)
	var form map[string]any
	require.NoError(t, json.Unmarshal(data, &form))
	assert.Equal(t, map[string]any{"kind": "char", "alphabet": "\n\"<>ab€", "specials": float64(NumSpecial)}, form)

	got, err := Unmarshal(data)
	require.NoError(t, err)
	require.IsType(t, &Char{}, got)
	assert.Equal(t, c.Alphabet(), got.(*Char).Alphabet())
	assert.Equal(t, "char", got.Kind())
	assert.Equal(t, c.VocabSize(), got.VocabSize())
	text := "a\"b<>\n€"
	want, err := c.Encode(text)
	require.NoError(t, err)
	have, err := got.Encode(text)
	require.NoError(t, err)
	assert.Equal(t, want, have)

	// json.Marshal of the interface uses MarshalJSON.
	wrapped, err := json.Marshal(struct{ Tok Tokenizer }{c})
	require.NoError(t, err)
	assert.Equal(t, `{"Tok":`+string(data)+`}`, string(wrapped))
}

func TestTokenString(t *testing.T) {
	c := NewChar("a b")
	assert.Equal(t, "<|end|>", TokenString(c, End))
	assert.Equal(t, `" "`, TokenString(c, NumSpecial))
	assert.Equal(t, `"a"`, TokenString(c, NumSpecial+1))
	assert.Equal(t, "<|invalid:99|>", TokenString(c, 99))
	assert.Equal(t, "<|invalid:-3|>", TokenString(c, -3))

	b, err := TrainBPE(strings.Repeat("the cat ", 10), BPEConfig{VocabSize: MinBPEVocabSize + 10})
	require.NoError(t, err)
	assert.Equal(t, `"\xff"`, TokenString(b, byteID+0xff))
	assert.Equal(t, `"\n"`, TokenString(b, byteID+'\n'))
	assert.Equal(t, "<|bos|>", TokenString(b, BOS))
}
