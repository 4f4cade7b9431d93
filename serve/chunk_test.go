package serve

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestDeltaChunkMatchesMarshal: a delta chunk's bytes are those of the map the other chunks are
// encoded from, for chat and text completions and for text that encoding/json escapes.
func TestDeltaChunkMatchesMarshal(t *testing.T) {
	texts := []string{"", "hello", " world.", `say "hi" \ now`, "a<b>&c", "tab\tnew\nline\r\b\f\x00\x1f\x7f",
		"é ü 漢字 🙂", "bad \xff utf8 \xe2\x82", "line\u2028sep\u2029", "end"}
	for _, chat := range []bool{true, false} {
		c := map[string]any{"id": "chatcmpl-x<y>", "object": objectName(chat, true), "created": int64(1700000000), "model": "tiny & co"}
		d := newDeltaChunk(chat, c)
		var buf []byte
		for i, text := range texts {
			var choice map[string]any
			if chat {
				choice = map[string]any{"index": i, "delta": map[string]any{"content": text}, "logprobs": nil, "finish_reason": nil}
			} else {
				choice = map[string]any{"index": i, "text": text, "logprobs": nil, "finish_reason": nil}
			}
			c["choices"] = []any{choice}
			want, err := json.Marshal(c)
			assert.NoError(t, err)
			buf = d.append(buf[:0], i, text)
			assert.Equal(t, "data: "+string(want)+"\n\n", string(buf), "chat %v, text %q", chat, text)
		}
		delete(c, "choices")
	}
}

func TestDeltaChunkDoesNotAllocate(t *testing.T) {
	d := newDeltaChunk(true, map[string]any{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"})
	buf := make([]byte, 0, 512)
	assert.Zero(t, testing.AllocsPerRun(10, func() { buf = d.append(buf[:0], 3, "some <text>\n") }))
}
