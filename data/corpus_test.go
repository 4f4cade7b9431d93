package data

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// writeParquet writes rows to dir/name with parquet-go's GenericWriter, at
// most rowsPerGroup rows per row group, and returns the path.
func writeParquet[T any](t testing.TB, dir, name string, rows []T, rowsPerGroup int64) string {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	require.NoError(t, err)
	w := parquet.NewGenericWriter[T](f, parquet.MaxRowsPerRowGroup(rowsPerGroup))
	// Write in uneven chunks so row groups and write calls do not line up.
	for len(rows) > 0 {
		n := min(len(rows), 77)
		_, err := w.Write(rows[:n])
		require.NoError(t, err)
		rows = rows[n:]
	}
	require.NoError(t, w.Close())
	require.NoError(t, f.Close())
	return p
}

// hfRow mimics a HuggingFace dataset shard: a text column among others.
type hfRow struct {
	ID   int64  `parquet:"id"`
	Text string `parquet:"text"`
	URL  string `parquet:"url"`
}

func texts(docs []Document) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.Text
	}
	return out
}

func sources(docs []Document) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.Source
	}
	return out
}

func TestReadCorpusText(t *testing.T) {
	dir := t.TempDir()
	txt := writeFile(t, dir, "a.txt", "First Citizen:\nBefore we proceed\n\n  any further, hear me speak.\n")
	md := writeFile(t, dir, "b.MD", "# Título\r\nünïcødé ✓\n")
	bare := writeFile(t, dir, "README", "no extension")

	docs, err := ReadCorpus(txt, md, bare)
	require.NoError(t, err)
	assert.Equal(t, []Document{
		{Source: txt, Text: "First Citizen:\nBefore we proceed\n\n  any further, hear me speak.\n"},
		{Source: md, Text: "# Título\r\nünïcødé ✓\n"},
		{Source: bare, Text: "no extension"},
	}, docs)
}

func TestReadCorpusJSONL(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("long line ", 30000) // 300 kB: longer than the 64 kB read buffer
	content := `{"text": "hello\nworld", "id": 1}` + "\n" +
		"\n" + // blank line: skipped, still counted
		"   \t \n" +
		`{"id": 2, "text": "caf\u00e9 \"quoted\""}` + "\r\n" +
		`{"text": ""}` + "\n" +
		`{"text": "` + long + `", "meta": {"text": 5}}` + "\n" +
		`{"text": "no trailing newline"}`
	p := writeFile(t, dir, "c.jsonl", content)

	docs, err := ReadCorpus(p)
	require.NoError(t, err)
	assert.Equal(t, []string{"hello\nworld", `café "quoted"`, "", long, "no trailing newline"}, texts(docs))
	assert.Equal(t, []string{p + ":1", p + ":4", p + ":5", p + ":6", p + ":7"}, sources(docs))
}

func TestReadCorpusParquet(t *testing.T) {
	// Row counts below, at, and above multiples of the read buffer, so that
	// the final rows arrive together with io.EOF in several ways.
	for _, n := range []int{1, 3, parquetReadBatch, 2 * parquetReadBatch, 1000, 2*parquetReadBatch + 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			dir := t.TempDir()
			rows := make([]hfRow, n)
			want := make([]string, n)
			for i := range rows {
				want[i] = fmt.Sprintf("document %d: %s", i, strings.Repeat("é", i%7))
				rows[i] = hfRow{ID: int64(i), Text: want[i], URL: fmt.Sprintf("https://example.com/%d", i)}
			}
			p := writeParquet(t, dir, "train-00000-of-00001.parquet", rows, 300)

			docs, err := ReadCorpus(p)
			require.NoError(t, err)
			require.Len(t, docs, n)
			assert.Equal(t, want, texts(docs))
			assert.Equal(t, p+":row 0", docs[0].Source)
			assert.Equal(t, fmt.Sprintf("%s:row %d", p, n-1), docs[n-1].Source)
		})
	}
}

func TestReadCorpusParquetRowGroups(t *testing.T) {
	// Guard the premise of TestReadCorpusParquet: the file really has
	// several row groups and more rows than one read.
	dir := t.TempDir()
	rows := make([]hfRow, 1000)
	for i := range rows {
		rows[i] = hfRow{ID: int64(i), Text: fmt.Sprint(i)}
	}
	p := writeParquet(t, dir, "x.parquet", rows, 300)
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	info, err := f.Stat()
	require.NoError(t, err)
	pf, err := parquet.OpenFile(f, info.Size())
	require.NoError(t, err)
	assert.Len(t, pf.RowGroups(), 4)
	assert.Greater(t, pf.NumRows(), int64(parquetReadBatch))
}

func TestReadCorpusParquetOptionalColumn(t *testing.T) {
	type row struct {
		Text *string `parquet:"text,optional"`
	}
	s := func(v string) *string { return &v }
	dir := t.TempDir()
	rows := make([]row, 600)
	for i := range rows {
		rows[i].Text = s(fmt.Sprint("doc ", i))
	}
	p := writeParquet(t, dir, "opt.parquet", rows, 250)
	docs, err := ReadCorpus(p)
	require.NoError(t, err)
	require.Len(t, docs, 600)
	assert.Equal(t, "doc 599", docs[599].Text)

	rows[417].Text = nil
	p = writeParquet(t, dir, "null.parquet", rows, 250)
	_, err = ReadCorpus(p)
	require.Error(t, err)
	assert.Contains(t, err.Error(), p+":row 417")
	assert.Contains(t, err.Error(), "null")
}

func TestReadCorpusDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "b.txt", "B")
	writeFile(t, dir, "a.jsonl", `{"text":"A1"}`+"\n"+`{"text":"A2"}`+"\n")
	writeParquet(t, dir, "c.parquet", []hfRow{{Text: "C1"}, {Text: "C2"}}, 10)
	writeFile(t, dir, "10.md", "ten")
	writeFile(t, dir, "notes.csv", "skipped,not,a,corpus,format")
	writeFile(t, dir, "NOEXT", "skipped in directories")
	writeFile(t, dir, ".hidden.txt", "skipped")
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o755))
	writeFile(t, sub, "0.txt", "not recursive")
	require.NoError(t, os.Mkdir(filepath.Join(dir, "d.txt"), 0o755)) // directory named like a file

	docs, err := ReadCorpus(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"ten", "A1", "A2", "B", "C1", "C2"}, texts(docs))
	assert.Equal(t, []string{
		filepath.Join(dir, "10.md"),
		filepath.Join(dir, "a.jsonl") + ":1",
		filepath.Join(dir, "a.jsonl") + ":2",
		filepath.Join(dir, "b.txt"),
		filepath.Join(dir, "c.parquet") + ":row 0",
		filepath.Join(dir, "c.parquet") + ":row 1",
	}, sources(docs))

	// Several paths keep the order given; a subdirectory can be named.
	docs, err = ReadCorpus(sub, filepath.Join(dir, "b.txt"), dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"not recursive", "B", "ten", "A1", "A2", "B", "C1", "C2"}, texts(docs))
}

func TestReadCorpusErrors(t *testing.T) {
	dir := t.TempDir()
	jsonl := func(name string, lines ...string) string {
		return writeFile(t, dir, name, strings.Join(lines, "\n")+"\n")
	}
	ok := `{"text": "fine"}`
	cases := []struct {
		name string
		path func() string
		want []string // substrings of the error; "%s" is replaced by the path
	}{
		{"missing text field", func() string { return jsonl("missing.jsonl", ok, "", `{"txt": "typo"}`) },
			[]string{"%s:3:", `missing "text" field`}},
		{"text is a number", func() string { return jsonl("number.jsonl", ok, `{"text": 42}`) },
			[]string{"%s:2:", `"text" field is a number, want a string`}},
		{"text is null", func() string { return jsonl("null.jsonl", `{"text": null}`) },
			[]string{"%s:1:", `"text" field is null`}},
		{"text is an object", func() string { return jsonl("obj.jsonl", ok, ok, ok, `{"text": {"en": "x"}}`) },
			[]string{"%s:4:", "is an object"}},
		{"malformed JSON", func() string { return jsonl("bad.jsonl", ok, `{"text": "unterminated}`, ok) },
			[]string{"%s:2:", "malformed JSON"}},
		{"line not an object", func() string { return jsonl("array.jsonl", ok, `["text"]`) },
			[]string{"%s:2:", "JSON array"}},
		{"line is null", func() string { return jsonl("nullline.jsonl", `null`) },
			[]string{"%s:1:", "JSON null"}},
		{"parquet without text column", func() string {
			type row struct {
				Content string `parquet:"content"`
				ID      int64  `parquet:"id"`
			}
			return writeParquet(t, dir, "notext.parquet", []row{{Content: "x"}}, 10)
		}, []string{"%s:", `no "text" column`, "content, id"}},
		{"parquet text column not a string", func() string {
			type row struct {
				Text int64 `parquet:"text"`
			}
			return writeParquet(t, dir, "inttext.parquet", []row{{Text: 1}}, 10)
		}, []string{"%s:", `"text" column has type INT(64`}},
		{"parquet text column repeated", func() string {
			type row struct {
				Text []string `parquet:"text,list"`
			}
			return writeParquet(t, dir, "listtext.parquet", []row{{Text: []string{"a"}}}, 10)
		}, []string{"%s:", `"text" column is a group`}},
		{"corrupt parquet", func() string { return writeFile(t, dir, "corrupt.parquet", "PAR1 this is not parquet") },
			[]string{"%s:", "reading parquet"}},
		{"unsupported extension", func() string { return writeFile(t, dir, "table.csv", "text\nhello\n") },
			[]string{"%s:", `unsupported file extension ".csv"`}},
		{"missing file", func() string { return filepath.Join(dir, "nope.txt") },
			[]string{"%s", "no such file"}},
		{"empty txt", func() string { return writeFile(t, dir, "empty.txt", "") },
			[]string{"%s:", "no documents"}},
		{"jsonl with only blank lines", func() string { return writeFile(t, dir, "blank.jsonl", "\n  \n\n") },
			[]string{"%s:", "no documents"}},
		{"parquet with no rows", func() string { return writeParquet(t, dir, "norows.parquet", []hfRow{}, 10) },
			[]string{"%s:", "no documents"}},
		{"directory without corpus files", func() string {
			d := filepath.Join(dir, "emptydir")
			require.NoError(t, os.Mkdir(d, 0o755))
			writeFile(t, d, "x.csv", "a")
			return d
		}, []string{"%s:", "no .txt, .md, .jsonl or .parquet files"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.path()
			docs, err := ReadCorpus(p)
			require.Error(t, err)
			assert.Nil(t, docs)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), strings.ReplaceAll(w, "%s", p))
			}
		})
	}

	t.Run("no paths", func(t *testing.T) {
		_, err := ReadCorpus()
		assert.ErrorContains(t, err, "no input paths")
	})
	t.Run("missing file wraps fs.ErrNotExist", func(t *testing.T) {
		_, err := ReadCorpus(filepath.Join(dir, "nope.jsonl"))
		assert.ErrorIs(t, err, fs.ErrNotExist)
	})
	t.Run("error in a later file", func(t *testing.T) {
		good := writeFile(t, dir, "good.txt", "good")
		bad := jsonl("later.jsonl", ok, ok, `{"text": 1.5}`)
		_, err := ReadCorpus(good, bad)
		assert.ErrorContains(t, err, bad+":3:")
	})
}

func TestReadCorpusTinyShakespeare(t *testing.T) {
	const path = "../../shared/data/tinyshakespeare.txt"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not available: %v", path, err)
	}
	start := time.Now()
	docs, err := ReadCorpus(path)
	elapsed := time.Since(start)
	require.NoError(t, err)
	require.Len(t, docs, 1)
	assert.Equal(t, path, docs[0].Source)
	assert.Equal(t, 1115394, utf8.RuneCountInString(docs[0].Text))
	assert.True(t, strings.HasPrefix(docs[0].Text, "First Citizen:"))
	assert.Less(t, elapsed, 2*time.Second, "reading a 1 MB text file should be fast")
}

// fakeEncoder encodes each rune as its code point, fails on texts containing
// "BAD", and returns a negative ID for texts containing "NEG".
type fakeEncoder struct{ calls int }

var errFake = errors.New("fake encoder failure")

func (e *fakeEncoder) Encode(text string) ([]int32, error) {
	e.calls++
	if strings.Contains(text, "BAD") {
		return nil, errFake
	}
	if strings.Contains(text, "NEG") {
		return []int32{1, -5}, nil
	}
	ids := make([]int32, 0, len(text))
	for _, r := range text {
		ids = append(ids, r)
	}
	return ids, nil
}

func TestTokenStream(t *testing.T) {
	docs := []Document{
		{Source: "a.txt", Text: "ab"},
		{Source: "b.jsonl:1", Text: ""},
		{Source: "b.jsonl:2", Text: "é"},
	}

	got, err := TokenStream(docs, &fakeEncoder{}, 1)
	require.NoError(t, err)
	assert.Equal(t, []int32{1, 'a', 'b', 1, 1, 'é'}, got)

	got, err = TokenStream(docs, &fakeEncoder{}, -1)
	require.NoError(t, err)
	assert.Equal(t, []int32{'a', 'b', 'é'}, got)

	got, err = TokenStream(docs, &fakeEncoder{}, 0)
	require.NoError(t, err)
	assert.Equal(t, []int32{0, 'a', 'b', 0, 0, 'é'}, got, "0 is a valid separator ID")

	got, err = TokenStream(nil, &fakeEncoder{}, 1)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestTokenStreamErrors(t *testing.T) {
	docs := []Document{
		{Source: "ok.txt", Text: "fine"},
		{Source: "shard.parquet:row 12", Text: "this is BAD"},
		{Source: "never.txt", Text: "not reached"},
	}
	enc := &fakeEncoder{}
	_, err := TokenStream(docs, enc, 1)
	require.Error(t, err)
	assert.ErrorIs(t, err, errFake)
	assert.Contains(t, err.Error(), "shard.parquet:row 12")
	assert.Equal(t, 2, enc.calls, "stops at the first failing document")

	_, err = TokenStream([]Document{{Source: "big.jsonl:3", Text: "NEG"}}, &fakeEncoder{}, 1)
	assert.ErrorContains(t, err, "big.jsonl:3")
	assert.ErrorContains(t, err, "negative ID -5")

	_, err = TokenStream(docs[:1], &fakeEncoder{}, -2)
	assert.ErrorContains(t, err, "separator -2")
	_, err = TokenStream(docs[:1], &fakeEncoder{}, math.MaxInt32+1)
	assert.ErrorContains(t, err, "separator")
	_, err = TokenStream(docs[:1], nil, 1)
	assert.ErrorContains(t, err, "nil Encoder")
}

func seq(n int) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = int32(i)
	}
	return s
}

func TestSplit(t *testing.T) {
	tokens := seq(100)
	train, val, err := Split(tokens, 0.1, 10)
	require.NoError(t, err)
	assert.Equal(t, seq(90), train)
	assert.Equal(t, []int32{90, 91, 92, 93, 94, 95, 96, 97, 98, 99}, val)

	// Rounding: 15 × 0.1 = 1.5 → 2 validation tokens; 14 × 0.1 = 1.4 → 1.
	train, val, err = Split(seq(15), 0.1, 1)
	require.NoError(t, err)
	assert.Len(t, train, 13)
	assert.Equal(t, []int32{13, 14}, val)
	train, val, err = Split(seq(14), 0.1, 1)
	require.NoError(t, err)
	assert.Len(t, train, 13)
	assert.Equal(t, []int32{13}, val)

	// A fraction whose product is inexact in floating point: 100 × 0.29.
	train, val, err = Split(seq(100), 0.29, 0)
	require.NoError(t, err)
	assert.Len(t, train, 71)
	assert.Len(t, val, 29)
	assert.Equal(t, int32(71), val[0])

	// tinyshakespeare-sized stream.
	train, val, err = Split(make([]int32, 1115394), 0.1, 257)
	require.NoError(t, err)
	assert.Len(t, train, 1003855)
	assert.Len(t, val, 111539)

	// valFraction 0 is allowed when no minimum is asked for.
	train, val, err = Split(seq(5), 0, 0)
	require.NoError(t, err)
	assert.Len(t, train, 5)
	assert.Empty(t, val)

	// Appending to train must not clobber val.
	train, val, err = Split(seq(10), 0.5, 5)
	require.NoError(t, err)
	_ = append(train, -1)
	assert.Equal(t, []int32{5, 6, 7, 8, 9}, val)
}

func TestSplitMinLen(t *testing.T) {
	// Exactly at the minimum on both sides is fine.
	train, val, err := Split(seq(20), 0.5, 10)
	require.NoError(t, err)
	assert.Len(t, train, 10)
	assert.Len(t, val, 10)

	// One short on the validation side.
	_, _, err = Split(seq(100), 0.09, 10)
	assert.ErrorContains(t, err, "91 train and 9 validation tokens, want at least 10")
	// One short on the training side.
	_, _, err = Split(seq(100), 0.91, 10)
	assert.ErrorContains(t, err, "9 train and 91 validation tokens, want at least 10")

	for _, f := range []float64{-0.1, 1, 1.5, math.NaN(), math.Inf(1)} {
		_, _, err = Split(seq(100), f, 0)
		assert.ErrorContains(t, err, "not in [0, 1)", "valFraction %v", f)
	}
}
