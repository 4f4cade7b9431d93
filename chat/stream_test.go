package chat

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tokenizer"
)

// chunkWriter records each Write separately.
type chunkWriter struct{ chunks []string }

func (w *chunkWriter) Write(p []byte) (int, error) {
	w.chunks = append(w.chunks, string(p))
	return len(p), nil
}

// TestStreamer feeds a reply byte by byte through a byte-level BPE tokenizer, so multi-byte
// characters arrive split over several tokens: only whole characters are printed, as soon as
// they are complete, and printing stops at <|end|>.
func TestStreamer(t *testing.T) {
	tok, err := tokenizer.NewBPEFromMerges(nil)
	require.NoError(t, err)
	text := "héllo ✓ wörld 🎉!"
	ids, err := tok.Encode(text)
	require.NoError(t, err)
	require.Len(t, ids, len(text), "one token per byte")
	var w chunkWriter
	st := NewStreamer(tok, &w)
	for i, id := range ids {
		require.True(t, st.Add(int32(id)))
		// Everything up to the last complete character is out.
		want := text[:i+1]
		for !utf8.ValidString(want) {
			want = want[:len(want)-1]
		}
		require.Equal(t, want, strings.Join(w.chunks, ""), "after byte %d", i)
	}
	for _, c := range w.chunks {
		assert.True(t, utf8.ValidString(c), "%q", c)
	}
	assert.False(t, st.Add(tokenizer.End))
	more, err := tok.Encode("more")
	require.NoError(t, err)
	assert.False(t, st.Add(int32(more[0])))
	require.NoError(t, st.Finish(text))
	assert.Equal(t, text, strings.Join(w.chunks, ""))

	// A reply cut off inside a character: held back while streaming, shown as U+FFFD at the end.
	w = chunkWriter{}
	st = NewStreamer(tok, &w)
	cut := "ab\xe2\x9c"
	ids, err = tok.Encode(cut)
	require.NoError(t, err)
	for _, id := range ids {
		require.True(t, st.Add(int32(id)))
	}
	assert.Equal(t, "ab", strings.Join(w.chunks, ""))
	require.NoError(t, st.Finish(cut))
	assert.Equal(t, "ab\uFFFD", strings.Join(w.chunks, ""))

	// An out-of-range token is an error, not a panic.
	st = NewStreamer(tok, &w)
	assert.False(t, st.Add(int32(tok.VocabSize())))
	assert.ErrorIs(t, st.Finish(""), tokenizer.ErrInvalidID)
}

func TestCompleteUTF8(t *testing.T) {
	for s, want := range map[string]int{
		"":              0,
		"abc":           3,
		"é":             2,
		"a\xc3":         1,
		"a\xe2\x9c":     1,
		"a\xf0\x9f\x8e": 1,
		"a\x80":         2, // a stray continuation byte never completes
		"a\xff":         2,
		"é\x80":         3,
	} {
		assert.Equal(t, want, completeUTF8(s), "%q", s)
	}
}
