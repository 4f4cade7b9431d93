package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

// scriptAlphabet is the scripted models' characters: the test words, digits and the
// calculator's operators.
const scriptAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789 .,:?!'*+-/()\n→#[]"

func scriptTokenizer(t testing.TB) tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.NewCharFromAlphabet([]rune(scriptAlphabet))
	require.NoError(t, err)
	return tok
}

// scriptedCheckpoint writes a checkpoint of stage whose model, whatever the tokens it reads,
// predicts seq[p+1] at position p (and <|end|> past seq's end): greedy decoding of a prompt that
// is seq's beginning writes the rest of seq. Its blocks add nothing (zero output projections),
// its token embedding is zero, position p's embedding is the unit vector e_p, and the LM head
// reads the token scripted for each position off the final LayerNorm. It returns the path.
func scriptedCheckpoint(t testing.TB, stage model.Stage, tok tokenizer.Tokenizer, seq []int32) string {
	t.Helper()
	const block = 128
	require.Less(t, len(seq), block)
	m, err := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: block, Layers: 1, Heads: 1, Width: block, UntiedHead: true}, 1)
	require.NoError(t, err)
	for _, name := range []string{"wte", "h.0.attn.c_proj.weight", "h.0.mlp.c_proj.weight"} {
		clear(m.Param(name).Data)
	}
	wpe, head := m.Param("wpe").Data, m.Param("lm_head.weight").Data
	clear(wpe)
	clear(head)
	for p := range block {
		wpe[p*block+p] = 1
		next := int32(tokenizer.End)
		if p+1 < len(seq) {
			next = seq[p+1]
		}
		head[int(next)*block+p] = 10
	}
	path := filepath.Join(t.TempDir(), string(stage)+".safetensors")
	require.NoError(t, (&model.Checkpoint{Stage: stage, Model: m, Tokenizer: tok}).Save(path))
	return path
}
