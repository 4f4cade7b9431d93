package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rewriteFooter decodes the Parquet footer of the file at path, lets edit
// change it and writes the file back with the re-encoded footer, so a test
// can damage one field of the metadata precisely.
func rewriteFooter(t *testing.T, path string, edit func(*format.FileMetaData)) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	n := len(b)
	require.Equal(t, "PAR1", string(b[n-4:]))
	size := int(binary.LittleEndian.Uint32(b[n-8 : n-4]))
	footer := b[n-8-size : n-8]
	var md format.FileMetaData
	require.NoError(t, thrift.Unmarshal(new(thrift.CompactProtocol), footer, &md))
	edit(&md)
	nf, err := thrift.Marshal(new(thrift.CompactProtocol), &md)
	require.NoError(t, err)
	out := append(bytes.Clone(b[:n-8-size]), nf...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(nf)))
	out = append(out, "PAR1"...)
	require.NoError(t, os.WriteFile(path, out, 0o644))
}

// negativeColumnIndexLength damages the page index entry of the footer the way
// that made parquet.OpenFile panic with "makeslice: len out of range".
func negativeColumnIndexLength(md *format.FileMetaData) {
	c := &md.RowGroups[0].Columns[0]
	c.ColumnIndexLength = -100
	if c.ColumnIndexOffset == 0 {
		c.ColumnIndexOffset = 4
	}
}

// damagedParquetCases are damaged variants of a valid file: each made
// parquet-go panic before the readers guarded every call into it.
var damagedParquetCases = []struct {
	name string
	edit func(*format.FileMetaData)
}{
	{"negative page index length", negativeColumnIndexLength},
	{"negative offset index length", func(md *format.FileMetaData) {
		c := &md.RowGroups[0].Columns[0]
		c.OffsetIndexLength = -7
		if c.OffsetIndexOffset == 0 {
			c.OffsetIndexOffset = 4
		}
	}},
	{"row group without columns", func(md *format.FileMetaData) { md.RowGroups[0].Columns = nil }},
}

// TestParquetDamagedFooterIsAnError is the regression test for the panic in
// issue #14: every reader reports a damaged footer as an error naming the
// file instead of crashing the program.
func TestParquetDamagedFooterIsAnError(t *testing.T) {
	readers := []struct {
		name  string
		write func(t *testing.T, dir string) string
		read  func(path string) error
	}{
		{"corpus", func(t *testing.T, dir string) string {
			return writeParquet(t, dir, "corpus.parquet", []hfRow{{1, "hello", "u"}, {2, "world", "v"}}, 10)
		}, func(p string) error { _, err := ReadCorpus(p); return err }},
		{"conversations", func(t *testing.T, dir string) string {
			return writeParquet(t, dir, "chats.parquet", []messagesRow{
				{ID: 1, Messages: []pqMsg{{"user", "hi"}, {"assistant", "hello"}}},
			}, 10)
		}, func(p string) error { _, err := ReadConversations(p); return err }},
		{"preferences", func(t *testing.T, dir string) string {
			return writeParquet(t, dir, "prefs.parquet", []pairRow{{"p", "good", "bad"}}, 10)
		}, func(p string) error { _, err := ReadPreferences(p); return err }},
	}
	for _, r := range readers {
		for _, c := range damagedParquetCases {
			t.Run(r.name+"/"+c.name, func(t *testing.T) {
				p := r.write(t, t.TempDir())
				require.NoError(t, r.read(p), "the undamaged file reads")
				rewriteFooter(t, p, c.edit)
				var err error
				require.NotPanics(t, func() { err = r.read(p) })
				require.Error(t, err)
				assert.True(t, strings.HasPrefix(err.Error(), "data: "+p), "error %q names the file", err)
				assert.Contains(t, err.Error(), "reading parquet")
			})
		}
	}
}

// TestParquetFooterLengthPastStart checks the footer length is checked
// against the file size before parquet-go allocates a buffer of that size.
func TestParquetFooterLengthPastStart(t *testing.T) {
	dir := t.TempDir()
	p := writeParquet(t, dir, "big.parquet", []hfRow{{1, "hello", "u"}}, 10)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	binary.LittleEndian.PutUint32(b[len(b)-8:], 0xfffffff0)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	_, err = ReadCorpus(p)
	assert.EqualError(t, err, "data: "+p+": reading parquet: damaged file: footer length 4294967280 does not fit in the file's "+
		strconv.Itoa(len(b))+" bytes")
}

// TestParquetPanicIsAnError: a file whose page index entries point outside the region parquet-go
// reads for them (found by fuzzing; parquet-go panics with "slice bounds out of range" in
// ReadPageIndex) is an error naming the file, said once, from every reader.
func TestParquetPanicIsAnError(t *testing.T) {
	const p = "testdata/parquet/page-index-out-of-range.parquet"
	for name, read := range map[string]func(string) error{
		"corpus":        func(p string) error { _, err := ReadCorpus(p); return err },
		"conversations": func(p string) error { _, err := ReadConversations(p); return err },
		"preferences":   func(p string) error { _, err := ReadPreferences(p); return err },
	} {
		var err error
		require.NotPanics(t, func() { err = read(p) }, name)
		require.Error(t, err, name)
		assert.True(t, strings.HasPrefix(err.Error(),
			"data: "+p+": reading parquet: damaged or unsupported file (parquet-go: runtime error: "), "%s: %v", name, err)
		assert.Equal(t, 1, strings.Count(err.Error(), "data: "), "%s: the file is named once: %v", name, err)
	}
}

// TestGuardParquet: a panic becomes an error naming where; an error passes through unchanged.
func TestGuardParquet(t *testing.T) {
	err := guardParquet("f.parquet:row 3", func() error { panic("boom") })
	assert.EqualError(t, err, "data: f.parquet:row 3: reading parquet: damaged or unsupported file (parquet-go: boom)")
	want := errors.New("data: f.parquet: plain")
	assert.Same(t, want, guardParquet("f.parquet", func() error { return want }))
	assert.NoError(t, guardParquet("f.parquet", func() error { return nil }))
}
