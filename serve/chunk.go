package serve

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// deltaChunk writes the streamed chunk of one text delta (no finish reason, no role) without
// building and encoding maps: its bytes are a precomputed prefix, the choice's index, the text
// quoted as encoding/json quotes it, and a precomputed suffix: the same bytes as json.Marshal
// gives for the chunk's map (TestDeltaChunkMatchesMarshal).
type deltaChunk struct {
	chat bool
	tail []byte // `}],"created":…,"object":"…"}` and the event's blank line
}

// newDeltaChunk prepares the delta chunks of a stream whose chunks are c with its "choices".
func newDeltaChunk(chat bool, c map[string]any) deltaChunk {
	m := map[string]any{"choices": nil}
	for k, v := range c {
		if k != "choices" {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil { // c holds strings and numbers only
		panic(err)
	}
	// b is {"choices":null,"created":…}: the keys after "choices" in order.
	rest := bytes.TrimPrefix(b, []byte(`{"choices":null`))
	tail := append([]byte("]"), rest...)
	return deltaChunk{chat: chat, tail: append(tail, '\n', '\n')}
}

// append adds the "data:" event of choice i's delta text to buf.
func (d deltaChunk) append(buf []byte, i int, text string) []byte {
	if d.chat {
		buf = append(buf, `data: {"choices":[{"delta":{"content":`...)
		buf = appendJSONString(buf, text)
		buf = append(buf, `},"finish_reason":null,"index":`...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, `,"logprobs":null}`...)
	} else {
		buf = append(buf, `data: {"choices":[{"finish_reason":null,"index":`...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, `,"logprobs":null,"text":`...)
		buf = appendJSONString(buf, text)
		buf = append(buf, '}')
	}
	return append(buf, d.tail...)
}

// appendJSONString appends s quoted as encoding/json quotes a string (HTML characters, U+2028
// and U+2029 escaped, invalid UTF-8 as U+FFFD).
func appendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '"', '\\':
				buf = append(buf, '\\', b)
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
