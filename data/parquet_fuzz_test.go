package data

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
	"github.com/stretchr/testify/require"
)

// The fuzz targets below feed damaged Parquet files to the three Parquet
// readers; they must return an error naming the file (or read the file),
// never panic. Their seeds are valid files the tests write plus damaged
// variants of them, also committed under testdata/fuzz (regenerate with
// go test ./data -run TestWriteParquetFuzzSeeds -write-fuzz-seeds).

var writeFuzzSeeds = flag.Bool("write-fuzz-seeds", false, "rewrite the Parquet fuzz seed corpora under testdata/fuzz")

// parquetSeedFiles writes the valid files each fuzz target starts from.
func parquetSeedFiles(t testing.TB, target string) [][]byte {
	dir, err := os.MkdirTemp("", "parquet-seeds")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	var paths []string
	switch target {
	case "corpus":
		paths = []string{
			writeParquet(t, dir, "hf.parquet", []hfRow{{1, "hello", "u"}, {2, "wörld\n", "v"}, {3, "", "w"}}, 2),
			writeParquet(t, dir, "opt.parquet", []optionalTextRow{{ptr("a b c")}, {ptr("d")}}, 10),
		}
	case "conversations":
		paths = []string{
			writeParquet(t, dir, "msgs.parquet", []messagesRow{
				{ID: 1, Messages: []pqMsg{{"user", "hi"}, {"assistant", "hello"}}},
				{ID: 2, Messages: []pqMsg{{"system", "s"}, {"user", "x"}, {"assistant", "y"}}},
			}, 1),
			writeParquet(t, dir, "pyarrow.parquet", []pyarrowMessagesRow{
				{Prompt: ptr("p"), Messages: []*pqOptMsg{{ptr("user"), ptr("q")}, {ptr("assistant"), ptr("r")}}},
			}, 10),
			writeParquet(t, dir, "pc.parquet", []promptCompletionRow{{"2+2?", "4"}}, 10),
		}
	case "preferences":
		paths = []string{
			writeParquet(t, dir, "pair.parquet", []pairRow{{"p", "good", "bad"}, {"q", "yes", "no"}}, 1),
			writeParquet(t, dir, "rank.parquet", []rankRow{{"p", []string{"a", "b", "c"}}}, 10),
			writeParquet(t, dir, "conv.parquet", []convPairRow{{
				Prompt: []pqMsg{{"user", "hi"}}, Chosen: []pqMsg{{"assistant", "hello"}}, Rejected: []pqMsg{{"assistant", "go away"}},
			}}, 10),
			writeParquet(t, dir, "turns.parquet", []turnRankRow{{"p", [][]pqMsg{
				{{"tool_call", "look p"}, {"tool_result", "q"}, {"assistant", "q."}}, {{"assistant", "r."}}, {{"assistant", ""}},
			}}}, 10),
		}
	default:
		t.Fatalf("unknown fuzz target %q", target)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		out = append(out, b)
	}
	return out
}

// damagedVariants returns damaged copies of a valid Parquet file: footer
// fields edited (as in damagedParquetCases), a truncated file, bytes flipped
// in the pages and in the footer, and a footer length past the start.
func damagedVariants(tb testing.TB, valid []byte) [][]byte {
	n := len(valid)
	size := int(binary.LittleEndian.Uint32(valid[n-8 : n-4]))
	footerStart := n - 8 - size
	var out [][]byte
	for _, c := range damagedParquetCases {
		var md format.FileMetaData
		require.NoError(tb, thrift.Unmarshal(new(thrift.CompactProtocol), valid[footerStart:n-8], &md))
		c.edit(&md)
		nf, err := thrift.Marshal(new(thrift.CompactProtocol), &md)
		require.NoError(tb, err)
		b := append(bytes.Clone(valid[:footerStart]), nf...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(nf)))
		out = append(out, append(b, "PAR1"...))
	}
	out = append(out, bytes.Clone(valid[:n/2]), bytes.Clone(valid[:n-1]))
	for _, at := range []int{4 + (footerStart-4)/2, footerStart + size/2, footerStart + 3} {
		b := bytes.Clone(valid)
		b[at] ^= 0xff
		out = append(out, b)
	}
	b := bytes.Clone(valid)
	binary.LittleEndian.PutUint32(b[n-8:], uint32(n))
	return append(out, b)
}

// fuzzParquetReader runs read on every fuzz input written to a file: an error
// must name the file, and nothing may panic (the fuzzer reports a panic).
func fuzzParquetReader(f *testing.F, target string, read func(path string) (int, error)) {
	for _, valid := range parquetSeedFiles(f, target) {
		f.Add(valid)
		for _, b := range damagedVariants(f, valid) {
			f.Add(b)
		}
	}
	// Damaged files that made parquet-go panic after the footer checks.
	found, err := filepath.Glob(filepath.Join("testdata", "parquet", "*.parquet"))
	require.NoError(f, err)
	for _, p := range found {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "input.parquet")
		require.NoError(t, os.WriteFile(p, b, 0o644))
		n, err := read(p)
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "data: "+p), "error %q does not name the file", err)
			return
		}
		require.Positive(t, n, "a file read without error has rows")
	})
}

func FuzzReadCorpusParquet(f *testing.F) {
	fuzzParquetReader(f, "corpus", func(p string) (int, error) {
		docs, err := ReadCorpus(p)
		return len(docs), err
	})
}

func FuzzReadConversationsParquet(f *testing.F) {
	fuzzParquetReader(f, "conversations", func(p string) (int, error) {
		convs, err := ReadConversations(p)
		return len(convs), err
	})
}

func FuzzReadPreferencesParquet(f *testing.F) {
	fuzzParquetReader(f, "preferences", func(p string) (int, error) {
		prefs, err := ReadPreferences(p)
		return len(prefs), err
	})
}

// TestWriteParquetFuzzSeeds writes the seed corpora under testdata/fuzz when
// run with -write-fuzz-seeds; otherwise it checks they are there.
func TestWriteParquetFuzzSeeds(t *testing.T) {
	for target, name := range map[string]string{
		"corpus":        "FuzzReadCorpusParquet",
		"conversations": "FuzzReadConversationsParquet",
		"preferences":   "FuzzReadPreferencesParquet",
	} {
		dir := filepath.Join("testdata", "fuzz", name)
		if !*writeFuzzSeeds {
			entries, err := os.ReadDir(dir)
			require.NoError(t, err, "seed corpus missing: run go test ./data -run TestWriteParquetFuzzSeeds -write-fuzz-seeds")
			require.NotEmpty(t, entries)
			continue
		}
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for i, valid := range parquetSeedFiles(t, target) {
			inputs := append([][]byte{valid}, damagedVariants(t, valid)...)
			for j, b := range inputs {
				kind := "valid"
				if j > 0 {
					kind = fmt.Sprintf("damaged-%02d", j)
				}
				content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
				require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d-%s", i, kind)), []byte(content), 0o644))
			}
		}
	}
}
