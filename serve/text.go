package serve

import (
	"strings"
	"unicode/utf8"

	"github.com/tinychat-go/tinychat/data/tokenizer"
)

// Finish reasons, as OpenAI names them.
const (
	finishStop   = "stop"
	finishLength = "length"
)

// textTracker turns one choice's generated tokens into text deltas as they come. A BPE token
// may hold part of a UTF-8 character and a stop sequence may arrive over several tokens, so it
// holds back an incomplete character and any ending that could start a stop sequence. The
// reply ends at a special token (<|end|>, or <|bos|> after a base model's document), at the
// first stop sequence (cut out of the text) or after maxNew tokens. The deltas joined are the
// choice's text, so the streamed and the whole answers agree.
//
// Decoding is by token (the text of a token list is its tokens' texts joined, as for the char
// and byte-level BPE tokenizers): only the tokens whose text is not all given out yet are
// decoded again, so a long reply costs linear time.
type textTracker struct {
	tok    tokenizer.Tokenizer
	stops  []string
	maxNew int

	pending  []int32 // the last tokens, whose text is not all given out
	pendSent int     // bytes of pending's text given out
	count    int     // tokens generated, the final special one included
	text     strings.Builder
	finish   string // "" while going on
}

// add takes the next token and returns the text it completes, and whether the reply goes on.
func (t *textTracker) add(id int32) (delta string, more bool) {
	if t.finish != "" {
		return "", false
	}
	t.count++
	if tokenizer.IsSpecial(t.tok, id) {
		return t.end(finishStop, t.decode(t.pending)), false
	}
	t.pending = append(t.pending, id)
	s := t.decode(t.pending)
	// A stop sequence cannot start in the text given out: its start would have been held back.
	cut := -1
	for _, stop := range t.stops {
		if i := strings.Index(s[t.pendSent:], stop); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	switch {
	case cut >= 0:
		return t.end(finishStop, s[:t.pendSent+cut]), false
	case t.count >= t.maxNew:
		return t.end(finishLength, s), false
	}
	end := completeUTF8(s)
	hold := 0
	for _, stop := range t.stops {
		for k := min(len(stop)-1, end-t.pendSent); k > hold; k-- {
			if strings.HasSuffix(s[:end], stop[:k]) {
				hold = k
				break
			}
		}
	}
	delta = t.emit(s, end-hold)
	// Forget the tokens given out whole.
	for len(t.pending) > 0 {
		n := len(t.decode(t.pending[:1]))
		if n > t.pendSent {
			break
		}
		t.pending = t.pending[1:]
		t.pendSent -= n
	}
	return delta, true
}

// decode is the text of ids (a decoding error, impossible for IDs the model produced, gives
// no text).
func (t *textTracker) decode(ids []int32) string {
	s, _ := t.tok.Decode(ids)
	return s
}

// end finishes the reply, the rest of whose text is s, and returns its last delta.
func (t *textTracker) end(reason, s string) string {
	t.finish = reason
	return t.emit(s, len(s))
}

// emit gives out s[t.pendSent:end], with invalid UTF-8 shown as U+FFFD.
func (t *textTracker) emit(s string, end int) string {
	if end <= t.pendSent {
		return ""
	}
	d := strings.ToValidUTF8(s[t.pendSent:end], "\uFFFD")
	t.pendSent = end
	t.text.WriteString(d)
	return d
}

// close ends a reply that generation stopped without add seeing it end: the rest of the text
// goes out and the finish reason is length.
func (t *textTracker) close() string {
	if t.finish != "" {
		return ""
	}
	return t.end(finishLength, t.decode(t.pending))
}

// completeUTF8 returns the length of s without a trailing incomplete UTF-8 character. Bytes
// that can never become valid UTF-8 are not held back.
func completeUTF8(s string) int {
	for i := len(s) - 1; i >= 0 && i > len(s)-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			if utf8.FullRuneInString(s[i:]) {
				return len(s)
			}
			return i
		}
	}
	return len(s)
}
