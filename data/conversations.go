package data

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// Column (Parquet) and field (JSONL) names of the chat datasets, as in
// HuggingFace datasets and TRL.
const (
	messagesColumn   = "messages"
	promptColumn     = "prompt"
	completionColumn = "completion"
	chosenColumn     = "chosen"
	rejectedColumn   = "rejected"
	responsesColumn  = "responses"
	roleField        = "role"
	contentField     = "content"
)

// ReadConversations reads conversations for supervised fine-tuning from the
// given .jsonl and .parquet files and directories, in the order given. A
// directory contributes every .jsonl and .parquet file directly inside it,
// sorted by name (not recursively, hidden files skipped), as in [ReadCorpus].
//
// Every JSONL line (blank lines are skipped) or Parquet row is one
// conversation, in one of the HuggingFace/TRL layouts:
//   - "messages": a list of {"role", "content"} objects (Parquet: a LIST of
//     STRUCT<role, content>, as pyarrow writes it);
//   - "prompt" and "completion", each either a string or a list of messages:
//     a string prompt is one user turn and a string completion one
//     assistant turn (TRL's "prompt-completion" and "conversational
//     prompt-completion" types); the conversation is the prompt's messages
//     followed by the completion's.
//
// If a row has a non-null "messages" field, it is used and any prompt is
// ignored (datasets such as ultrachat_200k carry both). Other fields and
// columns, and other keys of a message object, are ignored. Roles must be
// "system", "user" or "assistant"; the conversation must pass
// [ValidateConversation].
//
// Each Conversation's Source is "file:line" (1-based) for JSONL and
// "file:row N" (0-based) for Parquet, like [Document.Source]. Errors name the
// file and line or row: malformed JSON, missing fields or columns, values of
// the wrong type (or null), unknown roles, empty conversations and
// conversations that do not end with an assistant turn. It is also an error
// if there are no paths, a directory has no .jsonl or .parquet files, or a
// file has no rows.
func ReadConversations(paths ...string) ([]Conversation, error) {
	var convs []Conversation
	err := readChatFiles("conversations", paths, func(src string, row map[string]any) error {
		msgs, err := parseConversation(row)
		if err != nil {
			return err
		}
		convs = append(convs, Conversation{Source: src, Messages: msgs})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return convs, nil
}

// parseConversation extracts the messages of one row.
func parseConversation(row map[string]any) ([]Message, error) {
	var msgs []Message
	if v, ok := row[messagesColumn]; ok && v != nil {
		var err error
		if msgs, err = toMessages(messagesColumn, v); err != nil {
			return nil, err
		}
	} else {
		if ok { // present but null
			return nil, fmt.Errorf("%q is null", messagesColumn)
		}
		_, hasPrompt := row[promptColumn]
		_, hasCompletion := row[completionColumn]
		if !hasPrompt && !hasCompletion {
			return nil, fmt.Errorf("missing field: want %q, or %q and %q (fields: %s)",
				messagesColumn, promptColumn, completionColumn, fieldNames(row))
		}
		prompt, err := turns(row, promptColumn, RoleUser)
		if err != nil {
			return nil, err
		}
		completion, err := turns(row, completionColumn, RoleAssistant)
		if err != nil {
			return nil, err
		}
		msgs = append(prompt, completion...)
	}
	if err := ValidateConversation(msgs); err != nil {
		return nil, err
	}
	return msgs, nil
}

// turns reads field name of row, which is either a string (one message with
// the given role) or a list of messages.
func turns(row map[string]any, name, role string) ([]Message, error) {
	v, ok := row[name]
	if !ok {
		return nil, fmt.Errorf("missing %q field", name)
	}
	if s, ok := asString(v); ok {
		return []Message{{Role: role, Content: s}}, nil
	}
	if _, ok := v.([]any); ok {
		return toMessages(name, v)
	}
	return nil, fmt.Errorf("%q is %s, want a string or a list of messages", name, kindOf(v))
}

// toMessages converts a decoded list of {"role", "content"} objects.
func toMessages(name string, v any) ([]Message, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%q is %s, want a list of messages", name, kindOf(v))
	}
	msgs := make([]Message, len(list))
	for i, e := range list {
		obj, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s[%d] is %s, want an object with %q and %q", name, i, kindOf(e), roleField, contentField)
		}
		for _, f := range [...]string{roleField, contentField} {
			fv, ok := obj[f]
			if !ok {
				return nil, fmt.Errorf("%s[%d]: missing %q", name, i, f)
			}
			s, ok := asString(fv)
			if !ok {
				return nil, fmt.Errorf("%s[%d]: %q is %s, want a string", name, i, f, kindOf(fv))
			}
			if f == roleField {
				msgs[i].Role = s
			} else {
				msgs[i].Content = s
			}
		}
	}
	return msgs, nil
}

// asString returns v as a string if it is one (a JSON string, or a Parquet
// string or binary value).
func asString(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case []byte:
		return string(s), true
	}
	return "", false
}

// kindOf names the type of a decoded JSON or Parquet value, for errors.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string, []byte:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	case bool:
		return "a boolean"
	case float32, float64, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, json.Number:
		return "a number"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// fieldNames lists the keys of row, sorted, for errors.
func fieldNames(row map[string]any) string {
	if len(row) == 0 {
		return "none"
	}
	names := make([]string, 0, len(row))
	for k := range row {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// rowFunc handles one row of a chat dataset; src is its Source. Its error is
// prefixed with "data: src: ".
type rowFunc func(src string, row map[string]any) error

// readChatFiles calls fn for every row of the .jsonl and .parquet files and
// directories in paths; what names the dataset kind in errors.
func readChatFiles(what string, paths []string, fn rowFunc) error {
	if len(paths) == 0 {
		return fmt.Errorf("data: reading %s: no input paths", what)
	}
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("data: reading %s: %w", what, err)
		}
		files := []string{p}
		if info.IsDir() {
			if files, err = dataFiles(p, ".jsonl", ".parquet"); err != nil {
				return err
			}
		}
		for _, f := range files {
			if err := readChatFile(f, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// readChatFile calls fn for every row of one file; a file without rows is an
// error.
func readChatFile(path string, fn rowFunc) error {
	var rows int
	count := func(src string, row map[string]any) error {
		rows++
		return fn(src, row)
	}
	var err error
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".jsonl":
		err = readJSONLRows(path, count)
	case ".parquet":
		err = readParquetMaps(path, count)
	default:
		return fmt.Errorf("data: %s: unsupported file extension %q (want .jsonl or .parquet)", path, ext)
	}
	if err != nil {
		return err
	}
	if rows == 0 {
		return fmt.Errorf("data: %s: file contains no rows", path)
	}
	return nil
}

// readJSONLRows calls fn with the object on every non-blank line.
func readJSONLRows(path string, fn rowFunc) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("data: %s: %w", path, err)
	}
	defer f.Close()

	r := bufio.NewReaderSize(f, 1<<16)
	var line []byte
	for lineNo := 1; ; lineNo++ {
		line, err = readLine(r, line[:0])
		if (len(line) > 0 || err == nil) && len(bytes.TrimSpace(line)) > 0 {
			src := fmt.Sprintf("%s:%d", path, lineNo)
			row, perr := parseJSONObject(line)
			if perr == nil {
				perr = fn(src, row)
			}
			if perr != nil {
				return fmt.Errorf("data: %s: %w", src, perr)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("data: %s:%d: %w", path, lineNo, err)
		}
	}
}

// parseJSONObject decodes one JSON object.
func parseJSONObject(line []byte) (map[string]any, error) {
	var v any
	if err := json.Unmarshal(line, &v); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("line is %s, want a JSON object", kindOf(v))
	}
	return obj, nil
}

// readParquetMaps calls fn for every row of a Parquet file, decoded
// generically: strings as string, lists as []any, structs as map[string]any
// and nulls as nil, whatever the schema's optional/required choices.
func readParquetMaps(path string, fn rowFunc) (err error) {
	f, pf, err := openParquet(path)
	if err != nil {
		return err
	}
	defer f.Close()

	var schema *parquet.Schema
	var r *parquet.Reader
	err = guardParquet(path, func() error {
		schema = pf.Schema()
		r = parquet.NewReader(pf)
		return nil
	})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := closeGuarded(path, r.Close); cerr != nil && err == nil {
			err = cerr
		}
	}()
	buf := make([]parquet.Row, parquetReadBatch)
	maps := make([]map[string]any, parquetReadBatch)
	var row int64
	for {
		// Only parquet-go runs inside the guard: a panic in fn is not a
		// damaged file.
		var n int
		var rerr error
		perr := guardParquet(fmt.Sprintf("%s:row %d", path, row), func() error {
			n, rerr = r.ReadRows(buf)
			for i, pr := range buf[:n] {
				maps[i] = map[string]any{}
				if err := schema.Reconstruct(&maps[i], pr); err != nil {
					return fmt.Errorf("data: %s:row %d: reading parquet: %w", path, row+int64(i), err)
				}
			}
			return nil
		})
		if perr != nil {
			return perr
		}
		// The final rows arrive together with io.EOF: use them first.
		for _, m := range maps[:n] {
			src := fmt.Sprintf("%s:row %d", path, row)
			if err := fn(src, m); err != nil {
				return fmt.Errorf("data: %s: %w", src, err)
			}
			row++
		}
		clear(maps)
		if errors.Is(rerr, io.EOF) {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("data: %s:row %d: reading parquet: %w", path, row, rerr)
		}
		if n == 0 {
			return fmt.Errorf("data: %s:row %d: parquet reader made no progress", path, row)
		}
	}
}
