package chat

import (
	"context"
	"fmt"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

// Complete continues text with the model as a base model does, outside the chat template: the
// text is encoded after <|bos|> (as a pretraining document starts) and the continuation is
// sampled until a special token (the end of a document), sc.MaxNewTokens (default 64) or sc's
// StopTokens. It returns the continuation's text, up to the first special token.
func (a *Assistant) Complete(ctx context.Context, text string, sc model.SampleConfig) (string, error) {
	ids, err := a.tok.Encode(text)
	if err != nil {
		return "", fmt.Errorf("chat: Complete: %w", err)
	}
	if sc.MaxNewTokens == 0 {
		sc.MaxNewTokens = 64
	}
	if len(sc.StopTokens) == 0 {
		sc.StopTokens = []int32{tokenizer.BOS, tokenizer.End}
	}
	sc.NumSamples = 1
	out, err := a.eng.GenerateBatch(ctx, [][]int32{append([]int32{tokenizer.BOS}, ids...)}, sc)
	if err != nil {
		return "", fmt.Errorf("chat: Complete: %w", err)
	}
	toks := out[0].Tokens
	for i, t := range toks {
		if tokenizer.IsSpecial(a.tok, t) {
			toks = toks[:i]
			break
		}
	}
	s, err := a.tok.Decode(toks)
	if err != nil {
		return "", fmt.Errorf("chat: Complete: %w", err)
	}
	return s, nil
}
