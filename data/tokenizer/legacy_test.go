package tokenizer

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLegacyChar restores a char tokenizer as checkpoints stored it before the tool tokens
// existed: 5 specials, ordinary IDs from 5, and the same JSON written back.
func TestLegacyChar(t *testing.T) {
	const old = `{"kind":"char","alphabet":" abc"}`
	tok, err := Unmarshal([]byte(old))
	require.NoError(t, err)
	assert.Equal(t, LegacyNumSpecial, NumSpecialOf(tok))
	assert.Equal(t, 9, tok.VocabSize())
	ids, err := tok.Encode("cab a")
	require.NoError(t, err)
	assert.Equal(t, []int32{8, 6, 7, 5, 6}, ids)
	got, err := tok.Decode([]int32{BOS, User, 8, 5, End, Assistant, 6, End, Pad})
	require.NoError(t, err)
	assert.Equal(t, "<|bos|><|user|>c <|end|><|assistant|>a<|end|><|pad|>", got)
	_, err = tok.Decode([]int32{9})
	assert.ErrorIs(t, err, ErrInvalidID)
	data, err := tok.MarshalJSON()
	require.NoError(t, err)
	assert.Equal(t, old, string(data))

	assert.False(t, IsSpecial(tok, ToolCall), "ID 5 is an ordinary token of an old tokenizer")
	assert.True(t, IsSpecial(tok, End))
	assert.Equal(t, `" "`, TokenString(tok, 5))
	assert.Equal(t, "<|end|>", TokenString(tok, End))
	assert.False(t, HasToolTokens(tok))
	err = RequireToolTokens(tok)
	assert.ErrorIs(t, err, ErrNoToolTokens)
	assert.EqualError(t, err, "tokenizer: no tool-call tokens: the tokenizer has the 5 special tokens of a checkpoint written before tool calls existed ([<|pad|> <|bos|> <|user|> <|assistant|> <|end|>]); tool calls, tool results and context turns need a model trained with a tokenizer of this version (10 specials)")
}

// TestLegacyBPE restores an old BPE tokenizer (the hand example as it was trained before the
// tool tokens: byte b has ID 5+b, merge i ID 261+i) and checks its encodings are unchanged.
func TestLegacyBPE(t *testing.T) {
	const old = `{"kind":"bpe","merges":[[102,102],[102,103],[261,262]]}`
	tok, err := Unmarshal([]byte(old))
	require.NoError(t, err)
	require.IsType(t, &BPE{}, tok)
	assert.Equal(t, LegacyNumSpecial, tok.(*BPE).Specials())
	assert.Equal(t, 264, tok.VocabSize())
	ids, err := tok.Encode("aaabdaaabac")
	require.NoError(t, err)
	assert.Equal(t, []int32{263, 5 + 'd', 263, 5 + 'a', 5 + 'c'}, ids)
	// A long chunk goes through the heap merge path.
	long := strings.Repeat("aaab", 20)
	ids, err = tok.Encode(long)
	require.NoError(t, err)
	assert.Len(t, ids, 20)
	for _, id := range ids {
		assert.Equal(t, int32(263), id)
	}
	ids, err = tok.Encode("<|tool_call|>\xff")
	require.NoError(t, err)
	for _, id := range ids {
		assert.GreaterOrEqual(t, int(id), LegacyNumSpecial)
	}
	got, err := tok.Decode(append(ids, End))
	require.NoError(t, err)
	assert.Equal(t, "<|tool_call|>\xff<|end|>", got)
	data, err := tok.MarshalJSON()
	require.NoError(t, err)
	assert.Equal(t, old, string(data))
	strs, err := TokenStrings(tok.(*BPE))
	require.NoError(t, err)
	assert.Equal(t, SpecialNames[:LegacyNumSpecial], strs[:LegacyNumSpecial])
	assert.Equal(t, "a", strs[5+'a'])
	assert.Equal(t, "aaab", strs[263])
	_, err = tok.(*BPE).TokenBytes(4)
	assert.ErrorIs(t, err, ErrInvalidID)
	b, err := tok.(*BPE).TokenBytes(5)
	require.NoError(t, err)
	assert.Equal(t, []byte{0}, b)
	assert.Error(t, RequireToolTokens(tok))

	// GPT-2 pre-splitting is kept for an old tokenizer too.
	g, err := Unmarshal([]byte(`{"kind":"bpe","merges":[],"pre":"gpt2"}`))
	require.NoError(t, err)
	assert.Equal(t, PreSplitGPT2, g.(*BPE).PreSplit())
	assert.Equal(t, LegacyNumSpecial, NumSpecialOf(g))
}

// TestToolTokens checks the tool tokens of a new tokenizer: they decode to their names,
// Encode never produces them, and the JSON records the special-token set.
func TestToolTokens(t *testing.T) {
	assert.Equal(t, "<|tool_call|>", SpecialNames[ToolCall])
	assert.Equal(t, "<|tool_call_end|>", SpecialNames[ToolCallEnd])
	assert.Equal(t, "<|tool_result|>", SpecialNames[ToolResult])
	assert.Equal(t, "<|tool_result_end|>", SpecialNames[ToolResultEnd])
	assert.Equal(t, "<|context|>", SpecialNames[Context])
	for _, tok := range []Tokenizer{NewChar(strings.Join(SpecialNames[:], "")), fuzzTokenizer(t)} {
		assert.Equal(t, NumSpecial, NumSpecialOf(tok))
		assert.True(t, HasToolTokens(tok))
		assert.NoError(t, RequireToolTokens(tok))
		assert.True(t, IsSpecial(tok, Context))
		assert.False(t, IsSpecial(tok, NumSpecial))
		assert.False(t, IsSpecial(tok, -1))
		got, err := tok.Decode([]int32{ToolCall, ToolCallEnd, ToolResult, ToolResultEnd, Context})
		require.NoError(t, err)
		assert.Equal(t, "<|tool_call|><|tool_call_end|><|tool_result|><|tool_result_end|><|context|>", got)
		assert.Equal(t, "<|context|>", TokenString(tok, Context))
		data, err := tok.MarshalJSON()
		require.NoError(t, err)
		assert.Contains(t, string(data), `"specials":10`)
		back, err := Unmarshal(data)
		require.NoError(t, err)
		assert.Equal(t, NumSpecial, NumSpecialOf(back))
		assert.Equal(t, tok.VocabSize(), back.VocabSize())
	}
	assert.Equal(t, 0, NumSpecialOf(nil))
	assert.Equal(t, "<|invalid:4|>", TokenString(nil, 4))
}
