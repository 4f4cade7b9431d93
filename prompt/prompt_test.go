package prompt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
)

var (
	home = Example{Question: "where does Anna live?", Answer: "Anna lives in Oakton."}
	same = Example{
		Question:   "do Anna and Ben live in the same town?",
		Answer:     "no, they do not.",
		Reasoning:  []string{"Anna lives in Oakton.", "Ben lives in Ashdale."},
		Conclusion: "so no, they do not.",
	}
)

func TestText(t *testing.T) {
	q := "do Cara and Dan live in the same town?"
	assert.Equal(t, "question: "+q+" answer:", Text(nil, q, Options{}), "zero-shot")
	assert.Equal(t,
		"question: where does Anna live? answer: Anna lives in Oakton.\n"+
			"question: do Anna and Ben live in the same town? answer: no, they do not.\n"+
			"question: do Cara and Dan live in the same town? answer:",
		Text([]Example{home, same}, q, Options{}))
	assert.Equal(t,
		"question: where does Anna live? answer: Anna lives in Oakton.\n"+
			"question: do Anna and Ben live in the same town? answer: Anna lives in Oakton. Ben lives in Ashdale. so no, they do not.\n"+
			"question: do Cara and Dan live in the same town? let's think step by step. answer:",
		Text([]Example{home, same}, q, Options{Reasoning: true, Trigger: true}))
	assert.Equal(t, "Q: where does Anna live?\nA: Anna lives in Oakton.\n\nQ: who? let's think step by step.\nA:",
		Text([]Example{home}, "who?", Options{Trigger: true, Format: TextFormat{Question: "Q: ", Answer: "\nA:", Sep: "\n\n"}}))
	// Only the empty fields take the defaults.
	assert.Equal(t, "question: x =>", Text(nil, "x", Options{Format: TextFormat{Answer: " =>"}}))
}

func TestChat(t *testing.T) {
	got := Chat([]Example{home, same}, "do Cara and Dan live in the same town?", Options{Reasoning: true})
	assert.Equal(t, []data.Message{
		{Role: data.RoleUser, Content: "where does Anna live?"},
		{Role: data.RoleAssistant, Content: "Anna lives in Oakton."},
		{Role: data.RoleUser, Content: "do Anna and Ben live in the same town?"},
		{Role: data.RoleAssistant, Content: "Anna lives in Oakton. Ben lives in Ashdale. so no, they do not."},
		{Role: data.RoleUser, Content: "do Cara and Dan live in the same town?"},
	}, got)
	require.NoError(t, data.ValidatePrompt(got))
	assert.Equal(t, []data.Message{{Role: data.RoleUser, Content: "hi? let's think step by step."}}, Chat(nil, "hi?", Options{Trigger: true}))
	// Without Reasoning the direct answers are shown.
	assert.Equal(t, "no, they do not.", Chat([]Example{same}, "x", Options{})[1].Content)
}

func TestExampleReply(t *testing.T) {
	assert.Equal(t, "no, they do not.", same.Reply(false))
	assert.Equal(t, "Anna lives in Oakton. Ben lives in Ashdale. so no, they do not.", same.Reply(true))
	assert.Equal(t, "Anna lives in Oakton.", home.Reply(true), "no reasoning: the answer")
	noConcl := same
	noConcl.Conclusion = ""
	assert.Equal(t, "Anna lives in Oakton. Ben lives in Ashdale. no, they do not.", noConcl.Reply(true))
	spare := make([]string, 2, 3)
	copy(spare, same.Reasoning)
	withCap := Example{Answer: "a", Reasoning: spare, Conclusion: "so a."}
	assert.Equal(t, "Anna lives in Oakton. Ben lives in Ashdale. so a.", withCap.Reply(true))
	assert.Equal(t, "", spare[:3][2], "Reply does not write past Reasoning")
	e := FromReply(same.Question, same.Reply(true))
	assert.Equal(t, Example{Question: same.Question, Answer: "so no, they do not.", Reasoning: same.Reasoning, Conclusion: "so no, they do not."}, e)
	assert.Equal(t, same.Reply(true), e.Reply(true))
	assert.Equal(t, Example{Question: "q", Answer: "Anna lives in Oakton."}, FromReply("q", " Anna lives in Oakton. "))
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Parsed
	}{
		{"Anna lives in Oakton. Ben lives in Ashdale. so no, they do not.",
			Parsed{Reasoning: "Anna lives in Oakton. Ben lives in Ashdale.", Steps: []string{"Anna lives in Oakton.", "Ben lives in Ashdale."}, Answer: "so no, they do not."}},
		{"the singer from Oakton is Anna. Anna likes blue. so blue.",
			Parsed{Reasoning: "the singer from Oakton is Anna. Anna likes blue.", Steps: []string{"the singer from Oakton is Anna.", "Anna likes blue."}, Answer: "so blue."}},
		{"Anna has 347 stamps and Ben has 215, so Anna has more.",
			Parsed{Reasoning: "Anna has 347 stamps and Ben has 215", Steps: []string{"Anna has 347 stamps and Ben has 215"}, Answer: "so Anna has more."}},
		{"So yes.", Parsed{Answer: "So yes."}},
		{"  no, they do not. ", Parsed{Answer: "no, they do not."}},
		{"i like it also so much.", Parsed{Answer: "i like it also so much."}},
		{"so. so it is", Parsed{Reasoning: "so.", Steps: []string{"so."}, Answer: "so it is"}},
		{"", Parsed{}},
	} {
		assert.Equal(t, c.want, Parse(c.in), c.in)
	}
}

func TestCutText(t *testing.T) {
	for _, c := range []struct {
		in, want string
		stopped  bool
	}{
		{" Anna lives in Oakton.\nquestion: where", "Anna lives in Oakton.", true},
		{" Anna lives in Oakton. question: where does", "Anna lives in Oakton.", true},
		{" Anna lives in Oakton. Anna lives in", "Anna lives in Oakton. Anna lives in", false},
		{"\n", "", true},
		{"", "", false},
	} {
		got, stopped := CutText(c.in, TextFormat{})
		assert.Equal(t, c.want, got, c.in)
		assert.Equal(t, c.stopped, stopped, c.in)
	}
	got, stopped := CutText(" x\nA: y\n\nQ: z", TextFormat{Question: "Q: ", Answer: "\nA:", Sep: "\n\n"})
	assert.Equal(t, "x\nA: y", got)
	assert.True(t, stopped)
}

func pool(n int) []Example {
	out := make([]Example, n)
	for i := range out {
		out[i] = Example{Question: fmt.Sprintf("q%d", i), Answer: fmt.Sprintf("a%d", i)}
	}
	return out
}

func TestRandom(t *testing.T) {
	p := pool(10)
	a := Random(p, "q3", 4, 7)
	assert.Equal(t, a, Random(p, "q3", 4, 7), "deterministic in the seed")
	assert.NotEqual(t, a, Random(p, "q3", 4, 8))
	require.Len(t, a, 4)
	seen := map[string]bool{}
	for _, e := range a {
		assert.NotEqual(t, "q3", e.Question, "never the question asked")
		assert.False(t, seen[e.Question], "no repeats")
		seen[e.Question] = true
	}
	all := Random(p, "q3", 100, 1)
	assert.Len(t, all, 9)
	assert.ElementsMatch(t, append(append([]Example(nil), p[:3]...), p[4:]...), all)
	assert.Empty(t, Random(p, "q0", 0, 1))
	assert.Empty(t, Random(nil, "q", 3, 1))
	// The draw is the seed's, not the pool's order: a stable prefix as k
	// grows.
	assert.Equal(t, Random(p, "", 3, 5), Random(p, "", 6, 5)[:3])
}

// fixedEmbedder returns a fixed vector per text.
type fixedEmbedder map[string][]float32

func (f fixedEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v, ok := f[t]
		if !ok {
			return nil, fmt.Errorf("no vector for %q", t)
		}
		out[i] = v
	}
	return out, nil
}

func TestNearest(t *testing.T) {
	ctx := context.Background()
	p := pool(5)
	emb := fixedEmbedder{
		"query": {1, 0},
		"q0":    {0, 1},   // 0
		"q1":    {1, 1},   // 0.707
		"q2":    {2, 0.1}, // 0.999
		"q3":    {-1, 0},  // -1
		"q4":    {1, 1},   // 0.707, after q1
	}
	got, err := Nearest(ctx, p, "query", 3, emb)
	require.NoError(t, err)
	assert.Equal(t, []Example{p[2], p[1], p[4]}, got)
	got, err = Nearest(ctx, p, "q2", 2, emb)
	require.NoError(t, err)
	assert.Equal(t, []Example{p[1], p[4]}, got, "the question itself is skipped")
	got, err = Nearest(ctx, p, "query", 9, emb)
	require.NoError(t, err)
	assert.Len(t, got, 5)

	_, err = Nearest(ctx, p, "unknown", 2, emb)
	assert.ErrorContains(t, err, "no vector")
	bad := fixedEmbedder{"query": {1, 0}, "q0": {1}, "q1": {1, 0}, "q2": {1, 0}, "q3": {1, 0}, "q4": {1, 0}}
	_, err = Nearest(ctx, p, "query", 2, bad)
	assert.True(t, errors.Is(err, ErrEmbed), "%v", err)
	_, err = Nearest(ctx, p, "query", 2, short{})
	assert.True(t, errors.Is(err, ErrEmbed), "%v", err)
}

// short returns one vector too few.
type short struct{}

func (short) Embed(_ context.Context, texts []string) ([][]float32, error) {
	return make([][]float32, len(texts)-1), nil
}

func TestHashEmbedder(t *testing.T) {
	ctx := context.Background()
	vs, err := HashEmbedder{Dim: 16}.Embed(ctx, []string{"Where does Anna live?", "where does anna live", ""})
	require.NoError(t, err)
	require.Len(t, vs, 3)
	assert.Len(t, vs[0], 16)
	assert.Equal(t, vs[0], vs[1], "case and punctuation do not matter")
	var sum float32
	for _, x := range vs[0] {
		sum += x
	}
	assert.Equal(t, float32(4), sum, "one count per word")
	assert.Equal(t, make([]float32, 16), vs[2])
	def, _ := HashEmbedder{}.Embed(ctx, []string{"x"})
	assert.Len(t, def[0], DefaultHashDim)

	// Questions of the same form are nearest.
	p := []Example{
		{Question: "what colour does Ben like?"},
		{Question: "do Cara and Dan live in the same town?"},
		{Question: "how many stamps does Eva have?"},
	}
	got, err := Nearest(ctx, p, "do Anna and Ben live in the same town?", 1, HashEmbedder{})
	require.NoError(t, err)
	assert.Equal(t, p[1:2], got)
	assert.Equal(t, 0.0, cosine([]float32{0, 0}, []float32{1, 0}))

	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err = HashEmbedder{}.Embed(done, []string{"x"})
	assert.ErrorIs(t, err, context.Canceled)
	_, err = Nearest(done, p, "x", 1, HashEmbedder{})
	assert.ErrorIs(t, err, context.Canceled)
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"a. b. so c.", "x, so y", "So", "so.", ". so", "", "  so   so  ", "é, so ü."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, reply string) {
		p := Parse(reply)
		trimmed := strings.TrimSpace(reply)
		if !strings.HasSuffix(trimmed, p.Answer) {
			t.Fatalf("answer %q is not the end of %q", p.Answer, trimmed)
		}
		if p.Reasoning == "" && p.Answer != trimmed && !strings.HasPrefix(strings.ToLower(p.Answer), "so") {
			t.Fatalf("no reasoning but the answer %q is not the reply %q", p.Answer, trimmed)
		}
		if p.Reasoning != "" && !strings.HasPrefix(trimmed, p.Reasoning) {
			t.Fatalf("reasoning %q does not open %q", p.Reasoning, trimmed)
		}
	})
}
