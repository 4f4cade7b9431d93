package rlhf_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/reward"
	"github.com/tinychat-go/tinychat/rlhf"
	"github.com/tinychat-go/tinychat/train"
)

// TestShorterRowsTrainTheSame: GRPO and PPO with rows just long enough for the toy's prompts
// and replies (Block) sample the same replies and log the same scores and KL, iteration by
// iteration, as with rows of the model's whole block: causal attention makes the padding
// after a reply irrelevant to the positions before it, so only float32 summation order
// differs. Every rollout fits, so none is cropped. So do they with each minibatch's rollouts
// packed into rows of the model's block (the default; the other runs are Unpacked), each
// attending only to itself, on fewer rows than the minibatch's 4.
func TestShorterRowsTrainTheSame(t *testing.T) {
	_, ck, _, prompts := ppoSetup(t, testutil.Words(40, 3), 40)
	ids, err := ck.Tokenizer.Encode("a")
	require.NoError(t, err)
	scorer := countScorer{tok: int32(ids[0])}
	longest := 0
	for _, p := range prompts {
		toks, err := data.RenderPrompt(ck.Tokenizer, p)
		require.NoError(t, err)
		longest = max(longest, len(toks))
	}
	const reply = 6
	block := longest + reply - 1 // the tightest rows that hold every prompt and reply
	require.Less(t, block, ck.Model.Config.BlockSize, "the test needs rows shorter than the model's block")
	dir := t.TempDir()

	grpo := rlhf.DefaultGRPOConfig()
	grpo.Steps, grpo.Batch, grpo.Group, grpo.MiniBatch, grpo.MaxReplyTokens, grpo.LR = 3, 2, 4, 4, reply, 2e-4
	ppo := rlhf.DefaultPPOConfig()
	ppo.Steps, ppo.Batch, ppo.MiniBatch, ppo.MaxReplyTokens, ppo.LR = 3, 8, 4, reply, 2e-4
	run := func(name string, rows int, unpacked bool) []map[string]float64 {
		var out string
		file := filepath.Join(dir, fmt.Sprintf("%s-%d-%v.safetensors", name, rows, unpacked))
		if name == "grpo" {
			cfg := grpo
			cfg.Block, cfg.Unpacked, cfg.Out = rows, unpacked, file
			_, err := rlhf.TrainGroup(context.Background(), cfg, ck, scorer, "toy", prompts)
			require.NoError(t, err)
			out = cfg.Out
		} else {
			cfg := ppo
			cfg.Block, cfg.Unpacked, cfg.Out = rows, unpacked, file
			v, err := reward.NewModel(ck.Model, 9) // PPO trains its value model in place
			require.NoError(t, err)
			_, err = rlhf.PPO(context.Background(), cfg, ck, v, scorer, "toy", prompts)
			require.NoError(t, err)
			out = cfg.Out
		}
		h, err := train.ReadMetrics(train.MetricsPath(out))
		require.NoError(t, err)
		require.Len(t, h, 3)
		return h
	}
	same := func(name string, a, b []map[string]float64) {
		t.Helper()
		for i := range a {
			for _, k := range []string{"score", "reply_len", "ended_rate"} {
				require.Equal(t, a[i][k], b[i][k], "%s iteration %d: %s", name, i+1, k)
			}
			require.InDelta(t, a[i]["kl"], b[i]["kl"], 1e-3, "%s iteration %d: kl", name, i+1)
			require.Zero(t, b[i]["cropped"], "%s iteration %d", name, i+1)
		}
	}
	for _, name := range []string{"grpo", "ppo"} {
		whole, short := run(name, 0, true), run(name, block, true)
		same(name, whole, short)
		// Packed, the minibatch's rollouts share rows of the model's block: the same again,
		// on fewer rows.
		packed := run(name, 0, false)
		same(name+" packed", whole, packed)
		for i := range packed {
			require.Equal(t, 4.0, whole[i]["rows"])
			require.Less(t, packed[i]["rows"], 4.0, "%s iteration %d: rows", name, i+1)
		}
	}
}

// TestRowsConfigErrors: a Block outside 0..the model's block, a reply that does not fit the
// rows, and a prompt too long for them are refused before anything is trained.
func TestRowsConfigErrors(t *testing.T) {
	_, ck, value, prompts := ppoSetup(t, testutil.Words(6, 3), 10)
	T := ck.Model.Config.BlockSize
	cfg := rlhf.DefaultPPOConfig()
	cfg.Steps, cfg.Batch, cfg.MiniBatch, cfg.MaxReplyTokens = 1, 4, 4, 6
	cfg.Out = filepath.Join(t.TempDir(), "ppo.safetensors")
	for _, tc := range []struct {
		block, reply int
		want         string
	}{
		{-1, 6, "rlhf: Block is -1, want 0 (the model's) or 1..40 (the model's block size)"},
		{T + 1, 6, "rlhf: Block is 41, want 0 (the model's) or 1..40"},
		{6, 6, "rlhf: MaxReplyTokens is 6, want 1..5 (below the rows' length, which bounds every reply)"},
		{8, 6, "rlhf: prompt 0 has "},
	} {
		c := cfg
		c.Block, c.MaxReplyTokens = tc.block, tc.reply
		_, err := rlhf.PPO(context.Background(), c, ck, value, countScorer{}, "toy", prompts)
		require.ErrorContains(t, err, tc.want)
		g := rlhf.DefaultGRPOConfig()
		g.Steps, g.Batch, g.Group, g.MiniBatch, g.MaxReplyTokens, g.Block, g.Out = 1, 2, 2, 4, tc.reply, tc.block, c.Out
		_, err = rlhf.TrainGroup(context.Background(), g, ck, countScorer{}, "toy", prompts)
		require.ErrorContains(t, err, tc.want)
	}
	require.NoFileExists(t, cfg.Out)

	// RolloutBlock gives the tightest multiple of 8 that PPO accepts.
	rows, err := rlhf.RolloutBlock(ck.Tokenizer, prompts, 6)
	require.NoError(t, err)
	longest := 0
	for _, p := range prompts {
		toks, err := data.RenderPrompt(ck.Tokenizer, p)
		require.NoError(t, err)
		longest = max(longest, len(toks))
	}
	require.Equal(t, (longest+5+7)/8*8, rows)
	c := cfg
	c.Block = rows
	_, err = rlhf.PPO(context.Background(), c, ck, value, countScorer{}, "toy", prompts)
	require.NoError(t, err)
	_, err = rlhf.RolloutBlock(ck.Tokenizer, prompts, 0)
	require.ErrorContains(t, err, "rlhf: maxReplyTokens is 0, want > 0")
	_, err = rlhf.RolloutBlock(ck.Tokenizer, nil, 6)
	require.ErrorContains(t, err, "rlhf: no prompts")
	_, err = rlhf.RolloutBlock(ck.Tokenizer, [][]data.Message{{}}, 6)
	require.ErrorContains(t, err, "rlhf: prompt 0: ")

	d := rlhf.DefaultDPOConfig()
	d.Block, d.Out = T+1, cfg.Out
	_, err = rlhf.TrainDPO(context.Background(), d, ck, nil, nil)
	require.ErrorContains(t, err, "rlhf: Block is 41, want 0 (the model's) or 1..40 (the model's block size)")
}
