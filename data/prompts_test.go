package data

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadPrompts reads prompt-only rows (the data RL needs, which ReadConversations rejects
// because they do not end with an assistant turn) and names the line of a bad one.
func TestReadPrompts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "prompts.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(`{"prompt": "where does anna live?"}
{"prompt": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]}

{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}], "extra": 1}
`), 0o644))
	got, err := ReadPrompts(path)
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, []Message{{Role: RoleUser, Content: "where does anna live?"}}, got[0].Messages)
	assert.Equal(t, path+":1", got[0].Source)
	assert.Equal(t, []Message{{Role: RoleSystem, Content: "be brief"}, {Role: RoleUser, Content: "hi"}}, got[1].Messages)
	assert.Equal(t, path+":4", got[2].Source)
	_, err = ReadConversations(path)
	require.Error(t, err, "an SFT reader refuses prompts without a reply")

	for body, want := range map[string]string{
		`{"prompt": "x"}` + "\n" + `{"text": "y"}`:                                                `prompts.jsonl:2: missing field: want "prompt" or "messages"`,
		`{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}`: "prompts.jsonl:1: prompt must end with a user turn",
		`{"prompt": 3}`: "prompts.jsonl:1",
	} {
		require.NoError(t, os.WriteFile(path, []byte(body+"\n"), 0o644))
		_, err := ReadPrompts(path)
		assert.ErrorContains(t, err, want, body)
	}
}
