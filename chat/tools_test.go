package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/tools"
)

// toolAlphabet holds every character the tool tests' texts and results use.
const toolAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789 +x.:\"(),"

// scripted is a decoder whose "model" writes a fixed script: after each Prefill its logits
// make the next script token the argmax (<|end|> once the script is used up). It records
// every token it is fed.
type scripted struct {
	vocab, block int
	script       []int32
	next         int
	fed          []int32
}

func (s *scripted) ResetSequence(int) error { s.fed = nil; return nil }
func (s *scripted) Len(int) int             { return len(s.fed) }
func (s *scripted) Prefill(_ int, toks []int32) ([]float32, error) {
	if len(s.fed)+len(toks) > s.block {
		return nil, model.ErrSequenceFull
	}
	s.fed = append(s.fed, toks...)
	logits := make([]float32, s.vocab)
	if s.next < len(s.script) {
		logits[s.script[s.next]] = 1
		s.next++
	} else {
		logits[tokenizer.End] = 1
	}
	return logits, nil
}

func argmax(logits []float32) int32 {
	best := 0
	for i, x := range logits {
		if x > logits[best] {
			best = i
		}
	}
	return int32(best)
}

// toolScript builds token sequences from text and special tokens.
func toolScript(t *testing.T, tok tokenizer.Tokenizer, parts ...any) []int32 {
	t.Helper()
	var out []int32
	for _, p := range parts {
		switch p := p.(type) {
		case string:
			ids, err := tok.Encode(p)
			require.NoError(t, err)
			for _, id := range ids {
				out = append(out, int32(id))
			}
		case int:
			out = append(out, int32(p))
		default:
			t.Fatalf("bad part %T", p)
		}
	}
	return out
}

type toolFixture struct {
	tok    tokenizer.Tokenizer
	reg    *tools.Registry
	prompt []int32
	msgs   []data.Message
	runs   int
}

func newToolFixture(t *testing.T) *toolFixture {
	f := &toolFixture{tok: tokenizer.NewChar(toolAlphabet)}
	count := tools.Func{ToolName: "count", F: func(context.Context, string) (string, error) {
		f.runs++
		return strings.Repeat("ab", f.runs), nil
	}}
	long := tools.Func{ToolName: "long", F: func(context.Context, string) (string, error) {
		return "0123456789abcdefghij", nil
	}}
	odd := tools.Func{ToolName: "odd", F: func(context.Context, string) (string, error) {
		return "ÀbÇ", nil // À and Ç are not in the alphabet
	}}
	var err error
	f.reg, err = tools.NewRegistry(tools.Calculator{}, count, long, odd)
	require.NoError(t, err)
	f.msgs = []data.Message{{Role: data.RoleUser, Content: "ann has 12 cats. times 3"}}
	f.prompt, err = data.RenderPrompt(f.tok, f.msgs)
	require.NoError(t, err)
	return f
}

func (f *toolFixture) run(t *testing.T, script []int32, block int, sc model.SampleConfig, cfg ToolConfig) (ToolReply, *scripted) {
	t.Helper()
	if cfg.Tools == nil {
		cfg.Tools = f.reg
	}
	dec := &scripted{vocab: f.tok.VocabSize(), block: block, script: script}
	l := &toolLoop{dec: dec, block: block, pick: argmax, tok: f.tok, cfg: cfg, sc: sc}
	r, err := l.run(context.Background(), f.prompt)
	require.NoError(t, err)
	require.Len(t, r.Inserted, len(r.Tokens))
	return r, dec
}

const (
	tCall, tCallEnd, tRes, tResEnd = tokenizer.ToolCall, tokenizer.ToolCallEnd, tokenizer.ToolResult, tokenizer.ToolResultEnd
)

// TestToolLoopScripted: the model writes a call, the loop runs the calculator, feeds the
// result back in the same cache, and the model answers from it.
func TestToolLoopScripted(t *testing.T) {
	f := newToolFixture(t)
	tok := f.tok
	script := toolScript(t, tok, "so ", tCall, "calc 12x3", tCallEnd, "36.", tokenizer.End)
	var seen []ToolCall
	r, dec := f.run(t, script, 200, model.SampleConfig{ReturnLogProbs: true}, ToolConfig{OnCall: func(c ToolCall) { seen = append(seen, c) }})

	wantTokens := toolScript(t, tok, "so ", tCall, "calc 12x3", tCallEnd, tRes, "36", tResEnd, "36.", tokenizer.End)
	assert.Equal(t, wantTokens, r.Tokens)
	var inserted []int
	for i, in := range r.Inserted {
		if in {
			inserted = append(inserted, i)
		}
	}
	n := len(toolScript(t, tok, "so ", tCall, "calc 12x3", tCallEnd))
	assert.Equal(t, []int{n, n + 1, n + 2, n + 3}, inserted, "<|tool_result|> 3 6 <|tool_result_end|>")
	assert.True(t, r.Ended)
	assert.Equal(t, "36.", r.Text)
	assert.Equal(t, f.prompt, r.Prompt)
	assert.Equal(t, []ToolCall{{Text: "calc 12x3", Name: "calc", Result: "36"}}, r.Calls)
	assert.Equal(t, r.Calls, seen)
	assert.Equal(t, []data.Message{
		{Role: data.RoleAssistant, Content: "so "},
		{Role: data.RoleToolCall, Content: "calc 12x3"},
		{Role: data.RoleToolResult, Content: "36"},
		{Role: data.RoleAssistant, Content: "36."},
	}, r.Messages)
	// The model saw the prompt and every token but the final <|end|>, results included.
	assert.Equal(t, append(append([]int32{}, f.prompt...), wantTokens[:len(wantTokens)-1]...), dec.fed)
	// Log-probs: each generated token was the argmax of a one-hot row; inserted ones are 0.
	require.Len(t, r.LogProbs, len(r.Tokens))
	for i, lp := range r.LogProbs {
		if r.Inserted[i] {
			assert.Zero(t, lp)
		} else {
			assert.InDelta(t, logProb(oneHot(f.tok.VocabSize(), 0), 0), lp, 1e-6)
		}
	}

	// The turn's messages render back to exactly the prompt and the reply's tokens.
	full, mask, err := data.RenderChat(tok, append(append([]data.Message{}, f.msgs...), r.Messages...))
	require.NoError(t, err)
	assert.Equal(t, append(append([]int32{}, f.prompt...), r.Tokens...), full)
	// And SFT trains on exactly the tokens the model generated.
	for i := range r.Tokens {
		assert.Equal(t, !r.Inserted[i], mask[len(f.prompt)+i] == 1, "token %d", i)
	}
}

func oneHot(n, i int) []float32 {
	x := make([]float32, n)
	x[i] = 1
	return x
}

// TestToolLoopErrorsInBand: unknown tools, bad arguments, too many calls, no registry and
// long or unencodable results all become results the model reads.
func TestToolLoopErrorsInBand(t *testing.T) {
	f := newToolFixture(t)
	tok := f.tok
	script := toolScript(t, tok,
		tCall, "nope 1", tCallEnd,
		tCall, "calc 1", tCallEnd,
		tCall, "calc 1x", tCallEnd,
		tCall, "long", tCallEnd,
		tCall, "calc 1+1", tCallEnd, // the fifth call: over the limit
		"ok", tokenizer.End)
	r, _ := f.run(t, script, 400, model.SampleConfig{MaxNewTokens: 200}, ToolConfig{MaxCalls: 4, MaxResultTokens: 12})
	require.Len(t, r.Calls, 5)
	assert.Equal(t, ToolCall{Text: "nope 1", Name: "nope", Result: `error: unkno`, Error: true}, r.Calls[0], "cut to 12 tokens")
	assert.Equal(t, ToolCall{Text: "calc 1", Name: "calc", Result: "1"}, r.Calls[1])
	assert.Equal(t, "error: synta", r.Calls[2].Result)
	assert.True(t, r.Calls[2].Error)
	assert.Equal(t, "0123456789ab", r.Calls[3].Result)
	assert.False(t, r.Calls[3].Error)
	assert.Equal(t, "error: too m", r.Calls[4].Result)
	assert.True(t, r.Ended)
	assert.Equal(t, "ok", r.Text)

	r, _ = f.run(t, script, 400, model.SampleConfig{MaxNewTokens: 200}, ToolConfig{MaxCalls: 4, MaxResultTokens: 100})
	assert.Equal(t, `error: unknown tool "nope" (tools: calc, count, long, odd)`, r.Calls[0].Result)
	assert.Equal(t, "error: too many tool calls (at most 4 per reply)", r.Calls[4].Result)

	// Characters the tokenizer does not know are dropped from a result.
	r, _ = f.run(t, toolScript(t, tok, tCall, "odd", tCallEnd, tokenizer.End), 100, model.SampleConfig{}, ToolConfig{})
	assert.Equal(t, "b", r.Calls[0].Result)
	assert.True(t, r.Ended)
	assert.Equal(t, "", r.Text)
	assert.Equal(t, []data.Message{
		{Role: data.RoleToolCall, Content: "odd"},
		{Role: data.RoleToolResult, Content: "b"},
		{Role: data.RoleAssistant, Content: ""},
	}, r.Messages)

	// Without a registry every call fails in-band.
	l := &toolLoop{dec: &scripted{vocab: tok.VocabSize(), block: 100, script: toolScript(t, tok, tCall, "calc 1", tCallEnd, tokenizer.End)},
		block: 100, pick: argmax, tok: tok, cfg: ToolConfig{MaxResultTokens: 100}}
	r, err := l.run(context.Background(), f.prompt)
	require.NoError(t, err)
	assert.Equal(t, "error: no tools are available", r.Calls[0].Result)
}

// TestToolLoopStops covers the ways a turn ends early: malformed special tokens, the token
// budget, the block, OnToken and cancellation.
func TestToolLoopStops(t *testing.T) {
	f := newToolFixture(t)
	tok := f.tok

	// A special token out of place ends the turn unended, keeping the text so far.
	for _, bad := range []int32{tokenizer.User, tRes, tCallEnd, tokenizer.Context} {
		r, _ := f.run(t, toolScript(t, tok, "hi", int(bad), "x", tokenizer.End), 100, model.SampleConfig{}, ToolConfig{})
		assert.False(t, r.Ended, "%d", bad)
		assert.Equal(t, "hi", r.Text)
		assert.Equal(t, []data.Message{{Role: data.RoleAssistant, Content: "hi"}}, r.Messages)
	}
	// A call inside a call, or <|end|> inside a call, is malformed too: the call is dropped.
	for _, bad := range []int32{tCall, tokenizer.End} {
		r, _ := f.run(t, toolScript(t, tok, "hi ", tCall, "calc", int(bad), "1", tCallEnd), 100, model.SampleConfig{}, ToolConfig{})
		assert.False(t, r.Ended)
		assert.Empty(t, r.Calls)
		assert.Equal(t, "hi ", r.Text)
		assert.Equal(t, []data.Message{{Role: data.RoleAssistant, Content: "hi "}}, r.Messages)
	}
	// The token budget runs out inside a call: no call runs.
	r, _ := f.run(t, toolScript(t, tok, tCall, "calc 1+1", tCallEnd, tokenizer.End), 100, model.SampleConfig{MaxNewTokens: 5}, ToolConfig{})
	assert.False(t, r.Ended)
	assert.Len(t, r.Tokens, 5)
	assert.Empty(t, r.Calls)
	assert.Equal(t, []data.Message{{Role: data.RoleAssistant, Content: ""}}, r.Messages)
	// Inserted tokens do not count against MaxNewTokens.
	script := toolScript(t, tok, tCall, "long", tCallEnd, "ab", tokenizer.End)
	r, _ = f.run(t, script, 100, model.SampleConfig{MaxNewTokens: len(script)}, ToolConfig{})
	assert.True(t, r.Ended)
	assert.Equal(t, "ab", r.Text)
	assert.Len(t, r.Tokens, len(script)+22)

	// The block: the result is cut to the room left, keeping one position for the model.
	block := len(f.prompt) + 10
	r, dec := f.run(t, toolScript(t, tok, tCall, "long", tCallEnd, "abcdef", tokenizer.End), block, model.SampleConfig{}, ToolConfig{})
	// 6 tokens of call, then room for 10-6-3 = 1 result token; the model writes "a" at the
	// last position and "b" after it, and the block is full.
	assert.Equal(t, "0", r.Calls[0].Result)
	assert.False(t, r.Ended)
	assert.Equal(t, block, dec.Len(0))
	assert.Equal(t, "ab", r.Text)
	// No room even for the result's markers: the call stays unanswered.
	block = len(f.prompt) + 8
	r, _ = f.run(t, toolScript(t, tok, tCall, "long", tCallEnd, "abcdef", tokenizer.End), block, model.SampleConfig{}, ToolConfig{})
	assert.Empty(t, r.Calls)
	assert.False(t, r.Ended)
	assert.Equal(t, []data.Message{{Role: data.RoleAssistant, Content: ""}}, r.Messages)

	// MaxTurnTokens bounds generated and inserted tokens together: after a 6-token call the
	// result gets 10-6-1-2 = 1 token, the model writes one more and the turn is full.
	r, _ = f.run(t, toolScript(t, tok, tCall, "long", tCallEnd, "abcdef", tokenizer.End), 100, model.SampleConfig{}, ToolConfig{MaxTurnTokens: 10})
	assert.Equal(t, "0", r.Calls[0].Result)
	assert.False(t, r.Ended)
	assert.Len(t, r.Tokens, 10)
	assert.Equal(t, "a", r.Text)
	for _, n := range []int{1, 8, 9, 12, 20, 40} {
		r, _ = f.run(t, toolScript(t, tok, tCall, "long", tCallEnd, tCall, "count", tCallEnd, "abcdef", tokenizer.End), 100, model.SampleConfig{}, ToolConfig{MaxTurnTokens: n})
		assert.LessOrEqual(t, len(r.Tokens), n, "MaxTurnTokens %d", n)
	}

	// A prompt longer than the block keeps its last BlockSize-1 tokens.
	r, _ = f.run(t, toolScript(t, tok, "a", tokenizer.End), 6, model.SampleConfig{}, ToolConfig{})
	assert.Equal(t, f.prompt[len(f.prompt)-5:], r.Prompt)
	assert.Equal(t, "a", r.Text)
	assert.True(t, r.Ended, "<|end|> is written after the last position")

	// OnToken can end the reply.
	var got []int32
	r, _ = f.run(t, toolScript(t, tok, "abc", tokenizer.End), 100, model.SampleConfig{OnToken: func(_ int, tk int32) bool {
		got = append(got, tk)
		return len(got) < 2
	}}, ToolConfig{})
	assert.Equal(t, "ab", r.Text)
	assert.Len(t, got, 2)

	// Cancellation.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l := &toolLoop{dec: &scripted{vocab: tok.VocabSize(), block: 100}, block: 100, pick: argmax, tok: tok, cfg: ToolConfig{Tools: f.reg}}
	_, err := l.run(ctx, f.prompt)
	assert.ErrorIs(t, err, context.Canceled)
}

// TestReplyWithToolsRealModel runs the loop on a real (untrained) model: the first tokens are
// forced to a calculator call, then the model decodes greedily. After the result is fed in the
// same KV cache, the model's continuation must be what a fresh engine generates from the whole
// sequence.
func TestReplyWithToolsRealModel(t *testing.T) {
	tok := tokenizer.NewChar(toolAlphabet)
	m, err := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: 64, Layers: 2, Heads: 2, Width: 16}, 7)
	require.NoError(t, err)
	a, err := NewAssistant(m, tok, 1)
	require.NoError(t, err)
	reg, err := tools.NewRegistry(tools.Calculator{})
	require.NoError(t, err)
	msgs := []data.Message{{Role: data.RoleUser, Content: "what is 6x7"}}
	prompt, err := data.RenderPrompt(tok, msgs)
	require.NoError(t, err)
	forced := toolScript(t, tok, tCall, "calc 6x7", tCallEnd)
	picks := 0
	sc := model.SampleConfig{MaxNewTokens: 20}
	l := &toolLoop{dec: a.eng, block: 64, tok: tok, cfg: ToolConfig{Tools: reg}, sc: sc, pick: func(logits []float32) int32 {
		picks++
		if picks <= len(forced) {
			return forced[picks-1]
		}
		return argmax(logits)
	}}
	r, err := l.run(context.Background(), prompt)
	require.NoError(t, err)
	require.Len(t, r.Calls, 1)
	assert.Equal(t, "42", r.Calls[0].Result)
	prefix := append(append([]int32{}, forced...), toolScript(t, tok, tRes, "42", tResEnd)...)
	require.Equal(t, prefix, r.Tokens[:len(prefix)])

	eng, err := model.NewEngine(m, 1)
	require.NoError(t, err)
	ref, err := eng.Generate(context.Background(), append(append([]int32{}, prompt...), prefix...), model.SampleConfig{MaxNewTokens: 20 - len(forced)})
	require.NoError(t, err)
	cont := r.Tokens[len(prefix):]
	n := min(len(cont), len(ref[0].Tokens))
	require.Positive(t, n)
	assert.Equal(t, ref[0].Tokens[:n], cont[:n])

	// Through the public method, greedy, with no call forced: whatever the untrained model
	// writes, the reply is well formed.
	tr, err := a.ReplyWithTools(context.Background(), msgs, model.SampleConfig{MaxNewTokens: 30, Temperature: 1, Seed: 3}, ToolConfig{Tools: reg})
	require.NoError(t, err)
	assert.Len(t, tr.Inserted, len(tr.Tokens))
	assert.LessOrEqual(t, len(tr.Tokens)-countTrue(tr.Inserted), 30)
	require.NotEmpty(t, tr.Messages)
	assert.Equal(t, data.RoleAssistant, tr.Messages[len(tr.Messages)-1].Role)

	// A model trained before the tool tokens cannot call tools.
	old, err := tokenizer.Unmarshal([]byte(`{"kind":"char","alphabet":"abc "}`))
	require.NoError(t, err)
	om, err := model.New(model.Config{VocabSize: old.VocabSize(), BlockSize: 8, Layers: 1, Heads: 1, Width: 4}, 1)
	require.NoError(t, err)
	oa, err := NewAssistant(om, old, 1)
	require.NoError(t, err)
	_, err = oa.ReplyWithTools(context.Background(), []data.Message{{Role: data.RoleUser, Content: "a"}}, model.SampleConfig{}, ToolConfig{Tools: reg})
	assert.True(t, errors.Is(err, tokenizer.ErrNoToolTokens))
	assert.ErrorContains(t, err, "chat: tokenizer: no tool-call tokens: the tokenizer has the 5 special tokens of a checkpoint written before tool calls existed")
}

func countTrue(b []bool) int {
	n := 0
	for _, x := range b {
		if x {
			n++
		}
	}
	return n
}

// TestRepliesWithToolsMatchGenerateBatch: sample i of RepliesWithTools draws what sample i of
// GenerateBatch draws, up to the first special token (where the tool loop may run a tool).
func TestRepliesWithToolsMatchGenerateBatch(t *testing.T) {
	tok := tokenizer.NewChar(toolAlphabet)
	m, err := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: 48, Layers: 2, Heads: 2, Width: 16}, 11)
	require.NoError(t, err)
	for _, batch := range []int{1, 4} {
		testRepliesWithToolsMatchGenerateBatch(t, m, tok, batch)
	}
}

func testRepliesWithToolsMatchGenerateBatch(t *testing.T, m *model.Model, tok tokenizer.Tokenizer, batch int) {
	a, err := NewAssistant(m, tok, batch)
	require.NoError(t, err)
	convs := [][]data.Message{
		{{Role: data.RoleUser, Content: "what is 6x7"}},
		{{Role: data.RoleUser, Content: "hello"}},
	}
	sc := model.SampleConfig{MaxNewTokens: 12, Temperature: 1, Seed: 9, NumSamples: 3}
	rs, err := a.RepliesWithTools(context.Background(), convs, sc, ToolConfig{})
	require.NoError(t, err)
	require.Len(t, rs, 6)
	var prompts [][]int32
	for _, c := range convs {
		p, err := data.RenderPrompt(tok, c)
		require.NoError(t, err)
		prompts = append(prompts, p)
	}
	eng, err := model.NewEngine(m, 1)
	require.NoError(t, err)
	ref, err := eng.GenerateBatch(context.Background(), prompts, model.SampleConfig{MaxNewTokens: 12, Temperature: 1, Seed: 9, NumSamples: 3,
		StopTokens: []int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}})
	require.NoError(t, err)
	distinct := map[string]bool{}
	for i, r := range rs {
		assert.Equal(t, prompts[i/3], r.Prompt)
		want := ref[i].Tokens
		got := r.Tokens[:min(len(want), len(r.Tokens))]
		assert.Equal(t, want, got, "batch %d, sample %d", batch, i)
		distinct[fmt.Sprint(got)] = true
	}
	assert.Greater(t, len(distinct), 3, "the samples differ")
}

// ReplyWithTools ignores NumSamples: one reply, the first sample's, and OnToken sees only its
// tokens.
func TestReplyWithToolsIgnoresNumSamples(t *testing.T) {
	tok := tokenizer.NewChar(toolAlphabet)
	m, err := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: 48, Layers: 2, Heads: 2, Width: 16}, 11)
	require.NoError(t, err)
	a, err := NewAssistant(m, tok, 4)
	require.NoError(t, err)
	msgs := []data.Message{{Role: data.RoleUser, Content: "what is 6x7"}}
	one, err := a.ReplyWithTools(context.Background(), msgs, model.SampleConfig{MaxNewTokens: 12, Temperature: 1, Seed: 9}, ToolConfig{})
	require.NoError(t, err)
	var seen []int32
	var others int
	three, err := a.ReplyWithTools(context.Background(), msgs, model.SampleConfig{MaxNewTokens: 12, Temperature: 1, Seed: 9, NumSamples: 3,
		OnToken: func(i int, t int32) bool {
			if i != 0 {
				others++
			}
			seen = append(seen, t)
			return true
		}}, ToolConfig{})
	require.NoError(t, err)
	assert.Equal(t, one.Tokens, three.Tokens)
	assert.Zero(t, others, "OnToken saw another sample's tokens")
	assert.Equal(t, three.Tokens[:len(seen)], seen)
}
