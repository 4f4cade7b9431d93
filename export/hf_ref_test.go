package export

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/internal/extools"
	"github.com/tinychat-go/tinychat/model"
)

// gpt2RefScript is an independent GPT-2 forward pass in JavaScript (float64) that reads a
// Hugging Face directory the way transformers' GPT2LMHeadModel does: config.json, then
// model.safetensors parsed by hand, names with or without "transformer.", Conv1D layers
// (y = x·W + b with W [in, out]), GELU "gelu_new", causal attention scaled by 1/√head_dim,
// the LM head tied to wte unless tie_word_embeddings is false. It prints the logits after
// every token of argv[3].
const gpt2RefScript = `
import fs from "node:fs";
import path from "node:path";
const [, , dir, tokensJSON] = process.argv;
const cfg = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
if (cfg.model_type !== "gpt2" || cfg.activation_function !== "gelu_new") throw new Error("not a gelu_new gpt2");
const buf = fs.readFileSync(path.join(dir, "model.safetensors"));
const hlen = Number(buf.readBigUInt64LE(0));
const hdr = JSON.parse(buf.subarray(8, 8 + hlen).toString("utf8"));
const W = {};
for (const [k, v] of Object.entries(hdr)) {
  if (k === "__metadata__") continue;
  if (v.dtype !== "F32") throw new Error(k + " is " + v.dtype);
  const [a, b] = v.data_offsets;
  const bytes = buf.subarray(8 + hlen + a, 8 + hlen + b);
  const f = new Float32Array(bytes.length / 4);
  for (let i = 0; i < f.length; i++) f[i] = bytes.readFloatLE(4 * i);
  W[k.replace(/^transformer\./, "")] = f;
}
const C = cfg.n_embd, H = cfg.n_head, L = cfg.n_layer, V = cfg.vocab_size, eps = cfg.layer_norm_epsilon, D = C / H;
const toks = JSON.parse(tokensJSON), N = toks.length;
const ln = (x, w, b) => { const y = new Float64Array(x.length); for (let r = 0; r < N; r++) { let m = 0, s = 0; for (let j = 0; j < C; j++) m += x[r*C+j]; m /= C; for (let j = 0; j < C; j++) s += (x[r*C+j]-m)**2; const rs = 1/Math.sqrt(s/C + eps); for (let j = 0; j < C; j++) y[r*C+j] = (x[r*C+j]-m)*rs*w[j] + b[j]; } return y; };
const conv1d = (x, w, b, nin, nout) => { const y = new Float64Array(N*nout); for (let r = 0; r < N; r++) for (let o = 0; o < nout; o++) { let s = b[o]; for (let i = 0; i < nin; i++) s += x[r*nin+i]*w[i*nout+o]; y[r*nout+o] = s; } return y; };
const gelu = (x) => 0.5*x*(1 + Math.tanh(Math.sqrt(2/Math.PI)*(x + 0.044715*x*x*x)));
let x = new Float64Array(N*C);
for (let r = 0; r < N; r++) for (let j = 0; j < C; j++) x[r*C+j] = W["wte.weight"][toks[r]*C+j] + W["wpe.weight"][r*C+j];
for (let l = 0; l < L; l++) {
  const p = "h." + l + ".";
  const qkv = conv1d(ln(x, W[p+"ln_1.weight"], W[p+"ln_1.bias"]), W[p+"attn.c_attn.weight"], W[p+"attn.c_attn.bias"], C, 3*C);
  const att = new Float64Array(N*C);
  for (let h = 0; h < H; h++) for (let r = 0; r < N; r++) {
    const sc = []; let mx = -Infinity;
    for (let s = 0; s <= r; s++) { let v = 0; for (let k = 0; k < D; k++) v += qkv[r*3*C+h*D+k]*qkv[s*3*C+C+h*D+k]; v /= Math.sqrt(D); sc.push(v); mx = Math.max(mx, v); }
    let z = 0; for (let s = 0; s <= r; s++) { sc[s] = Math.exp(sc[s]-mx); z += sc[s]; }
    for (let s = 0; s <= r; s++) for (let k = 0; k < D; k++) att[r*C+h*D+k] += sc[s]/z*qkv[s*3*C+2*C+h*D+k];
  }
  const a = conv1d(att, W[p+"attn.c_proj.weight"], W[p+"attn.c_proj.bias"], C, C);
  for (let i = 0; i < x.length; i++) x[i] += a[i];
  const f = conv1d(ln(x, W[p+"ln_2.weight"], W[p+"ln_2.bias"]), W[p+"mlp.c_fc.weight"], W[p+"mlp.c_fc.bias"], C, 4*C).map(gelu);
  const m = conv1d(f, W[p+"mlp.c_proj.weight"], W[p+"mlp.c_proj.bias"], 4*C, C);
  for (let i = 0; i < x.length; i++) x[i] += m[i];
}
const hf = ln(x, W["ln_f.weight"], W["ln_f.bias"]);
const head = cfg.tie_word_embeddings === false ? W["lm_head.weight"] : W["wte.weight"];
const out = [];
for (let r = 0; r < N; r++) { const row = []; for (let v = 0; v < V; v++) { let s = 0; for (let j = 0; j < C; j++) s += hf[r*C+j]*head[v*C+j]; row.push(s); } out.push(row); }
process.stdout.write(JSON.stringify(out));
`

// TestHFForwardReference checks WriteHF's layout against an independent GPT-2 forward pass
// that reads the directory as transformers would (gpt2RefScript): its logits must agree with
// our engine's within 1e-4, for a model with biases and one with an untied head.
func TestHFForwardReference(t *testing.T) {
	nm, node := extools.NodeModules(t)
	for _, cfg := range []model.Config{
		{BlockSize: 12, Layers: 2, Heads: 2, Width: 8, LinearBias: true},
		{BlockSize: 12, Layers: 1, Heads: 4, Width: 8, UntiedHead: true},
	} {
		ck := randomCheckpoint(t, cfg, model.StageSFT)
		dir := filepath.Join(t.TempDir(), "hf")
		require.NoError(t, WriteHF(context.Background(), dir, ck))
		prompt := []int32{1, 20, 270, 45, 4, 2, 266, 100, 7, 271}
		js, err := json.Marshal(prompt)
		require.NoError(t, err)
		out, err := extools.RunNode(t, node, nm, gpt2RefScript, nil, dir, string(js))
		require.NoError(t, err)
		var ref [][]float64
		require.NoError(t, json.Unmarshal(out, &ref))
		_, ours := ourRun(t, ck.Model, prompt, 0)
		require.Len(t, ref, len(ours))
		worst := 0.0
		for i := range ours {
			require.Len(t, ref[i], len(ours[i]))
			for j, v := range ours[i] {
				worst = math.Max(worst, math.Abs(float64(v)-ref[i][j]))
			}
		}
		t.Logf("%+v: largest logit difference from the reference %.2g", cfg, worst)
		require.Less(t, worst, 1e-4)
	}
}
