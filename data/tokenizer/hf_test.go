package tokenizer

import (
	"encoding/json"

	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/internal/extools"
)

func TestByteLevelString(t *testing.T) {
	assert.Equal(t, "ĠhelloĊ", ByteLevelString([]byte(" hello\n")))
	assert.Equal(t, "Ã©", ByteLevelString([]byte("é"))) // 0xC3 0xA9
	assert.Equal(t, "Ā", ByteLevelString([]byte{0}))
	all := make([]byte, 256)
	seen := map[rune]bool{}
	for b := range all {
		all[b] = byte(b)
		r := []rune(ByteLevelString([]byte{byte(b)}))
		require.Len(t, r, 1)
		assert.False(t, seen[r[0]], "rune %q used twice", r[0])
		seen[r[0]] = true
		assert.NotContains(t, " \t\n", string(r[0]))
	}
	back, err := ByteLevelBytes(ByteLevelString(all))
	require.NoError(t, err)
	assert.Equal(t, all, back)
	_, err = ByteLevelBytes("a b")
	assert.ErrorIs(t, err, ErrInvalidData)
	assert.ErrorContains(t, err, `' '`)
}

func TestTokenStringsDuplicate(t *testing.T) {
	a, b, c := id('a'), id('b'), id('c')
	// "abc" built twice: (ab)c and a(bc).
	tok, err := NewBPEFromMerges([][2]int{{a, b}, {firstMergeID, c}, {b, c}, {a, firstMergeID + 2}})
	require.NoError(t, err)
	_, err = TokenStrings(tok)
	require.ErrorIs(t, err, ErrInvalidData)
	assert.ErrorContains(t, err, `tokens 267 and 269 are both "abc"`)

	tok, err = NewBPEFromMerges([][2]int{{a, b}})
	require.NoError(t, err)
	strs, err := TokenStrings(tok)
	require.NoError(t, err)
	assert.Equal(t, SpecialNames[:], strs[:NumSpecial])
	assert.Equal(t, "Ġ", strs[id(' ')])
	assert.Equal(t, "ab", strs[firstMergeID])
	bs, err := tok.TokenBytes(firstMergeID)
	require.NoError(t, err)
	assert.Equal(t, []byte("ab"), bs)
	_, err = tok.TokenBytes(0)
	assert.ErrorIs(t, err, ErrInvalidID)
}

func TestGPT2PreSplit(t *testing.T) {
	chunks := func(s string) []string {
		var out []string
		for i := 0; i < len(s); {
			j := nextChunkGPT2(s, i)
			out = append(out, s[i:j])
			i = j
		}
		return out
	}
	for in, want := range map[string][]string{
		"Hello world":     {"Hello", " world"},
		"\n\nHi":          {"\n", "\n", "Hi"},
		"a  b":            {"a", " ", " b"},
		"a \n b":          {"a", " \n", " b"},
		"end  ":           {"end", "  "},
		"12345 678":       {"12345", " 678"},
		"I'M we'll 's":    {"I", "'", "M", " we", "'ll", " '", "s"},
		"e\u0301t":        {"e", "\u0301", "t"},
		"hi!! ?? 😀":       {"hi", "!!", " ??", " 😀"},
		"x\t\ty":          {"x", "\t", "\t", "y"},
		"don't":           {"don", "'t"},
		"\xff\xfe a":      {"\xff\xfe", " a"},
		"tab\tend":        {"tab", "\t", "end"},
		"  lead":          {" ", " lead"},
		"'":               {"'"},
		"Привет, мир 日本語": {"Привет", ",", " мир", " 日本語"},
	} {
		assert.Equal(t, want, chunks(in), "%q", in)
	}
}

// hfTestCorpus trains tokenizers whose merges cover spaces, newlines, digits, contractions,
// accents and emoji.
const hfTestCorpus = "Hello world! Hello there, world. I'm here, you're there, we'll see.\n\n" +
	"The year 2024 had 365 days; 1234567 is a number. naïve café résumé — Привет мир, 日本語.\n" +
	"  indented line\n\tTabbed line\n\n\nThree newlines. Emoji: 😀👍🏽 👨‍👩‍👧 done!! ??\n" +
	"I'M LOUD. DON'T SHOUT. e\u0301t\u00e9 \u00a0nbsp\u3000wide  two  spaces   three\r\nwindows\n"

// hfTestStrings are the strings every encoder must agree on.
var hfTestStrings = []string{
	"Hello world! Hello there.",
	"  leading spaces and\ttabs\n\nnew paragraph\n",
	"I'M HERE, we'll see. DON'T",
	"numbers 1234567 and 3.14159, 2024",
	"unicode: naïve café résumé — Привет мир, 日本語",
	"emoji 😀👍🏽 family 👨‍👩‍👧!",
	"e\u0301te\u0301 combining",
	"trailing spaces   ",
	"\u00a0nbsp and\u3000ideographic \u2028sep",
	"line1\r\nline2\n\n\n  x",
	"",
}

func trainedHFTestBPE(t *testing.T) *BPE {
	t.Helper()
	tok, err := TrainBPE(hfTestCorpus, BPEConfig{VocabSize: MinBPEVocabSize + 150})
	require.NoError(t, err)
	return tok
}

func TestHFRoundTrip(t *testing.T) {
	base := trainedHFTestBPE(t)
	for _, pre := range []string{PreSplitTinychat, PreSplitGPT2} {
		tok, err := NewBPE(base.Merges(), pre)
		require.NoError(t, err)
		data, err := tok.MarshalHF()
		require.NoError(t, err)
		imp, err := ReadHF(data)
		require.NoError(t, err, pre)
		assert.Equal(t, tok.Merges(), imp.BPE.Merges())
		assert.Equal(t, pre, imp.BPE.PreSplit())
		for i, v := range imp.FromHF {
			require.Equal(t, int32(i), v, "ID %d maps to %d", i, v)
		}
		assert.Empty(t, imp.Dropped)
		// The pre-splitting survives the checkpoint JSON form too.
		js, err := tok.MarshalJSON()
		require.NoError(t, err)
		back, err := Unmarshal(js)
		require.NoError(t, err)
		assert.Equal(t, pre, back.(*BPE).PreSplit())
	}
	_, err := NewBPE(nil, "llama3")
	assert.ErrorIs(t, err, ErrInvalidData)
	_, err = Unmarshal([]byte(`{"kind":"char","alphabet":"ab","pre":"gpt2"}`))
	assert.ErrorIs(t, err, ErrInvalidData)
}

// TestGPT2FilesImport builds GPT-2's own file layout (vocab.json with byte tokens in GPT-2's
// order and <|endoftext|> last, merges.txt) and checks the import maps IDs by token string.
func TestGPT2FilesImport(t *testing.T) {
	tok := trainedHFTestBPE(t)
	strs, err := TokenStrings(tok)
	require.NoError(t, err)
	// GPT-2's order: the 256 byte tokens sorted by their rune, then merges, then <|endoftext|>.
	vocab := map[string]int{}
	hfOf := make([]int, tok.VocabSize())
	n := 0
	for r := range rune(400) {
		if b, ok := runeByte[r]; ok {
			vocab[string(r)] = n
			hfOf[byteID+int(b)] = n
			n++
		}
	}
	var merges strings.Builder
	merges.WriteString("#version: 0.2\n")
	for i, m := range tok.Merges() {
		vocab[strs[firstMergeID+i]] = n
		hfOf[firstMergeID+i] = n
		n++
		merges.WriteString(strs[m[0]] + " " + strs[m[1]] + "\n")
	}
	vocab[GPT2EndOfText] = n
	vj, err := json.Marshal(vocab)
	require.NoError(t, err)
	imp, err := ReadGPT2Files(vj, []byte(merges.String()))
	require.NoError(t, err)
	assert.Equal(t, PreSplitGPT2, imp.BPE.PreSplit())
	assert.Equal(t, tok.Merges(), imp.BPE.Merges())
	assert.Equal(t, int32(End), imp.FromHF[n])
	for ours := NumSpecial; ours < tok.VocabSize(); ours++ {
		require.Equal(t, int32(ours), imp.FromHF[hfOf[ours]])
	}

	bad := map[string]struct{ vocab, merges, want string }{
		"missing byte":   {`{"a":0}`, "", `lacks the byte token "Ā"`},
		"unknown merge":  {string(vj), "#version: 0.2\nzz q\n", `"zz" is not a byte or the result of an earlier merge`},
		"bad line":       {string(vj), "#version: 0.2\nabc\n", "merges.txt line 2"},
		"not json":       {`{"a":`, "", "vocab.json"},
		"negative id":    {`{"a":-1}`, "", "negative ID"},
		"duplicate id":   {`{"a":1,"b":1}`, "", `tokens "a" and "b" both have ID 1`},
		"stray token":    {strings.Replace(string(vj), `"\u003c|endoftext|\u003e"`, `"stray"`, 1), merges.String(), `"stray"`},
		"merge not in v": {strings.Replace(string(vj), `"Ġw"`, `"Ġw_gone"`, 1), merges.String(), "not in the vocabulary"},
	}
	for name, c := range bad {
		_, err := ReadGPT2Files([]byte(c.vocab), []byte(c.merges))
		require.ErrorIs(t, err, ErrInvalidData, name)
		assert.ErrorContains(t, err, c.want, name)
	}
}

func TestReadHFErrors(t *testing.T) {
	tok := trainedHFTestBPE(t)
	good, err := tok.MarshalHF()
	require.NoError(t, err)
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		require.NoError(t, json.Unmarshal(good, &m))
		f(m)
		out, err := json.Marshal(m)
		require.NoError(t, err)
		return out
	}
	model := func(m map[string]any) map[string]any { return m["model"].(map[string]any) }
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"truncated":   {good[:len(good)/2], "unexpected end of JSON"},
		"wordpiece":   {edit(func(m map[string]any) { model(m)["type"] = "WordPiece" }), `model.type is "WordPiece"`},
		"no vocab":    {edit(func(m map[string]any) { delete(model(m), "vocab") }), "model.vocab is missing"},
		"no merges":   {edit(func(m map[string]any) { delete(model(m), "merges") }), "model.merges: missing"},
		"normalizer":  {edit(func(m map[string]any) { m["normalizer"] = map[string]any{"type": "NFC"} }), "normalizer"},
		"metaspace":   {edit(func(m map[string]any) { m["pre_tokenizer"] = map[string]any{"type": "Metaspace"} }), "pre_tokenizer"},
		"no pre":      {edit(func(m map[string]any) { m["pre_tokenizer"] = nil }), "pre_tokenizer: missing"},
		"ignore":      {edit(func(m map[string]any) { model(m)["ignore_merges"] = true }), "ignore_merges"},
		"prefix":      {edit(func(m map[string]any) { model(m)["continuing_subword_prefix"] = "##" }), "continuing_subword_prefix"},
		"bad merge":   {edit(func(m map[string]any) { model(m)["merges"] = []any{"a b c"} }), `merge 0 "a b c"`},
		"wrong shape": {edit(func(m map[string]any) { model(m)["merges"] = map[string]any{} }), "model.merges"},
	} {
		_, err := ReadHF(c.data)
		require.ErrorIs(t, err, ErrInvalidData, name)
		assert.ErrorContains(t, err, c.want, name)
	}
	// The new merge format (pairs) reads too.
	imp, err := ReadHF(edit(func(m map[string]any) {
		var pairs [][]string
		for _, s := range model(m)["merges"].([]any) {
			pairs = append(pairs, strings.SplitN(s.(string), " ", 2))
		}
		model(m)["merges"] = pairs
	}))
	require.NoError(t, err)
	assert.Equal(t, tok.Merges(), imp.BPE.Merges())
}

// TestHFTokenizersClient checks that @huggingface/tokenizers, given MarshalHF's
// tokenizer.json, encodes like Encode: for both pre-splitting rules, on strings with spaces,
// newlines, digits, contractions, accents, combining marks and emoji, and with the special
// tokens written literally.
func TestHFTokenizersClient(t *testing.T) {
	nm, node := extools.NodeModules(t, "@huggingface/tokenizers")
	base := trainedHFTestBPE(t)
	dir := t.TempDir()
	const script = `
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "node:fs";
const [, , tokPath, strsPath] = process.argv;
const tok = new Tokenizer(JSON.parse(fs.readFileSync(tokPath, "utf8")), {});
const out = JSON.parse(fs.readFileSync(strsPath, "utf8")).map(s => tok.encode(s, { add_special_tokens: false }).ids);
process.stdout.write(JSON.stringify(out));
`
	inputs := append([]string{}, hfTestStrings...)
	for _, s := range hfTestStrings[:3] {
		inputs = append(inputs, SpecialNames[BOS]+SpecialNames[User]+s+SpecialNames[End]+SpecialNames[Assistant])
	}
	strsPath := filepath.Join(dir, "strings.json")
	js, err := json.Marshal(inputs)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(strsPath, js, 0o644))
	for _, pre := range []string{PreSplitTinychat, PreSplitGPT2} {
		tok, err := NewBPE(base.Merges(), pre)
		require.NoError(t, err)
		data, err := tok.MarshalHF()
		require.NoError(t, err)
		tokPath := filepath.Join(dir, "tokenizer"+pre+".json")
		require.NoError(t, os.WriteFile(tokPath, data, 0o644))
		out, err := extools.RunNode(t, node, nm, script, nil, tokPath, strsPath)
		require.NoError(t, err)
		var got [][]int32
		require.NoError(t, json.Unmarshal(out, &got))
		require.Len(t, got, len(inputs))
		for i, s := range inputs {
			var want []int32
			if i < len(hfTestStrings) {
				want, _ = tok.Encode(s)
			} else {
				ids, _ := tok.Encode(hfTestStrings[i-len(hfTestStrings)])
				want = append(append([]int32{BOS, User}, ids...), End, Assistant)
			}
			if len(want) == 0 {
				want = nil
			}
			if len(got[i]) == 0 {
				got[i] = nil
			}
			assert.Equal(t, want, got[i], "pre-split %q, string %q", pre, s)
		}
	}
}
