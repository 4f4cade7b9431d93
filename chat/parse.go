package chat

import (
	"errors"
	"fmt"

	"github.com/tinychat-go/tinychat/data/tokenizer"
)

// ParseReply decodes a generated reply: the tokens up to, not including, the
// first <|end|>. ended reports whether the reply was properly closed, that is
// whether <|end|> comes before any other special token; tokens after it are
// ignored (batched generation may continue past it). A reply that reaches
// another special token first (<|user|>, <|assistant|>, <|bos|>, <|pad|>) is
// malformed: ParseReply returns the text before that token and ended=false,
// as it does when generated has no <|end|> at all (the generation hit its
// length limit). err reports IDs the tokenizer cannot decode.
func ParseReply(tok tokenizer.Tokenizer, generated []int32) (reply string, ended bool, err error) {
	if tok == nil {
		return "", false, errors.New("chat: ParseReply: nil tokenizer")
	}
	n := len(generated)
	for i, id := range generated {
		if tokenizer.IsSpecial(tok, id) {
			n = i
			ended = id == tokenizer.End
			break
		}
	}
	reply, err = tok.Decode(generated[:n])
	if err != nil {
		return "", false, fmt.Errorf("chat: ParseReply: %w", err)
	}
	return reply, ended, nil
}
