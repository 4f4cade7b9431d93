package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tinychat-go/tinychat/data/tokenizer"
)

// The names of GPT-2's original tokenizer files, which transformers' slow GPT2Tokenizer reads
// (and tokenizers' GPT2Converter turns into a tokenizer.json): [GPT2Files] makes their
// content, and [WriteHF] writes them in a Hugging Face directory when the tokenizer pre-splits
// as GPT-2 does. See [GPT2Files]'s example.
const (
	HFVocabFile  = "vocab.json"
	HFMergesFile = "merges.txt"
)

// GPT2Files returns a BPE tokenizer as GPT-2's vocab.json and merges.txt, byte for byte as
// transformers' GPT2Tokenizer.save_vocabulary writes them: vocab.json maps every token string
// ([tokenizer.TokenStrings]: GPT-2's byte-to-unicode form, the specials under their names) to
// its ID, as JSON with 2-space indentation, keys sorted, non-ASCII characters unescaped and a
// final newline; merges.txt is the line "#version: 0.2" and then one merge per line, its two
// token strings separated by a space, in rank order (t's merge order). IDs are unchanged.
//
// GPT2Tokenizer pre-splits text with GPT-2's rule, so it encodes as t does only when t uses
// that rule ([tokenizer.PreSplitGPT2]); WriteHF writes these files only then.
func GPT2Files(t *tokenizer.BPE) (vocabJSON, mergesTxt []byte, err error) {
	vocabJSON, mergesTxt, err = gpt2Files(t)
	if err != nil {
		return nil, nil, fmt.Errorf("export: %w", err)
	}
	return vocabJSON, mergesTxt, nil
}

// gpt2Files is GPT2Files with errors that name the file at fault but not the package (WriteHF
// says that once, with the directory).
func gpt2Files(t *tokenizer.BPE) (vocabJSON, mergesTxt []byte, err error) {
	strs, err := tokenizer.TokenStrings(t)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", HFVocabFile, err)
	}
	vocab := make(map[string]int, len(strs))
	for id, s := range strs {
		vocab[s] = id
	}
	// encoding/json sorts map keys by their bytes, which for UTF-8 is Python's code-point
	// order; HTML escaping off, as Python has none.
	var vb bytes.Buffer
	enc := json.NewEncoder(&vb)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(vocab); err != nil { // Encode ends with the newline
		return nil, nil, fmt.Errorf("%s: %w", HFVocabFile, err)
	}
	var mb strings.Builder
	mb.WriteString("#version: 0.2\n")
	for _, m := range t.Merges() {
		mb.WriteString(strs[m[0]] + " " + strs[m[1]] + "\n")
	}
	return vb.Bytes(), []byte(mb.String()), nil
}
