package chat

import (
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/retrieval"
)

// ContextTurn is the context turn that puts the retrieved passages hits before a question
// (data.ContextMessage of their texts, in the hits' order), and false when there are none.
func ContextTurn(hits []retrieval.Hit) (data.Message, bool) {
	if len(hits) == 0 {
		return data.Message{}, false
	}
	texts := make([]string, len(hits))
	for i, h := range hits {
		texts[i] = h.Passage.Text
	}
	return data.ContextMessage(texts...), true
}

// TokenRole is where a token of a reply with tools belongs: see CallTokens.
type TokenRole int

const (
	// TextToken is a token of the reply's text (or a special token outside a call).
	TextToken TokenRole = iota
	// CallOpen is the <|tool_call|> that opens a call.
	CallOpen
	// CallToken is a token of a call, between its markers.
	CallToken
	// CallClose is the <|tool_call_end|> that closes a call.
	CallClose
)

// CallTokens sorts the tokens of a reply with tools, as Assistant.ReplyWithTools passes them
// to SampleConfig.OnToken, into the reply's text and its calls the way the tool loop reads
// them: a call runs from <|tool_call|> to the next <|tool_call_end|>, whatever lies between.
// A program that streams such a reply shows the text and leaves the calls to its OnCall. The
// zero value starts outside a call.
type CallTokens struct {
	inCall bool
}

// Next says where tok, the reply's next token, belongs.
func (c *CallTokens) Next(tok int32) TokenRole {
	switch {
	case !c.inCall && tok == tokenizer.ToolCall:
		c.inCall = true
		return CallOpen
	case c.inCall && tok == tokenizer.ToolCallEnd:
		c.inCall = false
		return CallClose
	case c.inCall:
		return CallToken
	default:
		return TextToken
	}
}

// InCall reports whether the tokens so far end inside a call (opened and not closed).
func (c *CallTokens) InCall() bool { return c.inCall }
