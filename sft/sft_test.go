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
)

// TestSFTLearnsFormatAndRule fine-tunes a tiny pretrained model on "repeat WORD" dialogues;
// greedy replies to prompts with held-out words must end with <|end|> and repeat the word.
func TestSFTLearnsFormatAndRule(t *testing.T) {
	words := testutil.Words(180, 1)
	trainWords, heldOut := words[:150], words[150:]
	base := testutil.Pretrained(t, words, 400)
	out := filepath.Join(t.TempDir(), "sft.safetensors")
	cfg := sft.DefaultConfig()
	cfg.Steps, cfg.LR, cfg.WarmupSteps, cfg.FormatPrompts, cfg.Seed, cfg.Out = 400, 1e-3, 20, 30, 1, out
	res, err := sft.TrainFile(context.Background(), cfg, base, sft.Data{Train: testutil.RepeatConversations(trainWords), Val: testutil.RepeatConversations(heldOut)})
	require.NoError(t, err)
	t.Logf("metrics: %v", res.Metrics)
	require.GreaterOrEqual(t, res.Metrics["format_rate"], 0.9)

	ck, err := model.LoadStage(out, model.StageSFT)
	require.NoError(t, err)
	baseCk, err := model.LoadCheckpoint(base)
	require.NoError(t, err)
	baseID, err := baseCk.Fingerprint()
	require.NoError(t, err)
	require.Equal(t, baseID, ck.Parent)
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
	// SFT on an SFT checkpoint, in memory, works (chaining without files); a reward model is
	// refused.
	more := cfg
	more.Steps, more.WarmupSteps, more.FormatPrompts, more.Out = 5, 0, 0, filepath.Join(t.TempDir(), "sft2.safetensors")
	res2, err := sft.Train(context.Background(), more, res.Checkpoint, sft.Data{Train: testutil.RepeatConversations(trainWords)})
	require.NoError(t, err)
	require.Equal(t, 5, res2.Steps)
	rm := *res.Checkpoint
	rm.Stage = model.StageReward
	_, err = sft.Train(context.Background(), more, &rm, sft.Data{Train: testutil.RepeatConversations(trainWords)})
	require.ErrorContains(t, err, `sft: the parent checkpoint is from the "reward" stage; SFT starts from a pretrain or sft checkpoint`)

	// Unbounded generation is refused before any work (the block bounds every reply).
	bad := more
	bad.FormatPrompts, bad.MaxReplyTokens = 10, 100000
	_, err = sft.Train(context.Background(), bad, res.Checkpoint, sft.Data{Train: testutil.RepeatConversations(trainWords)})
	require.ErrorContains(t, err, "sft: MaxReplyTokens is 100000, want 1..")
}

// TestPackedMatchesUnpacked: packed and unpacked SFT from the same checkpoint and seed draw the
// same samples and compute the same loss up to float32 rounding, so their held-out losses
// after 60 steps agree to 0.1% (1e-7 on the development machine); packing the short "repeat"
// dialogues takes 10 rows a step instead of 16 (a quarter of them pretraining windows, which
// take whole rows).
func TestPackedMatchesUnpacked(t *testing.T) {
	words := testutil.Words(180, 1)
	base := testutil.Pretrained(t, words, 400)
	ck, err := model.LoadCheckpoint(base)
	require.NoError(t, err)
	pretrain, err := ck.Tokenizer.Encode(testutil.RepeatText(words))
	require.NoError(t, err)
	run := func(unpacked bool) map[string]float64 {
		cfg := sft.DefaultConfig()
		cfg.Steps, cfg.LR, cfg.WarmupSteps, cfg.FormatPrompts, cfg.Seed = 60, 1e-3, 5, 0, 1
		cfg.PretrainMix, cfg.Unpacked, cfg.Out = 0.25, unpacked, filepath.Join(t.TempDir(), "sft.safetensors")
		res, err := sft.Train(context.Background(), cfg, ck, sft.Data{Train: testutil.RepeatConversations(words[:150]),
			Val: testutil.RepeatConversations(words[150:]), Pretrain: pretrain})
		require.NoError(t, err)
		return res.Metrics
	}
	packed, unpacked := run(false), run(true)
	t.Logf("packed %v\nunpacked %v", packed, unpacked)
	require.Equal(t, 16.0, unpacked["rows_per_step"])
	require.Less(t, packed["rows_per_step"], 12.0)
	require.InEpsilon(t, unpacked["val_loss"], packed["val_loss"], 1e-3)
}
