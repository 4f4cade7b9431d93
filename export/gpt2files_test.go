package export

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/internal/extools"
	"github.com/tinychat-go/tinychat/model"
)

// gpt2Texts are encoded by our tokenizer and by the clients of vocab.json and merges.txt:
// words the merges cover (some only in rank order: "athe" is "at"+"he", not "a"+"the"), spaces in runs, newlines, long numbers, contractions, accents and
// emoji (bytes of several-byte characters), punctuation and quotes.
var gpt2Texts = []string{
	"the cat sat on the mat.", "the hat!", "athe cathe", "  the  cat\n\nthe\tmat ", "1234567 + 89 = 1234656",
	"it's the cat's; they'll've", "café thé 😀 naïve", `"quoted" \ back\slash`, "", "\n",
}

// gpt2Tokenizer is a small BPE trained under GPT-2's pre-splitting.
func gpt2Tokenizer(t *testing.T) *tokenizer.BPE {
	t.Helper()
	tok, err := tokenizer.TrainBPE("the cat sat on the mat. the cat\nthe hat!\n",
		tokenizer.BPEConfig{VocabSize: tokenizer.MinBPEVocabSize + 5, PreSplit: tokenizer.PreSplitGPT2})
	require.NoError(t, err)
	return tok
}

// gpt2ByteRunes is GPT-2's bytes_to_unicode (encoder.py), transcribed on its own rather than
// taken from the tokenizer package: printable bytes stand for themselves, the others, in byte
// order, for 256, 257, ...
func gpt2ByteRunes() [256]rune {
	var br [256]rune
	var bs []int
	for _, r := range [][2]int{{'!', '~'}, {0xA1, 0xAC}, {0xAE, 0xFF}} {
		for b := r[0]; b <= r[1]; b++ {
			bs = append(bs, b)
			br[b] = rune(b)
		}
	}
	n := 0
	for b := range 256 {
		if !slices.Contains(bs, b) {
			br[b] = rune(256 + n)
			n++
		}
	}
	return br
}

// The files of a small trained BPE, byte for byte: merges.txt written out in full, vocab.json
// rebuilt here as transformers' save_vocabulary writes it (json.dumps with indent=2,
// sort_keys=True, ensure_ascii=False, and a newline) from the token bytes.
func TestGPT2FilesExact(t *testing.T) {
	tok := gpt2Tokenizer(t)
	vocab, merges, err := GPT2Files(tok)
	require.NoError(t, err)

	assert.Equal(t, "#version: 0.2\na t\nh e\nt he\nĠ c\nĠ the\n", string(merges))

	br := gpt2ByteRunes()
	entries := map[string]int{}
	for id := range tok.VocabSize() {
		if id < tok.Specials() {
			entries[tokenizer.SpecialNames[id]] = id
			continue
		}
		b, err := tok.TokenBytes(id)
		require.NoError(t, err)
		var s []rune
		for _, c := range b {
			s = append(s, br[c])
		}
		entries[string(s)] = id
	}
	keys := slices.Collect(maps.Keys(entries))
	// Python sorts by code point.
	slices.SortFunc(keys, func(a, b string) int { return slices.Compare([]rune(a), []rune(b)) })
	var lines []string
	for _, k := range keys {
		q := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(k)
		lines = append(lines, `  "`+q+`": `+strconv.Itoa(entries[k]))
	}
	want := "{\n" + strings.Join(lines, ",\n") + "\n}\n"
	assert.Equal(t, want, string(vocab))
	// A few entries spelled out: the space byte, a quote, the last merge, a special.
	for _, line := range []string{`  "Ġ": 42,`, `  "\"": 44,`, `  "Ġthe": 270,`, `  "<|pad|>": 0,`, `  "Ń": 183`} {
		assert.Contains(t, string(vocab), line+"\n")
	}
	assert.Len(t, entries, tok.VocabSize())
}

// vocab.json and merges.txt read back (tokenizer.ReadGPT2Files) encode every text as the
// tokenizer they came from. ReadGPT2Files knows GPT-2's own special token only, so ours are
// taken out of vocab.json first; no text is encoded to them.
func TestGPT2FilesReadBack(t *testing.T) {
	tok := gpt2Tokenizer(t)
	vocab, merges, err := GPT2Files(tok)
	require.NoError(t, err)
	var v map[string]int
	require.NoError(t, json.Unmarshal(vocab, &v))
	for id := range tok.Specials() {
		delete(v, tokenizer.SpecialNames[id])
	}
	plain, err := json.Marshal(v)
	require.NoError(t, err)
	imp, err := tokenizer.ReadGPT2Files(plain, merges)
	require.NoError(t, err)
	for _, text := range gpt2Texts {
		want, err := tok.Encode(text)
		require.NoError(t, err)
		got, err := imp.BPE.Encode(text)
		require.NoError(t, err)
		// Back to the files' IDs, which are ours.
		for i, id := range got {
			got[i] = int32(slices.Index(imp.FromHF, id))
		}
		assert.Equal(t, want, got, "%q", text)
	}
}

// WriteHF writes vocab.json and merges.txt for a tokenizer that pre-splits as GPT-2 does, and
// none (removing stale ones) for one that does not.
func TestWriteHFGPT2Files(t *testing.T) {
	dir := t.TempDir()
	ck := trainedCheckpoint(t) // tinychat's own pre-splitting
	require.NotEqual(t, tokenizer.PreSplitGPT2, ck.Tokenizer.(*tokenizer.BPE).PreSplit())
	for _, name := range []string{HFVocabFile, HFMergesFile} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("stale"), 0o644))
	}
	require.NoError(t, WriteHF(context.Background(), dir, ck))
	for _, name := range []string{HFVocabFile, HFMergesFile} {
		assert.NoFileExists(t, filepath.Join(dir, name))
	}

	tok := gpt2Tokenizer(t)
	m, err := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: 8, Layers: 1, Heads: 1, Width: 8}, 1)
	require.NoError(t, err)
	require.NoError(t, WriteHF(context.Background(), dir, &model.Checkpoint{Stage: model.StageSFT, Model: m, Tokenizer: tok}))
	vocab, merges, err := GPT2Files(tok)
	require.NoError(t, err)
	for name, want := range map[string][]byte{HFVocabFile: vocab, HFMergesFile: merges} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), name)
	}
}

// @huggingface/tokenizers, given vocab.json and merges.txt as transformers turns them into a
// fast tokenizer (GPT2Converter: a BPE model over the two files, GPT-2's ByteLevel
// pre-tokenizer, the specials of tokenizer_config.json added), encodes every text as we do.
func TestGPT2FilesClient(t *testing.T) {
	nm, node := extools.NodeModules(t, "@huggingface/tokenizers")
	tok := gpt2Tokenizer(t)
	dir := t.TempDir()
	vocab, merges, err := GPT2Files(tok)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, HFVocabFile), vocab, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, HFMergesFile), merges, 0o644))
	specials := map[string]int{}
	for id := range tok.Specials() {
		specials[tokenizer.SpecialNames[id]] = id
	}
	texts, err := json.Marshal(map[string]any{"texts": gpt2Texts, "specials": specials})
	require.NoError(t, err)
	jobs := filepath.Join(dir, "jobs.json")
	require.NoError(t, os.WriteFile(jobs, texts, 0o644))
	const script = `
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "node:fs";
import path from "node:path";
const [, , dir, jobsPath] = process.argv;
const vocab = JSON.parse(fs.readFileSync(path.join(dir, "vocab.json"), "utf8"));
const lines = fs.readFileSync(path.join(dir, "merges.txt"), "utf8").split("\n");
if (!lines[0].startsWith("#version")) throw new Error("no #version line");
const merges = lines.slice(1).filter(l => l !== "");
const jobs = JSON.parse(fs.readFileSync(jobsPath, "utf8"));
const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
const tok = new Tokenizer({
  version: "1.0", truncation: null, padding: null, normalizer: null,
  added_tokens: Object.entries(jobs.specials).map(([content, id]) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
  pre_tokenizer: { type: "ByteLevel", ...byteLevel },
  post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
  decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
}, {});
process.stdout.write(JSON.stringify(jobs.texts.map(t => tok.encode(t, { add_special_tokens: false }).ids)));
`
	out, err := extools.RunNode(t, node, nm, script, nil, dir, jobs)
	require.NoError(t, err)
	var got [][]int32
	require.NoError(t, json.Unmarshal(out, &got))
	require.Len(t, got, len(gpt2Texts))
	for i, text := range gpt2Texts {
		want, err := tok.Encode(text)
		require.NoError(t, err)
		if len(want) == 0 {
			want = []int32{}
		}
		assert.Equal(t, want, got[i], "%q", text)
	}
}

// A failing write of the Hugging Face directory says "export" and the directory once, then
// what failed: the directory that cannot be made, or the file that cannot be written.
func TestWriteHFErrors(t *testing.T) {
	tok := gpt2Tokenizer(t)
	m, err := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: 8, Layers: 1, Heads: 1, Width: 8}, 1)
	require.NoError(t, err)
	ck := &model.Checkpoint{Stage: model.StageSFT, Model: m, Tokenizer: tok}

	// A file where the directory should be.
	file := filepath.Join(t.TempDir(), "hf")
	require.NoError(t, os.WriteFile(file, []byte("a file"), 0o644))
	err = WriteHF(context.Background(), file, ck)
	require.EqualError(t, err, "export: Hugging Face directory "+file+": mkdir "+file+": not a directory")

	// A directory, not empty, where vocab.json should be.
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, HFVocabFile, "x"), 0o755))
	err = WriteHF(context.Background(), dir, ck)
	require.Error(t, err)
	vocab := filepath.Join(dir, HFVocabFile)
	assert.Regexp(t, `^`+regexp.QuoteMeta("export: Hugging Face directory "+dir+": rename "+filepath.Join(dir, ".vocab.json.tmp-"))+
		`[0-9]+ `+regexp.QuoteMeta(vocab+": ")+`(file exists|is a directory|directory not empty)$`, err.Error())
	assert.Equal(t, 1, strings.Count(err.Error(), "export:"))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), "."), "temporary file %s left", e.Name())
	}
}

// GPT2Files's errors say "export" once and name the file at fault.
func TestGPT2FilesError(t *testing.T) {
	// Two merges that build the same bytes, "ab"+"c" and "a"+"bc": vocab.json cannot hold
	// both tokens.
	a, b, c := tokenizer.NumSpecial+int('a'), tokenizer.NumSpecial+int('b'), tokenizer.NumSpecial+int('c')
	next := tokenizer.NumSpecial + 256 // the first merged token's ID
	bc, ab, abc := next, next+1, next+2
	tok, err := tokenizer.NewBPEFromMerges([][2]int{{b, c}, {a, b}, {ab, c}, {a, bc}})
	require.NoError(t, err)
	_, _, err = GPT2Files(tok)
	require.ErrorIs(t, err, tokenizer.ErrInvalidData)
	assert.EqualError(t, err, fmt.Sprintf(`export: vocab.json: %v: tokens %d and %d are both "abc"`, tokenizer.ErrInvalidData, abc, abc+1))
}
