package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/model"
)

// result is what one run of the program gave.
type result struct {
	code           int
	stdout, stderr string
}

// runChat runs the program with args and stdin.
func runChat(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// TestChat trains one tiny SFT model that repeats words and drives the program with it.
func TestChat(t *testing.T) {
	words := testutil.Words(60, 7)
	ckpt := testutil.FineTuned(t, words, 300)
	w0, w1 := words[0], words[1]

	t.Run("prompt", func(t *testing.T) {
		r := runChat(t, "", "-ckpt", ckpt, "-temperature", "0", "-prompt", "repeat "+w0)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Empty(t, r.stderr)
		assert.Equal(t, w0+"\n", r.stdout, "the reply only, on one line")
	})

	t.Run("prompt sampling is reproducible", func(t *testing.T) {
		args := []string{"-ckpt", ckpt, "-temperature", "0.8", "-top-k", "5", "-top-p", "0.9", "-seed", "7", "-max-tokens", "8", "-prompt", "repeat " + w1}
		a, b := runChat(t, "", args...), runChat(t, "", args...)
		require.Equal(t, 0, a.code, a.stderr)
		assert.Equal(t, a, b)
		assert.Equal(t, 1, strings.Count(a.stdout, "\n"))
		assert.True(t, strings.HasSuffix(a.stdout, "\n"))
	})

	t.Run("repl", func(t *testing.T) {
		r := runChat(t, "repeat "+w0+"\n/reset\nrepeat "+w1+"\n/quit\nrepeat never read\n", "-ckpt", ckpt, "-temperature", "0")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Empty(t, r.stderr)
		lines := strings.Split(r.stdout, "\n")
		require.GreaterOrEqual(t, len(lines), 5, r.stdout)
		assert.Contains(t, lines[0], "sft model")
		assert.Contains(t, lines[0], "char tokenizer")
		assert.Contains(t, lines[0], "parameters")
		assert.Equal(t, []string{"> " + w0, "> (conversation cleared)", "> " + w1, "> "}, lines[2:], r.stdout)
	})

	t.Run("repl multi-turn and EOF", func(t *testing.T) {
		r := runChat(t, "repeat "+w0+"\n\n  \nrepeat "+w1, "-ckpt", ckpt, "-temperature", "0")
		require.Equal(t, 0, r.code, r.stderr)
		lines := strings.Split(r.stdout, "\n")
		assert.Equal(t, []string{"> " + w0, "> > > " + w1, "> ", ""}, lines[2:], r.stdout)
	})

	t.Run("repl commands and bad messages", func(t *testing.T) {
		// Upper case is outside the char tokenizer's alphabet: reported, and the REPL goes on.
		r := runChat(t, "REPEAT\n/help\nrepeat "+w0+"\n", "-ckpt", ckpt, "-temperature", "0")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stderr, "cannot encode the message")
		assert.Contains(t, r.stdout, "unknown command /help")
		assert.Contains(t, r.stdout, "> "+w0+"\n")

		r = runChat(t, "", "-ckpt", ckpt, "-prompt", "REPEAT")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "cannot encode the message")
		assert.Empty(t, r.stdout)
	})

	t.Run("system message", func(t *testing.T) {
		r := runChat(t, "", "-ckpt", ckpt, "-temperature", "0", "-system", "be brief.", "-prompt", "repeat "+w0)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, 1, strings.Count(r.stdout, "\n"))

		r = runChat(t, "", "-ckpt", ckpt, "-system", "BE BRIEF", "-prompt", "repeat "+w0)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "-system message")
	})

	t.Run("load", func(t *testing.T) {
		r := runChat(t, "", "-load", "2", "-load-requests", "3", "-max-tokens", "4", "-ckpt", ckpt)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "batched (max batch 8)    3 requests, 0 errors")
		assert.Contains(t, r.stdout, "unbatched (max batch 1)  3 requests, 0 errors")
	})

	t.Run("history", func(t *testing.T) {
		ck, err := model.LoadStage(ckpt, model.StageSFT)
		require.NoError(t, err)
		s, err := newSession(ck, options{maxTokens: 8, seed: 1}, extras{}, &bytes.Buffer{})
		require.NoError(t, err)
		require.Equal(t, ck.Model.Config.BlockSize-8, s.limit)
		var out bytes.Buffer
		text, err := s.reply(context.Background(), "repeat "+w0, &out)
		require.NoError(t, err)
		assert.Equal(t, w0, text)
		assert.Equal(t, w0, out.String(), "streamed as generated")
		assert.Equal(t, []data.Message{{Role: data.RoleUser, Content: "repeat " + w0}, {Role: data.RoleAssistant, Content: w0}}, s.history)

		// With room, the previous turns are part of the prompt…
		s.limit = 1000
		msgs, _, dropped, err := s.fit(nil, nil, "repeat "+w1)
		require.NoError(t, err)
		assert.Zero(t, dropped)
		assert.Equal(t, append(s.history[:2:2], data.Message{Role: data.RoleUser, Content: "repeat " + w1}), msgs)
		// …without, the oldest exchange is dropped.
		s.limit = 20
		msgs, p, dropped, err := s.fit(nil, nil, "repeat "+w1)
		require.NoError(t, err)
		assert.Equal(t, 2, dropped)
		assert.Equal(t, []data.Message{{Role: data.RoleUser, Content: "repeat " + w1}}, msgs)
		assert.LessOrEqual(t, len(p), 20)
		_, err = s.reply(context.Background(), "repeat "+w1, nil)
		require.NoError(t, err)
		assert.Len(t, s.history, 2)
		s.reset()
		assert.Empty(t, s.history)
	})

	t.Run("corrupt checkpoint", func(t *testing.T) {
		dir := t.TempDir()
		garbage := filepath.Join(dir, "garbage.safetensors")
		require.NoError(t, os.WriteFile(garbage, []byte("this is not a checkpoint"), 0o644))
		raw, err := os.ReadFile(ckpt)
		require.NoError(t, err)
		truncated := filepath.Join(dir, "truncated.safetensors")
		require.NoError(t, os.WriteFile(truncated, raw[:len(raw)/2], 0o644))
		for _, path := range []string{garbage, truncated, filepath.Join(dir, "missing.safetensors")} {
			r := runChat(t, "repeat "+w0+"\n", "-ckpt", path)
			assert.Equal(t, 1, r.code, path)
			assert.Contains(t, r.stderr, path)
			assert.Empty(t, r.stdout)
		}
	})
}

// TestServe serves two checkpoints (a pretrained one too) until interrupted, and measures one
// with -load.
func TestServe(t *testing.T) {
	base := testutil.Pretrained(t, testutil.Words(20, 1), 20)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve, then shut down at once
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"-serve", "127.0.0.1:0", "-ckpt", base, "-ckpt", "other=" + base}, strings.NewReader(""), &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	assert.Contains(t, errOut.String(), "name=pretrain stage=pretrain")
	assert.Contains(t, errOut.String(), "name=other stage=pretrain")
	assert.Contains(t, errOut.String(), "chat page")
	assert.NotContains(t, errOut.String(), "WARN", "loopback")
	assert.Empty(t, out.String())

	r := runChat(t, "", "-serve", "127.0.0.1:0", "-ckpt", base, "-ckpt", base)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `two models are named "pretrain"`)
	r = runChat(t, "", "-serve", "127.0.0.1:0", "-ckpt", filepath.Join(t.TempDir(), "missing.safetensors"))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "missing.safetensors")

	r = runChat(t, "", "-load", "2", "-ckpt", base)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `-load needs a chat (sft or rlhf) checkpoint`)
}

// TestWrongStage refuses a pretrained checkpoint.
func TestWrongStage(t *testing.T) {
	path := testutil.Pretrained(t, testutil.Words(20, 1), 20)
	for _, args := range [][]string{{"-ckpt", path}, {"-ckpt", path, "-prompt", "repeat kibo"}} {
		r := runChat(t, "repeat kibo\n", args...)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, path)
		assert.Contains(t, r.stderr, `is from the "pretrain" stage; this needs a sft or rlhf checkpoint`)
		assert.Empty(t, r.stdout)
	}
}

// TestUsage checks the flag errors.
func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "-ckpt is required"},
		{[]string{"-ckpt", "x", "extra"}, "unexpected arguments"},
		{[]string{"-ckpt", "x", "-temperature", "-1"}, "-temperature must be"},
		{[]string{"-ckpt", "x", "-temperature", "NaN"}, "-temperature must be"},
		{[]string{"-ckpt", "x", "-top-k", "-2"}, "-top-k must be"},
		{[]string{"-ckpt", "x", "-top-p", "1.5"}, "-top-p must be"},
		{[]string{"-ckpt", "x", "-max-tokens", "0"}, "-max-tokens must be"},
		{[]string{"-ckpt", "x", "-seed", "-1"}, "invalid value"},
		{[]string{"-bogus"}, "not defined"},
		{[]string{"-ckpt", "x", "-ckpt", "y"}, "several -ckpt are for -serve only"},
		{[]string{"-ckpt", "x", "-serve", "127.0.0.1:0", "-prompt", "hi"}, "-serve does not go with -prompt or -load"},
		{[]string{"-ckpt", "x", "-max-batch", "0"}, "-max-batch must be >= 1"},
		{[]string{"-ckpt", "x", "-lanes", "-1"}, "-lanes must be >= 0, got -1"},
		{[]string{"-ckpt", "x", "-load", "-1"}, "-load must be >= 0"},
	} {
		r := runChat(t, "", tc.args...)
		assert.Equal(t, 2, r.code, tc.args)
		assert.Contains(t, r.stderr, tc.want, tc.args)
		assert.Contains(t, r.stderr, "usage: chat -ckpt PATH", tc.args)
		assert.Empty(t, r.stdout)
	}
	r := runChat(t, "", "-h")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stderr, "usage: chat -ckpt PATH")
}

func TestFormatCount(t *testing.T) {
	for n, want := range map[int]string{0: "0", 950: "950", 61584: "61.6K", 999_999: "1.0M", 124_439_808: "124.4M", 1_500_000_000: "1.5B"} {
		assert.Equal(t, want, formatCount(n), n)
	}
}
