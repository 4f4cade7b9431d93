package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/prompt"
	"github.com/tinychat-go/tinychat/retrieval"
	"github.com/tinychat-go/tinychat/tools"
)

// extras are what -docs, -fewshot and -tools add to the model.
type extras struct {
	// passages are -docs split into passages, and retriever their BM25 index (nil without
	// -docs).
	passages  []retrieval.Passage
	retriever retrieval.Retriever
	// examples are -fewshot's examples.
	examples []prompt.Example
	// tools are the tools the model may call; nil when tools are off (see fit).
	tools *tools.Registry
}

// loadExtras reads the files named by -docs, -encoder and -fewshot and indexes the passages
// (by BM25, or with -encoder by the encoder's vectors). Its errors name the flag, the file
// and, for a bad line, the line.
func loadExtras(ctx context.Context, o options) (extras, error) {
	var ex extras
	if o.docs != "" {
		docs, err := readDocs(o.docs)
		if err != nil {
			return ex, fmt.Errorf("-docs %s: %w", o.docs, err)
		}
		ex.passages = retrieval.Split(docs, 0)
		if len(ex.passages) == 0 {
			return ex, fmt.Errorf("-docs %s: no passages: the documents are empty", o.docs)
		}
		if o.encoder == "" {
			bm, err := retrieval.NewBM25(ex.passages, 0, 0)
			if err != nil {
				return ex, fmt.Errorf("-docs %s: %w", o.docs, err)
			}
			ex.retriever = bm
		} else {
			enc, err := retrieval.LoadEncoder(o.encoder)
			if err != nil {
				return ex, fmt.Errorf("-encoder: %w", err)
			}
			idx, err := retrieval.NewFlatIndex(enc.Dim())
			if err != nil {
				return ex, fmt.Errorf("-encoder %s: %w", o.encoder, err)
			}
			if ex.retriever, err = retrieval.NewVectors(ctx, enc, idx, ex.passages); err != nil {
				return ex, fmt.Errorf("-encoder %s: %w", o.encoder, err)
			}
		}
	}
	if o.fewshot != "" {
		f, err := os.Open(o.fewshot)
		if err != nil {
			return ex, fmt.Errorf("-fewshot: %w", err)
		}
		defer f.Close()
		if ex.examples, err = prompt.ReadExamples(f); err != nil {
			return ex, fmt.Errorf("-fewshot %s: %w", o.fewshot, err)
		}
		if len(ex.examples) == 0 {
			return ex, fmt.Errorf("-fewshot %s: no examples", o.fewshot)
		}
	}
	return ex, nil
}

// fit checks the flags against the checkpoint's tokenizer and turns the tools on: with -tools,
// or by default when the tokenizer has the tool tokens (and -fewshot is not given). A model
// whose tokenizer predates the tool tokens can neither call tools nor read a context turn.
func (ex *extras) fit(o options, tok tokenizer.Tokenizer) error {
	on := o.tools
	if !o.toolsSet {
		on = o.fewshot == "" && tokenizer.HasToolTokens(tok)
	}
	if err := tokenizer.RequireToolTokens(tok); err != nil {
		switch {
		case on:
			return fmt.Errorf("-tools: %w", err)
		case o.rag > 0:
			return fmt.Errorf("-rag: the model cannot read a context turn: %w", err)
		}
	}
	if o.docs != "" && !on && o.rag == 0 {
		return fmt.Errorf("-docs %s: nothing uses the passages: give -rag K, or -tools for the search tool", o.docs)
	}
	if !on {
		ex.tools = nil
		return nil
	}
	var err error
	ex.tools, err = ex.registry()
	return err
}

// registry is the calculator and, with passages, the search tool over them.
func (ex *extras) registry() (*tools.Registry, error) {
	ts := []tools.Tool{tools.Calculator{}}
	if ex.retriever != nil {
		ts = append(ts, tools.Search{Retriever: ex.retriever})
	}
	return tools.NewRegistry(ts...)
}

// readDocs reads a folder of .txt and .md files (its subfolders too, in lexical order; each
// file a document named by its path in the folder), one such file, or a JSONL file of
// {"text": ..., "doc": ...} objects (each a document named doc, or "FILE:LINE" without one).
func readDocs(path string) ([]retrieval.Document, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		switch ext := strings.ToLower(filepath.Ext(path)); ext {
		case ".jsonl":
			return readJSONLDocs(path)
		case ".txt", ".md":
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			return []retrieval.Document{{Name: filepath.Base(path), Text: string(b)}}, nil
		default:
			return nil, fmt.Errorf("not a folder, a .txt or .md file or a .jsonl file")
		}
	}
	var docs []retrieval.Document
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := strings.ToLower(filepath.Ext(p)); d.IsDir() || (ext != ".txt" && ext != ".md") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		name, err := filepath.Rel(path, p)
		if err != nil {
			name = p
		}
		docs = append(docs, retrieval.Document{Name: filepath.ToSlash(name), Text: string(b)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, errors.New("the folder has no .txt or .md files")
	}
	return docs, nil
}

// readJSONLDocs reads a JSONL file of passages.
func readJSONLDocs(path string) ([]retrieval.Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var docs []retrieval.Document
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var row struct {
			Text *string `json:"text"`
			Doc  string  `json:"doc"`
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&row); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("line %d: more than one JSON value", n)
		}
		if row.Text == nil || strings.TrimSpace(*row.Text) == "" {
			return nil, fmt.Errorf(`line %d: "text" is missing or empty`, n)
		}
		name := row.Doc
		if name == "" {
			name = fmt.Sprintf("%s:%d", filepath.Base(path), n)
		}
		docs = append(docs, retrieval.Document{Name: name, Text: *row.Text})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, errors.New("no passages in the file")
	}
	return docs, nil
}

// passageNames lists hits as "DOC#ID", the passage's number in -docs.
func passageNames(hits []retrieval.Hit) string {
	names := make([]string, len(hits))
	for i, h := range hits {
		names[i] = fmt.Sprintf("%s#%d", h.Passage.Doc, h.Passage.ID)
	}
	return strings.Join(names, ", ")
}

// nearestShots returns the k examples nearest to question by their words, the nearest last
// (right before the question).
func nearestShots(ctx context.Context, examples []prompt.Example, question string, k int) ([]prompt.Example, error) {
	shots, err := prompt.Nearest(ctx, examples, question, k, prompt.HashEmbedder{})
	slices.Reverse(shots)
	return shots, err
}
