package export

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/internal/extools"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/model/safetensors"
)

// randomCheckpoint is a small model with random weights (biases too when cfg asks for them).
func randomCheckpoint(t *testing.T, cfg model.Config, stage model.Stage) *model.Checkpoint {
	t.Helper()
	tok, err := tokenizer.TrainBPE("hello world, hello there! 123 456\n\n  ok ok", tokenizer.BPEConfig{VocabSize: tokenizer.MinBPEVocabSize + 20})
	require.NoError(t, err)
	cfg.VocabSize = tok.VocabSize()
	m, err := model.New(cfg, 3)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, p := range m.Params {
		for i := range p.Data {
			p.Data[i] += float32(rng.NormFloat64() * 0.1)
		}
	}
	return &model.Checkpoint{Stage: stage, Model: m, Tokenizer: tok}
}

func requireSameCheckpoint(t *testing.T, want, got *model.Checkpoint) {
	t.Helper()
	require.Equal(t, want.Stage, got.Stage)
	require.Equal(t, want.Model.Config, got.Model.Config)
	wj, err := want.Tokenizer.MarshalJSON()
	require.NoError(t, err)
	gj, err := got.Tokenizer.MarshalJSON()
	require.NoError(t, err)
	require.JSONEq(t, string(wj), string(gj))
	require.Len(t, got.Model.Params, len(want.Model.Params))
	for i, p := range want.Model.Params {
		q := got.Model.Params[i]
		require.Equal(t, p.Name, q.Name)
		require.Equal(t, p.Shape, q.Shape, p.Name)
		require.Equal(t, p.Data, q.Data, "%s differs", p.Name)
	}
}

func TestHFRoundTrip(t *testing.T) {
	base := model.Config{BlockSize: 16, Layers: 2, Heads: 2, Width: 8}
	for _, c := range []struct {
		name  string
		edit  func(*model.Config)
		stage model.Stage
	}{
		{"plain", func(*model.Config) {}, model.StagePretrain},
		{"biases", func(c *model.Config) { c.LinearBias = true }, model.StageSFT},
		{"untied", func(c *model.Config) { c.UntiedHead = true }, model.StageRLHF},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := base
			c.edit(&cfg)
			ck := randomCheckpoint(t, cfg, c.stage)
			dir := filepath.Join(t.TempDir(), "hf")
			require.NoError(t, WriteHF(context.Background(), dir, ck))
			got, err := ReadHF(context.Background(), dir)
			require.NoError(t, err)
			requireSameCheckpoint(t, ck, got)
			for _, f := range []string{HFConfigFile, HFWeightsFile, HFTokenizerFile, HFTokenizerConfigFile, HFSpecialTokensFile, HFGenerationConfigFile} {
				require.FileExists(t, filepath.Join(dir, f))
			}
			st, err := safetensors.ReadFile(filepath.Join(dir, HFWeightsFile))
			require.NoError(t, err)
			_, hasHead := st.Get("lm_head.weight")
			require.Equal(t, cfg.UntiedHead, hasHead)
			bias, ok := st.Get("transformer.h.1.mlp.c_fc.bias")
			require.True(t, ok, "every bias is written, zeros where the model has none")
			require.Equal(t, []int{4 * cfg.Width}, bias.Shape)
			var hc map[string]any
			raw, err := os.ReadFile(filepath.Join(dir, HFConfigFile))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(raw, &hc))
			require.Equal(t, "gelu_new", hc["activation_function"])
			require.Equal(t, float64(cfg.BlockSize), hc["n_positions"])
			require.Equal(t, !cfg.UntiedHead, hc["tie_word_embeddings"])
		})
	}
}

func TestHFRefusals(t *testing.T) {
	ck := randomCheckpoint(t, model.Config{BlockSize: 8, Layers: 1, Heads: 1, Width: 4, ScalarHead: true}, model.StageReward)
	err := WriteHF(context.Background(), t.TempDir(), ck)
	require.ErrorIs(t, err, ErrUnsupported)
	require.ErrorContains(t, err, "scalar head")
	err = WriteGGUF(context.Background(), filepath.Join(t.TempDir(), "x.gguf"), ck, GGUFOptions{})
	require.ErrorIs(t, err, ErrUnsupported)

	char := tokenizer.NewChar("abc")
	m, err := model.New(model.Config{VocabSize: char.VocabSize(), BlockSize: 8, Layers: 1, Heads: 1, Width: 4}, 1)
	require.NoError(t, err)
	err = WriteGGUF(context.Background(), filepath.Join(t.TempDir(), "x.gguf"), &model.Checkpoint{Stage: model.StagePretrain, Model: m, Tokenizer: char}, GGUFOptions{})
	require.ErrorIs(t, err, ErrUnsupported)
	require.ErrorContains(t, err, `tokenizer is "char"`)
}

// TestHFClients renders multi-turn conversations with the exported chat template through
// @huggingface/jinja and tokenizes the text with the exported tokenizer.json through
// @huggingface/tokenizers: the text must be exactly our template's tokens decoded, and the IDs
// exactly our template's IDs.
func TestHFClients(t *testing.T) {
	nm, node := extools.NodeModules(t, "@huggingface/jinja", "@huggingface/tokenizers")
	ck := trainedCheckpoint(t)
	dir := filepath.Join(t.TempDir(), "hf")
	require.NoError(t, WriteHF(context.Background(), dir, ck))
	convs := [][]data.Message{
		testChats[0], testChats[1], append(append([]data.Message{}, testChats[2]...), testChats[3]...),
		{{Role: data.RoleSystem, Content: "Answer in French.\nBe kind."}, {Role: data.RoleUser, Content: "  hi  "}, {Role: data.RoleAssistant, Content: "Salut ! 😀"}, {Role: data.RoleUser, Content: "1234567?"}, {Role: data.RoleAssistant, Content: ""}},
		{{Role: data.RoleUser, Content: "what is 347 + 28?"}, {Role: data.RoleToolCall, Content: "calc 347 + 28"}, {Role: data.RoleToolResult, Content: "375"}, {Role: data.RoleAssistant, Content: "It is 375."}},
		{{Role: data.RoleUser, Content: "and 2 + 2, then 3 * 3?"}, {Role: data.RoleAssistant, Content: "Let me check."}, {Role: data.RoleToolCall, Content: "calc 2 + 2"}, {Role: data.RoleToolResult, Content: "4"},
			{Role: data.RoleToolCall, Content: "calc 3 * 3"}, {Role: data.RoleToolResult, Content: "9"}, {Role: data.RoleAssistant, Content: "4 and 9."}, {Role: data.RoleUser, Content: "thanks"}, {Role: data.RoleAssistant, Content: "You're welcome!"}},
		{{Role: data.RoleContext, Content: "Ada lives in Rome.\nBob lives in Oslo."}, {Role: data.RoleUser, Content: "where does Ada live?"}, {Role: data.RoleAssistant, Content: "In Rome."}},
	}
	type job struct {
		Messages   []data.Message `json:"messages"`
		Generation bool           `json:"add_generation_prompt"`
	}
	var jobs []job
	var wantText []string
	var wantIDs [][]int32
	for _, c := range convs {
		ids, _, err := data.RenderChat(ck.Tokenizer, c)
		require.NoError(t, err)
		jobs = append(jobs, job{c, false})
		wantIDs = append(wantIDs, ids)
		// The same conversation up to its last user turn, as a prompt.
		last := len(c) - 1
		for c[last-1].Role != data.RoleUser {
			last--
		}
		p, err := data.RenderPrompt(ck.Tokenizer, c[:last])
		require.NoError(t, err)
		jobs = append(jobs, job{c[:last], true})
		wantIDs = append(wantIDs, p)
	}
	for _, ids := range wantIDs {
		text, err := ck.Tokenizer.Decode(ids)
		require.NoError(t, err)
		wantText = append(wantText, text)
	}
	js, err := json.Marshal(jobs)
	require.NoError(t, err)
	jobsPath := filepath.Join(t.TempDir(), "jobs.json")
	require.NoError(t, os.WriteFile(jobsPath, js, 0o644))
	const script = `
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "node:fs";
import path from "node:path";
const [, , dir, jobsPath] = process.argv;
const cfg = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
const tok = new Tokenizer(JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8")), cfg);
const tmpl = new Template(cfg.chat_template);
const out = JSON.parse(fs.readFileSync(jobsPath, "utf8")).map(j => {
  const text = tmpl.render({ messages: j.messages, add_generation_prompt: j.add_generation_prompt, bos_token: cfg.bos_token, eos_token: cfg.eos_token });
  return { text, ids: tok.encode(text, { add_special_tokens: false }).ids };
});
process.stdout.write(JSON.stringify(out));
`
	out, err := extools.RunNode(t, node, nm, script, nil, dir, jobsPath)
	require.NoError(t, err)
	var got []struct {
		Text string  `json:"text"`
		IDs  []int32 `json:"ids"`
	}
	require.NoError(t, json.Unmarshal(out, &got))
	require.Len(t, got, len(jobs))
	for i := range jobs {
		assert.Equal(t, wantText[i], got[i].Text, "job %d: Jinja text", i)
		assert.Equal(t, wantIDs[i], got[i].IDs, "job %d: tokenizers.js IDs of %q", i, got[i].Text)
	}
}
