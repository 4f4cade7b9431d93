package export

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

// TestLegacyTokenizerExport exports a checkpoint whose tokenizer predates the tool tokens (5
// specials, ordinary IDs from 5). GGUF keeps its IDs, with 5 CONTROL tokens; the Hugging Face
// directory keeps its IDs too, and importing it moves every token to this version's layout
// (ordinary IDs from 10), keeping its text and its row, and adds the tool tokens.
func TestLegacyTokenizerExport(t *testing.T) {
	tok, err := tokenizer.Unmarshal([]byte(`{"kind":"bpe","merges":[[102,102],[102,103],[261,262]]}`))
	require.NoError(t, err)
	require.Equal(t, tokenizer.LegacyNumSpecial, tokenizer.NumSpecialOf(tok))
	ck := randomCheckpoint(t, model.Config{BlockSize: 8, Layers: 1, Heads: 2, Width: 4}, model.StageSFT)
	m, err := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: 8, Layers: 1, Heads: 2, Width: 4}, 2)
	require.NoError(t, err)
	ck.Model, ck.Tokenizer = m, tok
	dir := t.TempDir()

	path := filepath.Join(dir, "legacy.gguf")
	require.NoError(t, WriteGGUF(context.Background(), path, ck, GGUFOptions{}))
	f, err := ReadGGUF(path)
	require.NoError(t, err)
	types := f.Metadata["tokenizer.ggml.token_type"].([]any)
	require.Len(t, types, tok.VocabSize())
	require.Equal(t, int32(3), types[tokenizer.End])
	require.Equal(t, int32(1), types[5], "ID 5 is byte 0 of an old tokenizer")
	require.Equal(t, "aaab", f.Metadata["tokenizer.ggml.tokens"].([]any)[263])

	hf := filepath.Join(dir, "hf")
	require.NoError(t, WriteHF(context.Background(), hf, ck))
	back, err := ReadHF(context.Background(), hf)
	require.NoError(t, err)
	newTok := back.Tokenizer.(*tokenizer.BPE)
	require.Equal(t, tokenizer.NumSpecial, newTok.Specials())
	require.Equal(t, tok.VocabSize()+tokenizer.NumSpecial-tokenizer.LegacyNumSpecial, back.Model.Config.VocabSize)
	shift := tokenizer.NumSpecial - tokenizer.LegacyNumSpecial
	C := 4
	oldW, newW := m.Param("wte").Data, back.Model.Param("wte").Data
	for id := range tok.VocabSize() {
		to := id
		if id >= tokenizer.LegacyNumSpecial {
			to += shift
		}
		require.Equal(t, oldW[id*C:(id+1)*C], newW[to*C:(to+1)*C], "row of token %d", id)
	}
	for _, s := range []string{"aaabdaaabac", "hello\n\n  world 12345"} {
		a, _ := tok.Encode(s)
		b, _ := newTok.Encode(s)
		require.Len(t, b, len(a))
		for i := range a {
			require.Equal(t, a[i]+int32(shift), b[i])
		}
	}
}
