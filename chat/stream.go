package chat

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/tinychat-go/tinychat/data/tokenizer"
)

// Streamer writes a reply to w while it is generated. A BPE token may hold part of a UTF-8
// character, so it decodes the whole reply so far after each token and prints only what is
// new, holding back an incomplete character at the end until the tokens completing it arrive.
// It stops at the first special token (<|end|>, or a malformed <|user|> and the like), as
// ParseReply does.
type Streamer struct {
	tok tokenizer.Tokenizer
	w   io.Writer
	ids []int32
	// printed is the length in bytes of the decoded reply written so far.
	printed int
	// stopped is set once a special token has ended the reply.
	stopped bool
	err     error
}

// NewStreamer returns a Streamer that writes the reply decoded with tok to w.
func NewStreamer(tok tokenizer.Tokenizer, w io.Writer) *Streamer {
	return &Streamer{tok: tok, w: w}
}

// Add takes the next generated token and prints what it completes. It reports whether
// generation should go on: false after a special token or an error.
func (st *Streamer) Add(id int32) bool {
	if st.stopped || st.err != nil {
		return false
	}
	if tokenizer.IsSpecial(st.tok, id) {
		st.stopped = true
		return false
	}
	st.ids = append(st.ids, id)
	text, err := st.tok.Decode(st.ids)
	if err != nil {
		st.err = fmt.Errorf("decoding the reply: %w", err)
		return false
	}
	st.write(text, completeUTF8(text))
	return st.err == nil
}

// Finish writes the rest of the reply, whose full text is text (the decoded reply, as
// data.ParseReply returns it), including an incomplete character left at its end.
func (st *Streamer) Finish(text string) error {
	if st.err == nil {
		st.write(text, len(text))
	}
	return st.err
}

// write prints text[st.printed:end], with invalid UTF-8 shown as U+FFFD.
func (st *Streamer) write(text string, end int) {
	if end <= st.printed || end > len(text) {
		return
	}
	if _, err := io.WriteString(st.w, strings.ToValidUTF8(text[st.printed:end], "\uFFFD")); err != nil {
		st.err = fmt.Errorf("writing the reply: %w", err)
		return
	}
	st.printed = end
}

// completeUTF8 returns the length of s without a trailing incomplete UTF-8 character: the
// first bytes of a multi-byte character whose last bytes are missing. Bytes that can never
// become valid UTF-8 are not held back.
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
