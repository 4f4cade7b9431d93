package tools

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/retrieval"
)

// scriptedModel returns its steps in order and records the traces it was shown.
type scriptedModel struct {
	steps []string
	seen  []string
}

func (m *scriptedModel) Next(_ context.Context, trace string) (string, error) {
	m.seen = append(m.seen, trace)
	if len(m.seen) > len(m.steps) {
		return "Thought: i am lost.", nil
	}
	return m.steps[len(m.seen)-1], nil
}

func newsRegistry(t *testing.T) *Registry {
	t.Helper()
	ps := retrieval.Split([]retrieval.Document{{Name: "news", Text: "Anna has 347 stamps.\n\nBen has 28 stamps.\n\nCarl moved to Oakton."}}, 0)
	bm, err := retrieval.NewBM25(ps, 0, 0)
	require.NoError(t, err)
	reg, err := NewRegistry(Calculator{}, Search{Retriever: bm, K: 1})
	require.NoError(t, err)
	return reg
}

func TestReActSearchThenCalculate(t *testing.T) {
	m := &scriptedModel{steps: []string{
		"Thought: i need anna's stamps.\nAction: search[anna stamps]\nObservation: made up",
		"Thought: now ben.\nAction: search[ben stamps]",
		"Thought: add them.\nAction: calc[347 + 28]\n",
		"Thought: done.\nAction: answer[375]",
	}}
	r := &ReAct{Model: m, Tools: newsRegistry(t)}
	tr, err := r.Run(context.Background(), "how many stamps do anna and ben have?")
	require.NoError(t, err)
	assert.True(t, tr.Answered)
	assert.Equal(t, "375", tr.Answer)
	assert.Equal(t, []Step{
		{Thought: "i need anna's stamps.", Action: "search", Input: "anna stamps", Observation: "Anna has 347 stamps."},
		{Thought: "now ben.", Action: "search", Input: "ben stamps", Observation: "Ben has 28 stamps."},
		{Thought: "add them.", Action: "calc", Input: "347 + 28", Observation: "375"},
		{Thought: "done.", Action: "answer", Input: "375"},
	}, tr.Steps)
	want := `Question: how many stamps do anna and ben have?
Thought: i need anna's stamps.
Action: search[anna stamps]
Observation: Anna has 347 stamps.
Thought: now ben.
Action: search[ben stamps]
Observation: Ben has 28 stamps.
Thought: add them.
Action: calc[347 + 28]
Observation: 375
Thought: done.
Action: answer[375]
`
	assert.Equal(t, want, tr.Text)
	// The model saw the trace grow step by step; its own "Observation: made up" was dropped.
	require.Len(t, m.seen, 4)
	assert.Equal(t, "Question: how many stamps do anna and ben have?\n", m.seen[0])
	assert.Equal(t, want[:len(m.seen[3])], m.seen[3])
	assert.NotContains(t, m.seen[3], "made up")
}

func TestReActBoundedAndErrors(t *testing.T) {
	ctx := context.Background()
	// A model that never answers stops after MaxSteps; failures are observations.
	m := &scriptedModel{steps: []string{
		"I think so.",
		"Action: weather[oakton]",
		"Action: calc 1/0",
		"Action: search[]",
	}}
	tr, err := (&ReAct{Model: m, Tools: newsRegistry(t), MaxSteps: 5}).Run(ctx, "q")
	require.NoError(t, err)
	assert.False(t, tr.Answered)
	assert.Len(t, m.seen, 5)
	require.Len(t, tr.Steps, 5)
	assert.Equal(t, "error: no action (write Action: search[...], calc[...] or answer[...])", tr.Steps[0].Observation)
	assert.Equal(t, `error: unknown tool "weather" (tools: calc, search)`, tr.Steps[1].Observation)
	assert.Equal(t, "error: division by zero (the divisor at byte 2 is 0)", tr.Steps[2].Observation)
	assert.Equal(t, "error: empty query", tr.Steps[3].Observation)
	assert.Equal(t, Step{Thought: "i am lost.", Observation: tr.Steps[0].Observation}, tr.Steps[4])

	// Default bound.
	tr, err = (&ReAct{Model: &scriptedModel{}}).Run(ctx, "q")
	require.NoError(t, err)
	assert.Len(t, tr.Steps, DefaultMaxSteps)

	// No tools: actions fail in-band, answers still work.
	m = &scriptedModel{steps: []string{"Action: calc[1+1]", "Action: Answer[two]"}}
	tr, err = (&ReAct{Model: m}).Run(ctx, "q")
	require.NoError(t, err)
	assert.Equal(t, "error: no tools are available", tr.Steps[0].Observation)
	assert.Equal(t, "two", tr.Answer)

	// The model's error ends the loop with the trace so far.
	fail := ModelFunc(func(_ context.Context, trace string) (string, error) {
		if len(trace) > 20 {
			return "", errors.New("out of memory")
		}
		return "Action: calc[2x3]", nil
	})
	tr, err = (&ReAct{Model: fail, Tools: newsRegistry(t)}).Run(ctx, "q")
	assert.EqualError(t, err, "tools: react: step 2: out of memory")
	assert.Equal(t, "Question: q\nAction: calc[2x3]\nObservation: 6\n", tr.Text)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = (&ReAct{Model: fail}).Run(cctx, "q")
	assert.ErrorIs(t, err, context.Canceled)
	_, err = (&ReAct{}).Run(ctx, "q")
	assert.Error(t, err)
}

func TestParseStep(t *testing.T) {
	for _, tc := range []struct {
		out   string
		want  Step
		found bool
	}{
		{"Thought: a\nAction: calc[1 + 2]", Step{Thought: "a", Action: "calc", Input: "1 + 2"}, true},
		{"  thought:  a b \n action: SEARCH[ x [y] ] \nAction: calc[1]", Step{Thought: "a b", Action: "search", Input: "x [y]"}, true},
		{"Action: calc 3 x 4", Step{Action: "calc", Input: "3 x 4"}, true},
		{"Action: answer[", Step{Action: "answer"}, true},
		{"Action:", Step{}, false},
		{"Action: [x]", Step{Input: "x"}, false},
		{"Thought: only", Step{Thought: "only"}, false},
		{"", Step{}, false},
	} {
		got, found := ParseStep(tc.out)
		assert.Equal(t, tc.want, got, "%q", tc.out)
		assert.Equal(t, tc.found, found, "%q", tc.out)
	}
}

func TestSearchTool(t *testing.T) {
	ctx := context.Background()
	ps := retrieval.Split([]retrieval.Document{{Text: "Anna has 347 stamps.\n\nAnna lives in Oakton.\n\nBen has 28 stamps."}}, 0)
	bm, err := retrieval.NewBM25(ps, 0, 0)
	require.NoError(t, err)
	out, err := Search{Retriever: bm}.Run(ctx, "anna")
	require.NoError(t, err)
	assert.Equal(t, "Anna has 347 stamps.\nAnna lives in Oakton.", out)
	out, err = Search{Retriever: bm, K: 1}.Run(ctx, "stamps ben")
	require.NoError(t, err)
	assert.Equal(t, "Ben has 28 stamps.", out)
	out, err = Search{Retriever: bm}.Run(ctx, "zebra")
	require.NoError(t, err)
	assert.Equal(t, "no passages found", out)
	_, err = Search{Retriever: bm}.Run(ctx, "  ")
	assert.EqualError(t, err, "empty query")
	_, err = Search{}.Run(ctx, "x")
	assert.EqualError(t, err, "no passages to search")
	assert.Equal(t, "search", Search{}.Name())
}
