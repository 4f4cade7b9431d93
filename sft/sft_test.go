package sft_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/sft"
	"github.com/tinychat-go/tinychat/train"
)

// TestSFTLearnsFormatAndRule fine-tunes a tiny pretrained model on "repeat WORD" dialogues;
// greedy replies to prompts with held-out words must end with <|end|> and repeat the word.
func TestSFTLearnsFormatAndRule(t *testing.T) {
	words := testutil.Words(180, 1)
	trainWords, heldOut := words[:150], words[150:]
	base := testutil.Pretrained(t, words, 400)
	out := filepath.Join(t.TempDir(), "sft.safetensors")
	res, err := sft.Train(context.Background(), sft.Config{
		Batch: 16, Steps: 400, LR: 1e-3, FormatPrompts: 30, Out: out, Progress: train.ProgressQuiet,
	}, base, sft.Data{Train: testutil.RepeatConversations(trainWords), Val: testutil.RepeatConversations(heldOut)})
	require.NoError(t, err)
	t.Logf("metrics: %v", res.Metrics)
	require.GreaterOrEqual(t, res.Metrics["format_rate"], 0.9)

	ck, err := model.LoadStage(out, model.StageSFT)
	require.NoError(t, err)
	baseSum, err := model.FileSHA256(base)
	require.NoError(t, err)
	require.Equal(t, baseSum, ck.Parent)
	asst, err := chat.NewAssistant(ck.Model, ck.Tokenizer, 1)
	require.NoError(t, err)
	right := 0
	for _, w := range heldOut {
		r, err := asst.Reply(context.Background(), testutil.RepeatPrompt(w), model.SampleConfig{MaxNewTokens: 12})
		require.NoError(t, err)
		if r.Ended && r.Text == w {
			right++
		}
	}
	t.Logf("held-out words repeated correctly: %d/%d", right, len(heldOut))
	require.GreaterOrEqual(t, right, len(heldOut)*8/10)

	// A non-pretrain checkpoint is refused.
	_, err = sft.Train(context.Background(), sft.Config{Out: filepath.Join(t.TempDir(), "x.safetensors")}, out, sft.Data{Train: testutil.RepeatConversations(trainWords)})
	require.ErrorContains(t, err, `is from the "sft" stage; this needs a pretrain checkpoint`)
}
