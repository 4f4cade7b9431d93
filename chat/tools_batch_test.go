package chat

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

// scriptModel is a fake model for several sequences: what it writes next is a function of a
// sequence's contents alone, as a real model's is. The prompt a sequence starts with picks a
// script, and the model writes the script's token after as many tokens as it has written so
// far (the tokens after the prompt outside <|tool_result|>…<|tool_result_end|>).
type scriptModel struct {
	vocab, block, rows int
	prompts, scripts   [][]int32
	seqs               [][]int32
	logits             []float32 // [sequences, vocab], as an engine keeps them
	fedRows            int       // tokens fed in all
	passes             int
}

func (m *scriptModel) Batch() int   { return len(m.seqs) }
func (m *scriptModel) MaxRows() int { return m.rows }
func (m *scriptModel) ResetSequence(s int) error {
	m.seqs[s] = m.seqs[s][:0]
	return nil
}
func (m *scriptModel) CopySequence(dst, src int) error {
	m.seqs[dst] = append(m.seqs[dst][:0], m.seqs[src]...)
	copy(m.logits[dst*m.vocab:(dst+1)*m.vocab], m.logits[src*m.vocab:])
	return nil
}

func (m *scriptModel) Feed(tokens [][]int32) ([]float32, error) {
	if len(tokens) != len(m.seqs) {
		return nil, fmt.Errorf("feed of %d lists for %d sequences", len(tokens), len(m.seqs))
	}
	total := 0
	for s, ts := range tokens {
		total += len(ts)
		if len(m.seqs[s])+len(ts) > m.block {
			return nil, model.ErrSequenceFull
		}
	}
	if total > m.rows {
		return nil, fmt.Errorf("feed of %d rows, the engine has %d", total, m.rows)
	}
	m.fedRows += total
	m.passes++
	if m.logits == nil {
		m.logits = make([]float32, len(m.seqs)*m.vocab)
	}
	for s, ts := range tokens {
		if len(ts) == 0 {
			continue // its row keeps its logits
		}
		m.seqs[s] = append(m.seqs[s], ts...)
		row := m.logits[s*m.vocab : (s+1)*m.vocab]
		clear(row)
		row[m.nextToken(m.seqs[s])] = 1
	}
	return m.logits, nil
}

// nextToken is what the model writes after seq.
func (m *scriptModel) nextToken(seq []int32) int32 {
	for k, p := range m.prompts {
		if len(seq) < len(p) || !slices.Equal(seq[:len(p)], p) {
			continue
		}
		written, inResult := 0, false
		for _, t := range seq[len(p):] {
			switch {
			case t == tokenizer.ToolResult:
				inResult = true
			case t == tokenizer.ToolResultEnd:
				inResult = false
			case !inResult:
				written++
			}
		}
		if written < len(m.scripts[k]) {
			return m.scripts[k][written]
		}
	}
	return tokenizer.End
}

// oneSequence serves one sequence of a scriptModel as the one-reply loop's decoder.
type oneSequence struct{ m *scriptModel }

func (o oneSequence) ResetSequence(int) error { return o.m.ResetSequence(0) }
func (o oneSequence) Len(int) int             { return len(o.m.seqs[0]) }
func (o oneSequence) Prefill(_ int, toks []int32) ([]float32, error) {
	logits, err := o.m.Feed([][]int32{toks})
	if err != nil {
		return nil, err
	}
	return logits[:o.m.vocab], nil
}

// TestRepliesBatchedMatchOneByOne: replies decoded together — more replies than sequences,
// prompts longer than one pass's rows, tool results of several lengths, replies ending at
// different times — are exactly the replies the one-reply loop gives, and each prompt is
// prefilled once for its samples.
func TestRepliesBatchedMatchOneByOne(t *testing.T) {
	f := newToolFixture(t)
	tok := f.tok
	var prompts [][]int32
	for _, q := range []string{"ann has 12 cats. times 3", "hello there", "two tools please, then a long answer"} {
		p, err := data.RenderPrompt(tok, []data.Message{{Role: data.RoleUser, Content: q}})
		require.NoError(t, err)
		prompts = append(prompts, p)
	}
	scripts := [][]int32{
		toolScript(t, tok, "so ", tCall, "calc 12x3", tCallEnd, "36.", tokenizer.End),
		toolScript(t, tok, "hi", tokenizer.End),
		toolScript(t, tok, tCall, "long", tCallEnd, tCall, "calc (1+2)x3", tCallEnd, "9 and a long tail of text", tokenizer.End),
	}
	const n, block = 2, 120
	newModel := func(seqs, rows int) *scriptModel {
		return &scriptModel{vocab: tok.VocabSize(), block: block, rows: rows, prompts: prompts, scripts: scripts, seqs: make([][]int32, seqs)}
	}
	cfg := ToolConfig{Tools: f.reg}
	sc := model.SampleConfig{MaxNewTokens: 60, ReturnLogProbs: true}

	var want []ToolReply
	for i := range len(prompts) * n {
		one := newModel(1, block)
		l := &toolLoop{dec: oneSequence{one}, block: block, pick: argmax, tok: tok, cfg: cfg, sc: sc}
		r, err := l.run(context.Background(), prompts[i/n])
		require.NoError(t, err)
		want = append(want, r)
	}
	require.Len(t, want[4].Calls, 2)
	require.Equal(t, "9 and a long tail of text", want[4].Text)

	for _, shape := range []struct{ seqs, rows int }{{4, 40}, {2, 24}, {8, 200}, {1, block}} {
		bm := newModel(shape.seqs, shape.rows)
		l := &toolLoop{block: block, tok: tok, cfg: cfg, sc: sc}
		got, err := l.runBatch(context.Background(), bm, prompts, n, func(int) (func([]float32) int32, error) { return argmax, nil })
		require.NoError(t, err, "shape %+v", shape)
		assert.Equal(t, want, got, "shape %+v", shape)
		// Each prompt went through the model once for its two samples (when its samples
		// started in the same pass), plus every generated token but the last and the results.
		var replyRows int
		for _, r := range want {
			replyRows += len(r.Tokens) - 1
		}
		var promptRows int
		for _, p := range prompts {
			promptRows += len(p)
		}
		if shape.seqs%n == 0 {
			assert.Equal(t, promptRows+replyRows, bm.fedRows, "shape %+v", shape)
		}
		if shape.seqs == 8 {
			// All six replies at once: one pass per token of the longest reply (plus the
			// prefill's).
			longest := 0
			for _, r := range want {
				longest = max(longest, len(r.Tokens)-countTrue(r.Inserted))
			}
			assert.LessOrEqual(t, bm.passes, longest+1, "passes")
		}
	}
}

// TestRepliesBatchedStopsOnCancel: a cancelled context ends the batch with the replies
// finished in order before it.
func TestRepliesBatchedStopsOnCancel(t *testing.T) {
	f := newToolFixture(t)
	tok := f.tok
	p, err := data.RenderPrompt(tok, []data.Message{{Role: data.RoleUser, Content: "hello"}})
	require.NoError(t, err)
	m := &scriptModel{vocab: tok.VocabSize(), block: 100, rows: 100, prompts: [][]int32{p},
		scripts: [][]int32{toolScript(t, tok, "abc", tokenizer.End)}, seqs: make([][]int32, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	l := &toolLoop{block: 100, tok: tok, cfg: ToolConfig{Tools: f.reg}, sc: model.SampleConfig{MaxNewTokens: 10, OnToken: func(i int, _ int32) bool {
		calls++
		if i == 1 {
			cancel()
		}
		return true
	}}}
	got, err := l.runBatch(ctx, m, [][]int32{p}, 3, func(int) (func([]float32) int32, error) { return argmax, nil })
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, got, 1, "reply 0 finished; reply 1 was cut")
	assert.Equal(t, "abc", got[0].Text)
	assert.True(t, got[0].Ended)
}

// TestRepliesCutByMaxNewTokens: a reply that reaches MaxNewTokens ends without feeding its last
// token to the model (nothing is drawn after it), in the batch loop and the one-reply loop alike.
func TestRepliesCutByMaxNewTokens(t *testing.T) {
	f := newToolFixture(t)
	tok := f.tok
	p, err := data.RenderPrompt(tok, []data.Message{{Role: data.RoleUser, Content: "hello"}})
	require.NoError(t, err)
	newModel := func() *scriptModel {
		return &scriptModel{vocab: tok.VocabSize(), block: 100, rows: 100, prompts: [][]int32{p},
			scripts: [][]int32{toolScript(t, tok, "a long reply that goes on", tokenizer.End)}, seqs: make([][]int32, 1)}
	}
	sc := model.SampleConfig{MaxNewTokens: 5}
	m := newModel()
	l := &toolLoop{block: 100, tok: tok, cfg: ToolConfig{Tools: f.reg}, sc: sc}
	got, err := l.runBatch(context.Background(), m, [][]int32{p}, 1, func(int) (func([]float32) int32, error) { return argmax, nil })
	require.NoError(t, err)
	require.Len(t, got[0].Tokens, 5)
	assert.False(t, got[0].Ended)
	assert.Equal(t, len(p)+4, m.fedRows, "the prompt and the first four tokens")
	one := newModel()
	l = &toolLoop{dec: oneSequence{one}, block: 100, pick: argmax, tok: tok, cfg: ToolConfig{Tools: f.reg}, sc: sc}
	r, err := l.run(context.Background(), p)
	require.NoError(t, err)
	assert.Equal(t, got[0], r)
	assert.Equal(t, len(p)+4, one.fedRows)
}
