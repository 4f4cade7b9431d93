package tokenizer

import (
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var fuzzSentences = []string{
	"The quick brown fox jumps over the lazy dog.",
	"It's a truth universally acknowledged that they'll need more data.",
	"In 1984, about 12345 people read 3.14159 pages; we've counted twice.",
	"\"Hello,\" she said -- 'I'd rather not.'",
	"First Citizen:\nBefore we proceed any further, hear me speak.\n\n",
	"All:\nSpeak, speak.\n\n",
	"Naïve café owners in Zürich serve crème brûlée at 7:30pm.",
	"日本語のテキストと中文文本，还有한국어 텍스트。",
	"Emoji: 👋🏽 👨‍👩‍👧 🇩🇪 ❤️ — and math: ∑ x² ≤ ½ · π.",
	"Tabs\tand   multiple    spaces\r\nand CRLF lines.",
	"<|user|> What is 2+2? <|end|> <|assistant|> 4. <|end|>",
	"Привет, мир! Γειά σου Κόσμε! مرحبا بالعالم",
	"code: for i := 0; i < n; i++ { sum += a[i] * b[i] }",
}

// fuzzCorpus is the fixed training corpus of the shared test tokenizer.
func fuzzCorpus() string {
	rng := rand.New(rand.NewPCG(42, 7))
	var sb strings.Builder
	for range 300 {
		sb.WriteString(fuzzSentences[rng.IntN(len(fuzzSentences))])
		sb.WriteByte(" \n "[rng.IntN(3)])
	}
	return sb.String()
}

var (
	fuzzTokOnce sync.Once
	fuzzTok     *BPE
	fuzzTokErr  error
)

// fuzzTokenizer returns a small BPE trained once on fuzzCorpus.
func fuzzTokenizer(tb testing.TB) *BPE {
	tb.Helper()
	fuzzTokOnce.Do(func() {
		fuzzTok, fuzzTokErr = TrainBPE(fuzzCorpus(), BPEConfig{VocabSize: MinBPEVocabSize + 300})
	})
	require.NoError(tb, fuzzTokErr)
	return fuzzTok
}

func FuzzBPERoundTrip(f *testing.F) {
	for _, s := range fuzzSentences {
		f.Add(s)
	}
	for _, s := range []string{
		"", " ", "\n\n", "a", "<|end|>", "\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80",
		"ab\xffcd \xfe\x00", "   x  ", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"e\u0301 \u0301", "'s'S'll'LL've ''", "1234567 89", "\u00a0\u2028\u3000x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := fuzzTokenizer(t)

		ids, err := tok.Encode(s)
		require.NoError(t, err)
		for _, id := range ids {
			require.GreaterOrEqual(t, int(id), NumSpecial)
			require.Less(t, int(id), tok.VocabSize())
		}
		got, err := tok.Decode(ids)
		require.NoError(t, err)
		require.Equal(t, s, got)

		// The splitter is lossless and makes progress.
		chunks := splitChunks(s)
		for _, c := range chunks {
			require.NotEmpty(t, c)
		}
		require.Equal(t, s, strings.Join(chunks, ""))

		// Both merge algorithms agree on the whole input as one chunk.
		if len(s) >= 2 && len(s) <= 1024 {
			raw := make([]int32, len(s))
			for i := range len(s) {
				raw[i] = byteID + int32(s[i])
			}
			naive := tok.mergeNaive(append([]int32(nil), raw...))
			heap := tok.mergeHeap(append([]int32(nil), raw...))
			require.Equal(t, naive, heap)
		}
	})
}

func FuzzCharRoundTrip(f *testing.F) {
	for _, s := range fuzzSentences {
		f.Add(s)
	}
	f.Add("a\xffb")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c := NewChar(s)
		ids, err := c.Encode(s)
		if !utf8.ValidString(s) {
			require.ErrorIs(t, err, ErrUnknownChar)
			return
		}
		require.NoError(t, err)
		require.Len(t, ids, utf8.RuneCountInString(s))
		got, err := c.Decode(ids)
		require.NoError(t, err)
		require.Equal(t, s, got)

		data, err := c.MarshalJSON()
		require.NoError(t, err)
		back, err := Unmarshal(data)
		require.NoError(t, err)
		ids2, err := back.Encode(s)
		require.NoError(t, err)
		require.Equal(t, ids, ids2)
	})
}

func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{
		`{"kind":"char","alphabet":"abc"}`,
		`{"kind":"char","alphabet":"\u0000\ud800\uFFFD€"}`,
		`{"kind":"bpe","merges":[]}`,
		`{"kind":"bpe","merges":[[102,102],[102,103],[261,262]]}`,
		`{"kind":"bpe","merges":[[5,6],[5,262]]}`,
		`{"kind":"bpe","merges":[[5,6,7]]}`,
		`{"kind":"char","alphabet":"aa"}`,
		`{"kind":"x"}`,
		`null`, `[]`, `{`, ``, `"bpe"`, `{"kind":"bpe","merges":[[1e400,5]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := Unmarshal(data)
		if err != nil {
			require.Nil(t, tok)
			require.True(t, errors.Is(err, ErrInvalidData), "error %v does not wrap ErrInvalidData", err)
			return
		}
		require.NotNil(t, tok)
		require.GreaterOrEqual(t, tok.VocabSize(), NumSpecialOf(tok))

		// A restored tokenizer re-serialises to something that restores to
		// the same serialisation.
		out, err := tok.MarshalJSON()
		require.NoError(t, err)
		tok2, err := Unmarshal(out)
		require.NoError(t, err)
		out2, err := tok2.MarshalJSON()
		require.NoError(t, err)
		require.Equal(t, string(out), string(out2))

		// Every ID decodes, and re-encoding works.
		all := make([]int32, tok.VocabSize())
		for i := range all {
			all[i] = int32(i)
		}
		text, err := tok.Decode(all)
		require.NoError(t, err)
		switch tt := tok.(type) {
		case *BPE:
			ids, err := tt.Encode(text)
			require.NoError(t, err)
			back, err := tt.Decode(ids)
			require.NoError(t, err)
			require.Equal(t, text, back)
		case *Char:
			alpha := string(tt.Alphabet())
			ids, err := tt.Encode(alpha)
			require.NoError(t, err)
			back, err := tt.Decode(ids)
			require.NoError(t, err)
			require.Equal(t, alpha, back)
		default:
			t.Fatalf("unexpected type %T", tok)
		}
	})
}

// shakespearePath is tinyshakespeare relative to this package's directory
// (repo root's sibling shared/data).
const shakespearePath = "../../../shared/data/tinyshakespeare.txt"

func loadShakespeare(b *testing.B) string {
	b.Helper()
	data, err := os.ReadFile(shakespearePath)
	if err != nil {
		b.Skipf("skipping: %s not available: %v", shakespearePath, err)
	}
	return string(data)
}

func BenchmarkTrainBPE(b *testing.B) {
	text := loadShakespeare(b)
	b.SetBytes(int64(len(text)))
	var tok *BPE
	for b.Loop() {
		var err error
		tok, err = TrainBPE(text, BPEConfig{VocabSize: MinBPEVocabSize + 500})
		if err != nil {
			b.Fatal(err)
		}
	}
	assert.Equal(b, MinBPEVocabSize+500, tok.VocabSize())
}

func BenchmarkEncode(b *testing.B) {
	text := loadShakespeare(b)
	tok, err := TrainBPE(text, BPEConfig{VocabSize: MinBPEVocabSize + 500})
	require.NoError(b, err)
	var n int
	b.Run("warm", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			ids, _ := tok.Encode(text)
			n = len(ids)
		}
		b.ReportMetric(float64(len(text))/float64(n), "bytes/token")
	})
	b.Run("cold", func(b *testing.B) {
		// A fresh tokenizer per iteration: empty chunk cache.
		b.SetBytes(int64(len(text)))
		merges := tok.Merges()
		for b.Loop() {
			fresh, err := NewBPEFromMerges(merges)
			if err != nil {
				b.Fatal(err)
			}
			ids, _ := fresh.Encode(text)
			n = len(ids)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	text := loadShakespeare(b)
	tok, err := TrainBPE(text, BPEConfig{VocabSize: MinBPEVocabSize + 500})
	require.NoError(b, err)
	ids, err := tok.Encode(text)
	require.NoError(b, err)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := tok.Decode(ids); err != nil {
			b.Fatal(err)
		}
	}
}
