package retrieval

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

// PooledEmbedder embeds a text as the mean of a model's final hidden states (the final
// LayerNorm's output, model.Engine.HiddenAt) over the text's tokens, read after <|bos|> and
// the text are fed to the model. A text longer than the model's block is cut to its first
// BlockSize−1 tokens. It is the cheap baseline embedder: the chat model itself, unchanged.
// Embed calls are serialised (one engine).
type PooledEmbedder struct {
	tok tokenizer.Tokenizer

	mu  sync.Mutex
	eng *model.Engine
}

var _ Embedder = (*PooledEmbedder)(nil)

// NewPooledEmbedder makes an embedder over m's weights (read in place, not copied) and tok,
// the tokenizer m was trained with.
func NewPooledEmbedder(m *model.Model, tok tokenizer.Tokenizer) (*PooledEmbedder, error) {
	if tok == nil {
		return nil, errors.New("retrieval: pooled embedder: nil tokenizer")
	}
	eng, err := model.NewEngine(m, 1)
	if err != nil {
		return nil, fmt.Errorf("retrieval: pooled embedder: %w", err)
	}
	if v := tok.VocabSize(); v != m.Config.VocabSize {
		return nil, fmt.Errorf("retrieval: pooled embedder: the tokenizer has %d tokens, the model %d", v, m.Config.VocabSize)
	}
	return &PooledEmbedder{tok: tok, eng: eng}, nil
}

// Dim is the dimension of the vectors: the model's width.
func (p *PooledEmbedder) Dim() int { return p.eng.Model().Config.Width }

// Embed returns one vector per text. An empty text is embedded as the hidden state after
// <|bos|> alone.
func (p *PooledEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	block := p.eng.Model().Config.BlockSize
	out := make([][]float32, len(texts))
	for i, text := range texts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ids, err := p.tok.Encode(text)
		if err != nil {
			return nil, fmt.Errorf("retrieval: text %d: %w", i, err)
		}
		seq := make([]int32, 0, min(len(ids), block-1)+1)
		seq = append(seq, tokenizer.BOS)
		for _, id := range ids[:min(len(ids), block-1)] {
			seq = append(seq, int32(id))
		}
		if err := p.eng.ResetSequence(0); err != nil {
			return nil, fmt.Errorf("retrieval: %w", err)
		}
		if _, err := p.eng.Prefill(0, seq); err != nil {
			return nil, fmt.Errorf("retrieval: text %d: %w", i, err)
		}
		first := 1
		if len(seq) == 1 {
			first = 0
		}
		vec := make([]float32, p.Dim())
		for pos := first; pos < len(seq); pos++ {
			h, err := p.eng.HiddenAt(0, pos)
			if err != nil {
				return nil, fmt.Errorf("retrieval: %w", err)
			}
			for j, x := range h {
				vec[j] += x
			}
		}
		inv := 1 / float32(len(seq)-first)
		for j := range vec {
			vec[j] *= inv
		}
		out[i] = vec
	}
	return out, nil
}
