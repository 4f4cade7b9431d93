package export

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/internal/extools"
	"github.com/tinychat-go/tinychat/model"
)

// llamaScript loads each requested GGUF file with node-llama-cpp (llama.cpp's CPU build),
// tokenizes strings with special tokens parsed, and for each prompt returns the logits after
// every prompt token and after each of `greedy` tokens it then picks by argmax itself.
const llamaScript = `
import { getLlama } from "node-llama-cpp";
import fs from "node:fs";
const req = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const t0 = Date.now();
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error", progressLogs: false });
const tInit = Date.now() - t0;
const argmax = (m) => { let best = -1, bv = -Infinity; for (const [t, v] of m) if (v > bv || (v === bv && t < best)) { best = t; bv = v; } return best; };
const arr = (m, n) => { const a = new Array(n).fill(null); for (const [t, v] of m) a[t] = v; return a; };
const results = [];
for (const job of req.jobs) {
  const model = await llama.loadModel({ modelPath: job.model });
  const V = job.vocab;
  const res = { tokens: (job.strings || []).map(s => model.tokenize(s, true)), runs: [] };
  const ctxOpts = { contextSize: job.context, sequences: 1, threads: 1 };
  if (!job.defaults) Object.assign(ctxOpts, { flashAttention: false, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" });
  for (const prompt of (job.prompts || [])) {
    const ctx = await model.createContext(ctxOpts);
    const seq = ctx.getSequence();
    const out = await seq.controlledEvaluate(prompt.map(t => [t, { generateNext: { logits: true } }]));
    const logits = out.map(o => arr(o.next.logits, V));
    const picked = [];
    let last = out[out.length - 1].next.logits;
    for (let i = 0; i < job.greedy; i++) {
      const t = argmax(last);
      picked.push(t);
      const o = await seq.controlledEvaluate([[t, { generateNext: { logits: true } }]]);
      last = o[0].next.logits;
      logits.push(arr(last, V));
    }
    res.runs.push({ picked, logits });
    await ctx.dispose();
  }
  await model.dispose();
  results.push(res);
}
process.stdout.write(JSON.stringify({ results, initMs: tInit, totalMs: Date.now() - t0 }));
`

type llamaJob struct {
	Model    string    `json:"model"`
	Vocab    int       `json:"vocab"`
	Context  int       `json:"context"`
	Strings  []string  `json:"strings"`
	Prompts  [][]int32 `json:"prompts"`
	Greedy   int       `json:"greedy"`
	Defaults bool      `json:"defaults"`
}

type llamaResult struct {
	Tokens [][]int32 `json:"tokens"`
	Runs   []struct {
		Picked []int32      `json:"picked"`
		Logits [][]*float64 `json:"logits"`
	} `json:"runs"`
}

// runLlama runs llamaScript on the jobs.
func runLlama(t *testing.T, jobs []llamaJob) []llamaResult {
	t.Helper()
	nm, node := extools.NodeModules(t, "node-llama-cpp")
	req, err := json.Marshal(map[string]any{"jobs": jobs})
	require.NoError(t, err)
	reqPath := filepath.Join(t.TempDir(), "request.json")
	require.NoError(t, os.WriteFile(reqPath, req, 0o644))
	out, err := extools.RunNode(t, node, nm, llamaScript, nil, reqPath)
	require.NoError(t, err)
	var res struct {
		Results         []llamaResult
		InitMs, TotalMs float64
	}
	require.NoError(t, json.Unmarshal(out, &res), "node output: %.500s", out)
	require.Len(t, res.Results, len(jobs))
	t.Logf("node-llama-cpp: %.1f s in all, %.1f s to start llama.cpp", res.TotalMs/1000, res.InitMs/1000)
	return res.Results
}

// encodeWithSpecials encodes text in which special-token names stand for the specials, as
// llama.cpp and Hugging Face tokenizers parse it.
func encodeWithSpecials(t *testing.T, tok tokenizer.Tokenizer, text string) []int32 {
	t.Helper()
	var out []int32
	for len(text) > 0 {
		at, id := len(text), -1
		for i := range tokenizer.NumSpecialOf(tok) {
			if j := strings.Index(text, tokenizer.SpecialNames[i]); j >= 0 && j < at {
				at, id = j, i
			}
		}
		ids, err := tok.Encode(text[:at])
		require.NoError(t, err)
		out = append(out, ids...)
		if id < 0 {
			break
		}
		out = append(out, int32(id))
		text = text[at+len(tokenizer.SpecialNames[id]):]
	}
	return out
}

// ourRun is what our engine computes for a prompt: the logits after every prompt token and
// after each greedy token, and the greedy tokens.
func ourRun(t *testing.T, m *model.Model, prompt []int32, greedy int) (picked []int32, logits [][]float32) {
	t.Helper()
	e, err := model.NewEngine(m, 1)
	require.NoError(t, err)
	if greedy > 0 {
		samples, err := e.Generate(context.Background(), prompt, model.SampleConfig{MaxNewTokens: greedy})
		require.NoError(t, err)
		picked = samples[0].Tokens
		require.Len(t, picked, greedy)
		e.Reset()
	}
	for _, tk := range append(append([]int32{}, prompt...), picked...) {
		lg, err := e.Step([]int32{tk})
		require.NoError(t, err)
		logits = append(logits, append([]float32(nil), lg...))
	}
	return picked, logits[:len(prompt)+greedy]
}

// maxLogitDiff compares llama.cpp's logits with ours and returns the largest difference.
func maxLogitDiff(t *testing.T, want [][]float32, got [][]*float64) float64 {
	t.Helper()
	require.Len(t, got, len(want))
	worst := 0.0
	for i := range want {
		require.Len(t, got[i], len(want[i]), "position %d", i)
		for j, w := range want[i] {
			require.NotNil(t, got[i][j], "position %d: llama.cpp gave no logit for token %d", i, j)
			worst = math.Max(worst, math.Abs(float64(w)-*got[i][j]))
		}
	}
	return worst
}

// ggufSampleStrings are tokenized by llama.cpp and by our tokenizer: plain text, chat
// tokens, spaces, newlines, accents, CJK and emoji.
var ggufSampleStrings = []string{
	"Hello! How can I help you today?",
	"<|bos|><|user|>hello there<|end|><|assistant|>",
	"<|bos|>Be brief.<|end|><|user|>what is 12 + 30?<|end|><|assistant|>12 + 30 = 42.<|end|>",
	"two  spaces,   three, trailing  ",
	"line one\nline two\n  indented\n",
	"café, naïve, Привет мир, 日本語",
	"emoji 😀👍🏽 family 👨‍👩‍👧 done",
}

// gpt2OnlyStrings hit the places where GPT-2's pre-splitting (llama.cpp's "gpt-2") differs
// from this repository's default, so only a tokenizer with PreSplitGPT2 matches on them.
var gpt2OnlyStrings = []string{"12345678", "I'M HERE", "\n\nHi", "e\u0301te\u0301", "x\t\ty"}

func TestLlamaCpp(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: trains a small model and runs llama.cpp")
	}
	extools.NodeModules(t, "node-llama-cpp") // skip before training when absent
	ck := trainedCheckpoint(t)
	tok := ck.Tokenizer.(*tokenizer.BPE)
	dir := t.TempDir()
	ctx := context.Background()

	// The same weights with GPT-2's pre-splitting, which llama.cpp reproduces exactly.
	gpt2Tok, err := tokenizer.NewBPE(tok.Merges(), tokenizer.PreSplitGPT2)
	require.NoError(t, err)
	gpt2Ck := *ck
	gpt2Ck.Tokenizer = gpt2Tok

	// f16: our engine runs on the weights rounded as the file stores them.
	f16Model := ck.Model.Clone()
	for _, p := range f16Model.Params {
		if len(p.Shape) == 2 {
			copy(p.Data, RoundF16(p.Data))
		}
	}

	var prompts [][]int32
	for _, c := range testChats[:3] {
		p, err := data.RenderPrompt(tok, c[:len(c)-1])
		require.NoError(t, err)
		prompts = append(prompts, p)
	}
	plain, err := tok.Encode("You are doing")
	require.NoError(t, err)
	prompts = append(prompts, plain)
	const greedy = 20
	for _, p := range prompts {
		// node-llama-cpp shifts its context before evaluating a token that fills it.
		require.Less(t, len(p)+greedy, ck.Model.Config.BlockSize)
	}

	type variant struct {
		name     string
		ck       *model.Checkpoint
		opt      GGUFOptions
		ours     *model.Model
		strings  []string
		prompts  [][]int32
		defaults bool
		tol      float64
	}
	// llama.cpp with an f32 KV cache and flash attention off differs from our engine by about
	// 1e-3 (f16 weights: llama.cpp also rounds the activations to f16 for the products); with
	// its defaults (f16 KV cache, flash attention) by about 1e-2.
	variants := []variant{
		{"f32", ck, GGUFOptions{}, ck.Model, ggufSampleStrings, [][]int32{prompts[0], prompts[1], prompts[3]}, false, 5e-3},
		{"f16", ck, GGUFOptions{F16: true}, f16Model, nil, prompts[2:3], false, 2e-2},
		{"gpt2-split", &gpt2Ck, GGUFOptions{}, ck.Model, append(append([]string{}, ggufSampleStrings...), gpt2OnlyStrings...), nil, false, 0},
		{"llama.cpp defaults", ck, GGUFOptions{}, ck.Model, nil, prompts[:1], true, 5e-2},
	}
	var jobs []llamaJob
	for i, v := range variants {
		path := filepath.Join(dir, fmt.Sprintf("m%d.gguf", i))
		require.NoError(t, WriteGGUF(ctx, path, v.ck, v.opt))
		jobs = append(jobs, llamaJob{Model: path, Vocab: tok.VocabSize(), Context: ck.Model.Config.BlockSize,
			Strings: v.strings, Prompts: v.prompts, Greedy: greedy, Defaults: v.defaults})
	}
	results := runLlama(t, jobs)
	for i, v := range variants {
		res := results[i]
		for j, s := range v.strings {
			want := encodeWithSpecials(t, v.ck.Tokenizer, s)
			assert.Equal(t, want, res.Tokens[j], "%s: tokens of %q", v.name, s)
		}
		if len(v.prompts) == 0 {
			continue
		}
		worst := 0.0
		for j, p := range v.prompts {
			picked, logits := ourRun(t, v.ours, p, greedy)
			run := res.Runs[j]
			assert.Equal(t, picked, run.Picked, "%s: greedy continuation of prompt %d", v.name, j)
			if !assert.Equal(t, len(logits), len(run.Logits)) {
				continue
			}
			worst = math.Max(worst, maxLogitDiff(t, logits, run.Logits))
		}
		t.Logf("%s: largest logit difference from our engine %.2g (tolerance %g)", v.name, worst, v.tol)
		assert.LessOrEqual(t, worst, v.tol, v.name)
	}
}

// TestLlamaCppOnCheckpoints runs the llama.cpp check on real checkpoint files named in
// $TINYCHAT_EXPORT_CHECKPOINTS (comma-separated; skipped when unset), for example those of
// `go run ./examples/tinychat -quick`: the sample strings tokenize alike, and on four chat
// prompts the greedy 20-token continuations match and the logits agree within 5e-3. A reward
// checkpoint must be refused.
func TestLlamaCppOnCheckpoints(t *testing.T) {
	list := os.Getenv("TINYCHAT_EXPORT_CHECKPOINTS")
	if list == "" {
		t.Skip("skipped: set TINYCHAT_EXPORT_CHECKPOINTS to checkpoint files to check")
	}
	extools.NodeModules(t, "node-llama-cpp")
	dir := t.TempDir()
	questions := []string{"hello", "Who is Ada?", "where does Bob live?", "What is 12 + 30?"}
	type item struct {
		ck      *model.Checkpoint
		prompts [][]int32
	}
	var items []item
	var jobs []llamaJob
	for i, path := range strings.Split(list, ",") {
		ck, err := model.LoadCheckpoint(path)
		require.NoError(t, err)
		out := filepath.Join(dir, fmt.Sprintf("c%d.gguf", i))
		if ck.Stage == model.StageReward {
			require.ErrorIs(t, WriteGGUF(context.Background(), out, ck, GGUFOptions{}), ErrUnsupported)
			continue
		}
		require.NoError(t, WriteGGUF(context.Background(), out, ck, GGUFOptions{}))
		var prompts [][]int32
		for _, q := range questions {
			p, err := data.RenderPrompt(ck.Tokenizer, []data.Message{{Role: data.RoleUser, Content: q}})
			require.NoError(t, err)
			require.Less(t, len(p)+20, ck.Model.Config.BlockSize)
			prompts = append(prompts, p)
		}
		items = append(items, item{ck, prompts})
		jobs = append(jobs, llamaJob{Model: out, Vocab: ck.Model.Config.VocabSize, Context: ck.Model.Config.BlockSize,
			Strings: ggufSampleStrings, Prompts: prompts, Greedy: 20})
	}
	results := runLlama(t, jobs)
	for i, it := range items {
		for j, s := range ggufSampleStrings {
			assert.Equal(t, encodeWithSpecials(t, it.ck.Tokenizer, s), results[i].Tokens[j], "tokens of %q", s)
		}
		worst := 0.0
		for j, p := range it.prompts {
			picked, logits := ourRun(t, it.ck.Model, p, 20)
			assert.Equal(t, picked, results[i].Runs[j].Picked, "%s: greedy continuation of %q", it.ck.Stage, questions[j])
			worst = math.Max(worst, maxLogitDiff(t, logits, results[i].Runs[j].Logits))
		}
		t.Logf("%s checkpoint: greedy continuations of %d prompts compared, largest logit difference %.2g", it.ck.Stage, len(it.prompts), worst)
		assert.LessOrEqual(t, worst, 5e-3)
	}
}
