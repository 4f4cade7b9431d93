package data

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// Encoder turns text into token IDs. The data/tokenizer package's Tokenizer
// satisfies it.
type Encoder interface {
	Encode(text string) ([]int32, error)
}

// Document is one text together with where it came from, for error messages.
type Document struct {
	// Source locates the document: the file path for whole-file formats,
	// "file.jsonl:17" (1-based line) for JSONL, and "file.parquet:row 17"
	// (0-based row index, as in HuggingFace's dataset[17]) for Parquet.
	Source string
	// Text is the document's content, exactly as stored (no trimming or
	// Unicode normalisation).
	Text string
}

// parquetReadBatch is how many Parquet rows are read per GenericReader.Read
// call.
const parquetReadBatch = 256

// textColumn is the column (Parquet) or field (JSONL) holding the document
// text, as in HuggingFace datasets.
const textColumn = "text"

// ReadCorpus reads documents from the given files and directories, in the
// order given.
//
// The format is chosen by the file extension (case-insensitive):
//   - .txt, .md or no extension: the whole file is one document;
//   - .jsonl: one JSON object per line with a "text" string field; blank
//     lines are skipped; lines may be arbitrarily long;
//   - .parquet: one document per row, from a top-level "text" string column
//     (the HuggingFace datasets layout); other columns are ignored.
//
// A directory contributes every .txt, .md, .jsonl and .parquet file directly
// inside it, sorted by name. Directories are deliberately not walked
// recursively: HuggingFace-style layouts keep splits in sibling
// subdirectories (train/, test/), and recursion would silently mix them. Pass
// each subdirectory explicitly instead. Hidden files (names starting with
// ".") and files with other extensions are skipped inside directories; given
// explicitly, a file with an unsupported extension is an error.
//
// Errors name the file, and the line (JSONL) or row (Parquet) where
// applicable: a missing "text" field, a "text" value that is not a string,
// malformed JSON, a Parquet file without a string "text" column, an
// unreadable file, an unsupported extension, and empty input (no paths, a
// directory without corpus files, or a file without any document).
func ReadCorpus(paths ...string) ([]Document, error) {
	if len(paths) == 0 {
		return nil, errors.New("data: ReadCorpus: no input paths")
	}
	var docs []Document
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("data: reading corpus: %w", err)
		}
		if !info.IsDir() {
			if docs, err = readFile(docs, p); err != nil {
				return nil, err
			}
			continue
		}
		files, err := dataFiles(p, ".txt", ".md", ".jsonl", ".parquet")
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if docs, err = readFile(docs, f); err != nil {
				return nil, err
			}
		}
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("data: %s: no documents", strings.Join(paths, ", "))
	}
	return docs, nil
}

// dataFiles lists the files directly inside dir whose extension is one of exts (lower case,
// with the dot), sorted by name; hidden files and subdirectories are skipped, symlinks followed.
func dataFiles(dir string, exts ...string) ([]string, error) {
	entries, err := os.ReadDir(dir) // sorted by file name
	if err != nil {
		return nil, fmt.Errorf("data: reading directory: %w", err)
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !slices.Contains(exts, strings.ToLower(filepath.Ext(name))) {
			continue
		}
		p := filepath.Join(dir, name)
		info, err := os.Stat(p) // follows symlinks
		if err != nil {
			return nil, fmt.Errorf("data: reading directory: %w", err)
		}
		if !info.IsDir() {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		list := exts[len(exts)-1]
		if len(exts) > 1 {
			list = strings.Join(exts[:len(exts)-1], ", ") + " or " + list
		}
		return nil, fmt.Errorf("data: %s: directory has no %s files", dir, list)
	}
	return files, nil
}

// readFile appends the documents of one file to docs.
func readFile(docs []Document, path string) ([]Document, error) {
	n := len(docs)
	var err error
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".txt", ".md", "":
		docs, err = readText(docs, path)
	case ".jsonl":
		docs, err = readJSONL(docs, path)
	case ".parquet":
		docs, err = readParquet(docs, path)
	default:
		return nil, fmt.Errorf("data: %s: unsupported file extension %q (want .txt, .md, .jsonl, .parquet or none)", path, ext)
	}
	if err != nil {
		return nil, err
	}
	if len(docs) == n {
		return nil, fmt.Errorf("data: %s: file contains no documents", path)
	}
	return docs, nil
}

// readText reads a whole file as one document. An empty file yields none.
func readText(docs []Document, path string) ([]Document, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	if len(b) == 0 {
		return docs, nil
	}
	return append(docs, Document{Source: path, Text: string(b)}), nil
}

// readJSONL reads one document per non-blank line.
func readJSONL(docs []Document, path string) ([]Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	defer f.Close()

	r := bufio.NewReaderSize(f, 1<<16)
	var line []byte
	for lineNo := 1; ; lineNo++ {
		line, err = readLine(r, line[:0])
		if len(line) > 0 || err == nil {
			if len(bytes.TrimSpace(line)) > 0 {
				src := fmt.Sprintf("%s:%d", path, lineNo)
				text, perr := parseJSONLine(line)
				if perr != nil {
					return nil, fmt.Errorf("data: %s: %w", src, perr)
				}
				docs = append(docs, Document{Source: src, Text: text})
			}
		}
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("data: %s:%d: %w", path, lineNo, err)
		}
	}
}

// readLine appends the next line (without its '\n') to buf. It returns io.EOF
// together with the final line when the input does not end in a newline, and
// io.EOF with an empty line at the very end.
func readLine(r *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		chunk, err := r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == nil {
			buf = buf[:len(buf)-1]
		}
		return buf, err
	}
}

// parseJSONLine extracts the "text" string from one JSON object.
func parseJSONLine(line []byte) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return "", fmt.Errorf("line is a JSON %s, want an object with a %q field", typeErr.Value, textColumn)
		}
		return "", fmt.Errorf("malformed JSON: %w", err)
	}
	if obj == nil { // the line was the JSON literal null
		return "", fmt.Errorf("line is JSON null, want an object with a %q field", textColumn)
	}
	raw, ok := obj[textColumn]
	if !ok {
		return "", fmt.Errorf("missing %q field", textColumn)
	}
	if len(raw) == 0 || raw[0] != '"' {
		return "", fmt.Errorf("%q field is %s, want a string", textColumn, jsonKind(raw))
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return "", fmt.Errorf("%q field: %w", textColumn, err)
	}
	return text, nil
}

// jsonKind names the JSON type of a raw (valid) value.
func jsonKind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// textRow is a Parquet row with a required "text" column.
type textRow struct {
	Text string `parquet:"text"`
}

// optionalTextRow is a Parquet row with an optional (nullable) "text" column,
// which is how pyarrow/HuggingFace usually write string columns.
type optionalTextRow struct {
	Text *string `parquet:"text,optional"`
}

// readParquet reads one document per row of the "text" column.
func readParquet(docs []Document, path string) ([]Document, error) {
	f, pf, err := openParquet(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var field parquet.Field
	err = guardParquet(path, func() (err error) {
		if field, err = parquetTextField(pf.Schema()); err != nil {
			return fmt.Errorf("data: %s: %w", path, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if field.Optional() {
		return readParquetRows(docs, path, pf, func(r *optionalTextRow) (string, bool) {
			if r.Text == nil {
				return "", false
			}
			return *r.Text, true
		})
	}
	return readParquetRows(docs, path, pf, func(r *textRow) (string, bool) {
		return r.Text, true
	})
}

// parquetTextField finds the top-level "text" column and checks that it holds
// strings.
func parquetTextField(schema *parquet.Schema) (parquet.Field, error) {
	var names []string
	for _, f := range schema.Fields() {
		if f.Name() != textColumn {
			names = append(names, f.Name())
			continue
		}
		if !f.Leaf() || f.Repeated() {
			return nil, fmt.Errorf("%q column is %s, want a string column", textColumn, describeNode(f))
		}
		t := f.Type()
		lt := t.LogicalType()
		isString := lt == nil || lt.Value == nil
		if !isString {
			_, isString = lt.Value.(*format.StringType)
		}
		if t.Kind() != parquet.ByteArray || !isString {
			return nil, fmt.Errorf("%q column has type %s, want a string column", textColumn, t)
		}
		return f, nil
	}
	return nil, fmt.Errorf("no %q column (columns: %s)", textColumn, strings.Join(names, ", "))
}

// describeNode names the shape of a non-leaf or repeated Parquet node.
func describeNode(n parquet.Node) string {
	switch {
	case n.Repeated():
		return "repeated"
	case !n.Leaf():
		return "a group"
	default:
		return n.Type().String()
	}
}

// readParquetRows reads all rows of pf as T and appends a document per row;
// get extracts the text and reports false for a null value.
func readParquetRows[T any](docs []Document, path string, pf *parquet.File, get func(*T) (string, bool)) (out []Document, err error) {
	var r *parquet.GenericReader[T]
	if err := guardParquet(path, func() error { r = parquet.NewGenericReader[T](pf); return nil }); err != nil {
		return nil, err
	}
	defer func() {
		if cerr := closeGuarded(path, r.Close); cerr != nil && err == nil {
			out, err = nil, cerr
		}
	}()
	buf := make([]T, parquetReadBatch)
	var row int64
	for {
		var n int
		var rerr error
		perr := guardParquet(fmt.Sprintf("%s:row %d", path, row), func() error {
			n, rerr = r.Read(buf)
			return nil
		})
		if perr != nil {
			return nil, perr
		}
		// The final rows arrive together with io.EOF: use them first.
		for i := range buf[:n] {
			text, ok := get(&buf[i])
			if !ok {
				return nil, fmt.Errorf("data: %s:row %d: %q is null", path, row, textColumn)
			}
			docs = append(docs, Document{Source: fmt.Sprintf("%s:row %d", path, row), Text: text})
			row++
		}
		if errors.Is(rerr, io.EOF) {
			return docs, nil
		}
		if rerr != nil {
			return nil, fmt.Errorf("data: %s:row %d: reading parquet: %w", path, row, rerr)
		}
		if n == 0 {
			// Defensive: a reader returning (0, nil) forever would spin.
			return nil, fmt.Errorf("data: %s:row %d: parquet reader made no progress", path, row)
		}
	}
}

// TokenStream encodes the documents into one token stream. If sep >= 0 it is
// written before every document, so that it separates consecutive documents
// and the stream also starts with it (nanochat-style BOS-prefixed documents;
// pass tokenizer.BOS). Pass sep = -1 for plain concatenation.
//
// Errors name the failing document's Source: an encoder error (wrapped), or
// a token ID that does not fit in int32 or is negative. sep < -1 or
// sep > math.MaxInt32 is an error.
func TokenStream(docs []Document, enc Encoder, sep int) ([]int32, error) {
	if sep < -1 || sep > math.MaxInt32 {
		return nil, fmt.Errorf("data: TokenStream: separator %d out of range (want -1 or an int32 token ID)", sep)
	}
	if enc == nil {
		return nil, errors.New("data: TokenStream: nil Encoder")
	}
	var stream []int32
	for _, d := range docs {
		ids, err := enc.Encode(d.Text)
		if err != nil {
			return nil, fmt.Errorf("data: %s: encoding: %w", d.Source, err)
		}
		stream = slices.Grow(stream, len(ids)+1)
		if sep >= 0 {
			stream = append(stream, int32(sep))
		}
		for i, id := range ids {
			if id < 0 {
				return nil, fmt.Errorf("data: %s: token %d has a negative ID %d", d.Source, i, id)
			}
		}
		stream = append(stream, ids...)
	}
	return stream, nil
}

// Split splits a token stream into a training part followed by a validation
// part, nanoGPT-style: the last valFraction of the tokens is validation. The
// validation part has round(len(tokens)*valFraction) tokens (halves rounded
// away from zero); the training part is the rest.
//
// Both results alias tokens (no copy); train's capacity is capped so that
// appending to it cannot overwrite val. It is an error if valFraction is not
// in [0, 1) or either part is shorter than minLen (for a Batcher, minLen is
// typically block+1).
func Split(tokens []int32, valFraction float64, minLen int) (train, val []int32, err error) {
	if !(valFraction >= 0 && valFraction < 1) { // also rejects NaN
		return nil, nil, fmt.Errorf("data: Split: valFraction %v not in [0, 1)", valFraction)
	}
	nVal := int(math.Round(float64(len(tokens)) * valFraction))
	nTrain := len(tokens) - nVal
	if nTrain < minLen || nVal < minLen {
		return nil, nil, fmt.Errorf("data: Split: %d tokens with valFraction %v give %d train and %d validation tokens, want at least %d each",
			len(tokens), valFraction, nTrain, nVal, minLen)
	}
	return tokens[:nTrain:nTrain], tokens[nTrain:], nil
}
