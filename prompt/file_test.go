package prompt

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadExamples(t *testing.T) {
	in := `{"question": "where does Anna live?", "answer": "Anna lives in Oakton."}

{"question": "do Anna and Ben live in the same town?", "answer": "no, they do not.", "reasoning": ["Anna lives in Oakton.", "Ben lives in Ashdale."], "conclusion": "so no, they do not."}
`
	got, err := ReadExamples(strings.NewReader(in))
	require.NoError(t, err)
	assert.Equal(t, []Example{home, same}, got)

	empty, err := ReadExamples(strings.NewReader("\n  \n"))
	require.NoError(t, err)
	assert.Empty(t, empty)

	for _, c := range []struct{ in, msg string }{
		{`{"question": "q"}`, "line 1: question and answer are required"},
		{"{\"question\": \"q\", \"answer\": \"a\"}\n{\"question\": \"q\", \"answer\": \"a\", \"why\": 1}", `line 2: json: unknown field "why"`},
		{`{"question": "q", "answer": "a"} {}`, "line 1: more than one JSON value"},
		{`{"question": "q", "answer": 3}`, "line 1: json: cannot unmarshal"},
		{`not json`, "line 1: invalid character"},
		{`{"question": "` + strings.Repeat("x", maxExampleLine) + `", "answer": "a"}`, "token too long"},
	} {
		_, err := ReadExamples(strings.NewReader(c.in))
		require.Error(t, err, c.in[:min(len(c.in), 40)])
		assert.True(t, errors.Is(err, ErrExamples), "%v", err)
		assert.Contains(t, err.Error(), c.msg)
	}
}
