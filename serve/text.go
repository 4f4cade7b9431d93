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

// textTracker turns one choice's generated tokens into text deltas as they come: it decodes
// the whole reply after each token (a BPE token may hold part of a UTF-8 character), holds
// back an incomplete character and any ending that could start a stop sequence, and ends the
// reply at a special token (<|end|>, or <|bos|> after a base model's document), at the first
// stop sequence (cut out of the text) or after maxNew tokens. The deltas joined are the
// choice's text: the streamed and the whole answers agree.
type textTracker struct {
	tok    tokenizer.Tokenizer
	stops  []string
	maxNew int

	ids    []int
	count  int // tokens generated, the final special one included
	sent   int // bytes of the decoded text given out as deltas
	text   strings.Builder
	finish string // "" while going on
}

// add takes the next token and returns the text it completes, and whether the reply goes on.
func (t *textTracker) add(id int32) (delta string, more bool) {
	if t.finish != "" {
		return "", false
	}
	t.count++
	if id >= 0 && id < tokenizer.NumSpecial {
		return t.end(finishStop, t.decoded()), false
	}
	t.ids = append(t.ids, int(id))
	full := t.decoded()
	cut := -1
	for _, s := range t.stops {
		if i := strings.Index(full, s); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	switch {
	case cut >= 0:
		return t.end(finishStop, full[:max(cut, t.sent)]), false
	case t.count >= t.maxNew:
		return t.end(finishLength, full), false
	}
	end := completeUTF8(full)
	hold := 0
	for _, s := range t.stops {
		for k := min(len(s)-1, end-t.sent); k > hold; k-- {
			if strings.HasSuffix(full[:end], s[:k]) {
				hold = k
				break
			}
		}
	}
	return t.emit(full, end-hold), true
}

// decoded is the text of the tokens so far (a decoding error, impossible for IDs the model
// produced, gives what decoded).
func (t *textTracker) decoded() string {
	s, _ := t.tok.Decode(t.ids)
	return s
}

// end finishes the reply, whose whole text is full, and returns its last delta.
func (t *textTracker) end(reason, full string) string {
	t.finish = reason
	return t.emit(full, len(full))
}

// emit gives out full[t.sent:end], with invalid UTF-8 shown as U+FFFD.
func (t *textTracker) emit(full string, end int) string {
	if end <= t.sent {
		return ""
	}
	d := strings.ToValidUTF8(full[t.sent:end], "\uFFFD")
	t.sent = end
	t.text.WriteString(d)
	return d
}

// close ends a reply that generation stopped without add seeing it end (cancellation): the
// rest of the text goes out and the finish reason is length.
func (t *textTracker) close() string {
	if t.finish != "" {
		return ""
	}
	return t.end(finishLength, t.decoded())
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
