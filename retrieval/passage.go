package retrieval

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultMaxPassage is the longest passage Split makes, in bytes, when its max is 0.
const DefaultMaxPassage = 400

// Document is a named text to retrieve from.
type Document struct {
	// Name identifies the document (a file name, a title).
	Name string
	Text string
}

// Passage is a piece of a document, the unit that is retrieved.
type Passage struct {
	// ID is the passage's index in the slice Split returned.
	ID int
	// Doc is the name of the document it comes from.
	Doc  string
	Text string
}

// Split cuts documents into passages of at most max bytes (0 means DefaultMaxPassage), in
// document order, numbered from 0. Each paragraph (text between blank lines) starts a new
// passage; a paragraph longer than max is cut between sentences (after '.', '!' or '?' and a
// space), consecutive sentences packed into one passage while they fit, and a sentence
// longer than max is cut between words (or, for a word longer than max, at a character
// boundary). Whitespace inside a passage is collapsed to single spaces; empty passages are
// dropped.
func Split(docs []Document, max int) []Passage {
	if max <= 0 {
		max = DefaultMaxPassage
	}
	var out []Passage
	for _, d := range docs {
		for _, para := range paragraphs(d.Text) {
			for _, text := range pack(sentences(para), max) {
				out = append(out, Passage{ID: len(out), Doc: d.Name, Text: text})
			}
		}
	}
	return out
}

// paragraphs splits text at blank lines and collapses the whitespace of each paragraph.
func paragraphs(text string) []string {
	var out []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, " "))
			cur = cur[:0]
		}
	}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			flush()
			continue
		}
		cur = append(cur, f...)
	}
	flush()
	return out
}

// sentences splits a whitespace-collapsed paragraph after each '.', '!' or '?' followed by a
// space.
func sentences(para string) []string {
	var out []string
	start := 0
	for i := 0; i+1 < len(para); i++ {
		switch para[i] {
		case '.', '!', '?':
			if para[i+1] == ' ' {
				out = append(out, para[start:i+1])
				start = i + 2
			}
		}
	}
	if start < len(para) {
		out = append(out, para[start:])
	}
	return out
}

// pack joins consecutive sentences with spaces into pieces of at most max bytes, cutting
// longer sentences between words.
func pack(sents []string, max int) []string {
	var out []string
	cur := ""
	add := func(s string) {
		switch {
		case cur == "":
			cur = s
		case len(cur)+1+len(s) <= max:
			cur += " " + s
		default:
			out = append(out, cur)
			cur = s
		}
	}
	for _, s := range sents {
		if len(s) <= max {
			add(s)
			continue
		}
		for _, w := range strings.Fields(s) {
			for len(w) > max {
				n := max
				for n > 0 && !utf8.RuneStart(w[n]) {
					n--
				}
				if n == 0 {
					n = max // max is smaller than one character: cut anyway
				}
				add(w[:n])
				w = w[n:]
			}
			add(w)
		}
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

// Terms splits text into lower-case terms: maximal runs of letters and digits. It is the
// tokenization BM25 uses.
func Terms(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}
