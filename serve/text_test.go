package serve

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tokenizer"
)

// track feeds text byte by byte (one byte-level BPE token per byte) and then ends, returning
// the deltas, the finish reason and the token count.
func track(t *testing.T, text string, stops []string, maxNew int, end bool) ([]string, string, int) {
	t.Helper()
	tok, err := tokenizer.NewBPEFromMerges(nil)
	require.NoError(t, err)
	ids, err := tok.Encode(text)
	require.NoError(t, err)
	require.Len(t, ids, len(text))
	tr := &textTracker{tok: tok, stops: stops, maxNew: maxNew}
	var deltas []string
	more := true
	for _, id := range ids {
		var d string
		d, more = tr.add(int32(id))
		if d != "" {
			deltas = append(deltas, d)
		}
		if !more {
			break
		}
	}
	if more && end {
		d, more := tr.add(tokenizer.End)
		assert.False(t, more)
		if d != "" {
			deltas = append(deltas, d)
		}
	}
	if d := tr.close(); d != "" {
		deltas = append(deltas, d)
	}
	for _, d := range deltas {
		assert.True(t, utf8.ValidString(d), "%q", d)
	}
	assert.Equal(t, strings.Join(deltas, ""), tr.text.String())
	return deltas, tr.finish, tr.count
}

func TestTextTracker(t *testing.T) {
	text := "héllo ✓ wörld 🎉!"
	deltas, finish, count := track(t, text, nil, 1000, true)
	assert.Equal(t, text, strings.Join(deltas, ""))
	assert.Equal(t, "stop", finish)
	assert.Equal(t, len(text)+1, count, "the <|end|> token counts")
	// Every delta is given out as soon as its character is complete: one per character here.
	assert.Equal(t, utf8.RuneCountInString(text), len(deltas))

	deltas, finish, count = track(t, text, nil, 5, false)
	assert.Equal(t, "héll", strings.Join(deltas, ""), "5 bytes")
	assert.Equal(t, "length", finish)
	assert.Equal(t, 5, count)

	// Cut inside a character at the length limit: shown as U+FFFD.
	deltas, _, _ = track(t, "a✓", nil, 3, false)
	assert.Equal(t, "a\uFFFD", strings.Join(deltas, ""))

	// A stop sequence over several tokens is cut out, and nothing of it is given out early.
	deltas, finish, count = track(t, "one. two. three", []string{"zzz", "wo."}, 1000, true)
	assert.Equal(t, "one. t", strings.Join(deltas, ""))
	assert.Equal(t, "stop", finish)
	assert.Equal(t, len("one. two."), count)
	for _, d := range deltas {
		assert.NotContains(t, d, "w")
	}
	// A held-back prefix that does not become the stop sequence is given out later.
	deltas, finish, _ = track(t, "wow wo. x", []string{"wo."}, 1000, true)
	assert.Equal(t, "wow ", strings.Join(deltas, ""))
	assert.Equal(t, "stop", finish)
	deltas, _, _ = track(t, "abab", []string{"abc"}, 1000, true)
	assert.Equal(t, []string{"ab", "ab"}, deltas, "each held back while it could start the stop sequence")
	// A stop sequence at the very start leaves an empty reply.
	deltas, finish, _ = track(t, "stop here", []string{"sto"}, 1000, true)
	assert.Empty(t, deltas)
	assert.Equal(t, "stop", finish)
	// The earliest of several stop sequences wins.
	deltas, _, _ = track(t, "xaybzc", []string{"zc", "yb"}, 1000, true)
	assert.Equal(t, "xa", strings.Join(deltas, ""))
}
