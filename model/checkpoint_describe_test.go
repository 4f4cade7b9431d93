package model

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/internal/kernels"
	"github.com/tinychat-go/tinychat/model/safetensors"
)

// TestCheckpointDescribesItself: a saved checkpoint's metadata holds the architecture, the
// tokenizer's layout (its special tokens and IDs as this version of the tokenizer package
// defines them) and the chat template; they are not Extra entries when loaded.
func TestCheckpointDescribesItself(t *testing.T) {
	for _, c := range []*Checkpoint{testCheckpoint(t), bpeCheckpoint(t)} {
		path := filepath.Join(t.TempDir(), "ck.safetensors")
		require.NoError(t, c.Save(path))
		meta, err := safetensors.ReadMetadata(path)
		require.NoError(t, err)

		var arch architectureDoc
		require.NoError(t, json.Unmarshal([]byte(meta["architecture"]), &arch))
		assert.Equal(t, 1, arch.Version)
		assert.Equal(t, kernels.LayerNormEps, arch.LayerNormEpsilon)
		assert.Equal(t, 1e-5, arch.LayerNormEpsilon)
		assert.Contains(t, arch.Activation, "tanh approximation: 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³)))")
		assert.Contains(t, arch.Attention, "[q | k | v]")
		assert.Contains(t, arch.WeightLayout, "[in, out]")

		var layout tokenizerLayoutDoc
		require.NoError(t, json.Unmarshal([]byte(meta["tokenizer_layout"]), &layout))
		assert.Equal(t, c.Tokenizer.Kind(), layout.Kind)
		assert.Equal(t, c.Tokenizer.VocabSize(), layout.VocabSize)
		// Every special token of the tokenizer package, with its ID, as a new tokenizer has them.
		require.Len(t, layout.SpecialTokens, len(tokenizer.SpecialNames))
		for id, name := range tokenizer.SpecialNames {
			assert.Equal(t, specialToken{ID: id, Text: name}, layout.SpecialTokens[id])
		}
		assert.Equal(t, len(tokenizer.SpecialNames), layout.FirstOrdinaryID)
		if c.Tokenizer.Kind() == tokenizer.KindBPE {
			assert.Contains(t, layout.IDLayout, "is the single byte b")
			assert.True(t, strings.HasPrefix(layout.PreSplit, "Text is cut into chunks before BPE"), layout.PreSplit)
		}
		assert.Equal(t, chatTemplateDoc, meta["chat_template"])

		got, err := LoadCheckpoint(path)
		require.NoError(t, err)
		for _, k := range []string{"architecture", "tokenizer_layout", "chat_template"} {
			assert.NotContains(t, got.Extra, k)
		}
	}
}

// TestCheckpointDescribesOldTokenizer: a tokenizer from before the tool tokens (the version 1
// fixture's) is described with the special tokens it has.
func TestCheckpointDescribesOldTokenizer(t *testing.T) {
	c, err := LoadCheckpoint("testdata/checkpoint-v1.safetensors")
	require.NoError(t, err)
	layout, err := describeTokenizer(c.Tokenizer)
	require.NoError(t, err)
	assert.Equal(t, []specialToken{{0, "<|pad|>"}, {1, "<|bos|>"}, {2, "<|user|>"}, {3, "<|assistant|>"}, {4, "<|end|>"}}, layout.SpecialTokens)
	assert.Equal(t, 5, layout.FirstOrdinaryID)
	assert.Equal(t, "IDs 0..4 are the special tokens; ID 5+i is the i-th rune of the tokenizer JSON's \"alphabet\" (one ID per rune; text with other runes cannot be encoded).", layout.IDLayout)
}

// TestChatTemplateDocMatchesRenderChat keeps the chat template's description true: its examples
// are what data.RenderChat renders.
func TestChatTemplateDocMatchesRenderChat(t *testing.T) {
	tok := tokenizer.NewChar("abehilnorfsumyt?c347+ ")
	render := func(msgs ...data.Message) string {
		ids, _, err := data.RenderChat(tok, msgs)
		require.NoError(t, err)
		text, err := tok.Decode(ids)
		require.NoError(t, err)
		return text
	}
	plain := render(data.Message{Role: data.RoleSystem, Content: "be brief"}, data.Message{Role: data.RoleUser, Content: "hi"},
		data.Message{Role: data.RoleAssistant, Content: "hello"})
	assert.Contains(t, chatTemplateDoc, "Example: "+plain+".")
	tools := render(data.Message{Role: data.RoleUser, Content: "sum?"}, data.Message{Role: data.RoleAssistant, Content: "let me see"},
		data.Message{Role: data.RoleToolCall, Content: "calc 3 + 4"}, data.Message{Role: data.RoleToolResult, Content: "7"},
		data.Message{Role: data.RoleAssistant, Content: "it is 7"})
	assert.Contains(t, chatTemplateDoc, "as in "+tools+";")
}
