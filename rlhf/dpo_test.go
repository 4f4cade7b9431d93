package rlhf

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/model"
)

func msg(role, content string) data.Message { return data.Message{Role: role, Content: content} }

// TestTurnRowWeighsWhatTheAssistantWrites: a tool turn's DPO row weighs the tool call, the
// final text and <|end|>, not the tool result; a turn is kept only while the row holds all of
// it.
func TestTurnRowWeighsWhatTheAssistantWrites(t *testing.T) {
	tok := testutil.Tokenizer() // 'a' is 10, ..., 'z' 35, ' ' 36, '.' 37, '?' 40
	const (
		bos, usr, asst, end                 = tokenizer.BOS, tokenizer.User, tokenizer.Assistant, tokenizer.End
		call, callEnd, result, resultEnd    = tokenizer.ToolCall, tokenizer.ToolCallEnd, tokenizer.ToolResult, tokenizer.ToolResultEnd
		k, i, b, o, l, r, d, sp, dot, qmark = 20, 18, 11, 24, 21, 27, 13, 36, 37, 40
	)
	ids := []int32{
		bos, usr, k, i, b, o, qmark, end, // <|bos|><|user|>kibo?<|end|>: indices 0-7
		asst, call, l, o, o, k, sp, k, i, b, o, callEnd, // 8-19
		result, b, i, r, d, resultEnd, // 20-25, written by the runtime
		b, i, r, d, dot, end, // 26-31
	}
	prompt := []data.Message{msg(data.RoleUser, "kibo?")}
	turn := []data.Message{msg(data.RoleToolCall, "look kibo"), msg(data.RoleToolResult, "bird"), msg(data.RoleAssistant, "bird.")}

	row, ok, err := turnRow(tok, prompt, turn, 40)
	require.NoError(t, err)
	require.True(t, ok)
	pad := func(x []int32, n int) []int32 { return append(append([]int32(nil), x...), make([]int32, n-len(x))...) }
	weights := func(runs ...int) []float32 { // alternating runs of 0 and 1, from 0
		var w []float32
		for j, n := range runs {
			for range n {
				w = append(w, float32(j%2))
			}
		}
		return w
	}
	require.Equal(t, pad(ids[:31], 40), row.Tokens)
	require.Equal(t, pad(ids[1:], 40), row.Targets)
	// Targets 1-8 (prompt, <|assistant|>) 0; 9-19 (the call) 1; 20-25 (the result) 0;
	// 26-31 (the reply and <|end|>) 1; padding 0.
	require.Equal(t, weights(8, 11, 6, 6, 9), row.Weights)

	// 23 predictions keep the turn from its <|assistant|> on (cut from the left); 22 would
	// cut the turn's <|assistant|> and the row is left out.
	row, ok, err = turnRow(tok, prompt, turn, 23)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, ids[8:31], row.Tokens)
	require.Equal(t, weights(0, 11, 6, 6), row.Weights)
	_, ok, err = turnRow(tok, prompt, turn, 22)
	require.NoError(t, err)
	require.False(t, ok)

	// Earlier assistant turns of the prompt weigh nothing: only the response counts.
	row, ok, err = turnRow(tok, []data.Message{msg(data.RoleUser, "a"), msg(data.RoleAssistant, "b"), msg(data.RoleUser, "c")},
		[]data.Message{msg(data.RoleAssistant, "d")}, 16)
	require.NoError(t, err)
	require.True(t, ok)
	// <|bos|><|user|>a<|end|><|assistant|>b<|end|><|user|>c<|end|><|assistant|>d<|end|>
	require.Equal(t, weights(10, 2, 4), row.Weights)
}

// TestTurnRowOfTextAsBefore: a text reply after a one-turn prompt gives the row DPO trained on
// before rankings could hold turns (the chat template's mask, fitted to the block).
func TestTurnRowOfTextAsBefore(t *testing.T) {
	tok := testutil.Tokenizer()
	prompts := [][]data.Message{
		testutil.RepeatPrompt("kibo"),
		{msg(data.RoleSystem, "be brief."), msg(data.RoleUser, "repeat dasu")},
	}
	for _, prompt := range prompts {
		for _, reply := range []string{"kibo", "", "a long reply that runs past the end of the block"} {
			for _, block := range []int{40, 30} {
				ids, mask, err := data.RenderChat(tok, append(append([]data.Message(nil), prompt...), msg(data.RoleAssistant, reply)))
				require.NoError(t, err)
				want, _, wantOK := data.FitBlock(ids, mask, block)
				got, ok, err := turnRow(tok, prompt, []data.Message{msg(data.RoleAssistant, reply)}, block)
				require.NoError(t, err)
				require.Equal(t, wantOK, ok, "%q %q %d", prompt, reply, block)
				require.Equal(t, want, got, "%q %q %d", prompt, reply, block)
			}
		}
	}
}

func TestMakePairsErrors(t *testing.T) {
	tok := testutil.Tokenizer()
	cfg := testutil.TinyConfig()
	cfg.VocabSize = tok.VocabSize()
	m, err := model.New(cfg, 1)
	require.NoError(t, err)
	refG, err := m.NewGraph(model.GraphConfig{Batch: 2, Block: cfg.BlockSize, Objective: model.LogProbs})
	require.NoError(t, err)
	prompt := testutil.RepeatPrompt("kibo")
	for _, tc := range []struct {
		r    data.Ranking
		want string
	}{
		{data.Ranking{Source: "s:1", Prompt: prompt, Responses: []string{"kibo", "kibo"}}, "rlhf: s:1: responses 0 and 1 are identical"},
		{data.Ranking{Source: "s:2", Prompt: prompt, Turns: [][]data.Message{{msg(data.RoleAssistant, "a"), msg(data.RoleAssistant, "b")}, {msg(data.RoleAssistant, "c")}}},
			"rlhf: s:2: response 0: message 1 is an assistant message right after another, which would open a second turn"},
		{data.Ranking{Source: "s:3", Prompt: prompt, Responses: []string{"kibo", "KIBO"}},
			"rlhf: s:3: response 1: message 1 (assistant): encoding: tokenizer: unknown character 'K' (U+004B) at byte offset 0"},
	} {
		_, err := makePairs(context.Background(), tok, []data.Ranking{tc.r}, refG)
		require.EqualError(t, err, tc.want)
	}
	// A pair whose turn does not fit the block is left out; the others stay.
	long := data.Ranking{Source: "s:4", Prompt: prompt, Responses: []string{"kibo", "a reply far too long for the block of forty", ""}}
	pairs, err := makePairs(context.Background(), tok, []data.Ranking{long}, refG)
	require.NoError(t, err)
	require.Len(t, pairs, 1) // (0, 2)
	require.NotZero(t, pairs[0].refC)
}
