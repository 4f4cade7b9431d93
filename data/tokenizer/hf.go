package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// TinychatSplitRegex is PreSplitTinychat written as a regular expression for Hugging Face
// tokenizers' Split pre-tokenizer (Oniguruma syntax, which @huggingface/tokenizers translates
// to JavaScript): the package documentation's rules in order, with Go's unicode.IsSpace set
// spelled out instead of \s.
const TinychatSplitRegex = `'(?:[sSdDmMtT]|[rR][eE]|[vV][eE]|[lL][lL])` +
	`| ?\p{L}[\p{L}\p{M}]*` +
	`| ?\p{N}{1,3}` +
	`| ?[^` + hfSpaces + `\p{L}\p{N}]+` +
	`|[` + hfSpaces + `]+(?= [^` + hfSpaces + `])` +
	`|[` + hfSpaces + `]+`

// hfSpaces is the set of unicode.IsSpace in a regular expression character class.
const hfSpaces = `\t\n\x{0B}\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}`

// hfTokenizer is the part of a Hugging Face tokenizer.json this package writes and reads.
type hfTokenizer struct {
	Version       string          `json:"version"`
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         hfModel         `json:"model"`
}

type hfAddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type hfModel struct {
	Type                    string          `json:"type"`
	Dropout                 *float64        `json:"dropout"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
	IgnoreMerges            bool            `json:"ignore_merges"`
	Vocab                   map[string]int  `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
}

// hfPreTokenizer is one pre-tokenizer of tokenizer.json (the fields this package uses).
type hfPreTokenizer struct {
	Type          string           `json:"type"`
	Pattern       *hfPattern       `json:"pattern,omitempty"`
	Behavior      string           `json:"behavior,omitempty"`
	Invert        *bool            `json:"invert,omitempty"`
	AddPrefix     *bool            `json:"add_prefix_space,omitempty"`
	TrimOffsets   *bool            `json:"trim_offsets,omitempty"`
	UseRegex      *bool            `json:"use_regex,omitempty"`
	PreTokenizers []hfPreTokenizer `json:"pretokenizers,omitempty"`
}

type hfPattern struct {
	Regex  *string `json:"Regex,omitempty"`
	String *string `json:"String,omitempty"`
}

// MarshalHF writes t as a Hugging Face tokenizer.json: a byte-level BPE model whose vocabulary
// is [TokenStrings] (IDs unchanged), whose merges are t's merges in order, and whose special
// tokens are added tokens (special, not normalized). The pre-tokenizer reproduces t's
// pre-splitting: GPT-2's ByteLevel pre-tokenizer for PreSplitGPT2, and for PreSplitTinychat a
// Split on [TinychatSplitRegex] followed by ByteLevel without its own regex. So the
// tokenizers library, given the same text, produces the same IDs as Encode (specials written
// literally in the text become special tokens there; Encode never produces them).
func (t *BPE) MarshalHF() ([]byte, error) {
	strs, err := TokenStrings(t)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	f := hfTokenizer{Version: "1.0", Model: hfModel{Type: "BPE", Vocab: make(map[string]int, len(strs))}}
	for id, s := range strs {
		f.Model.Vocab[s] = id
		if id < t.Specials() {
			f.AddedTokens = append(f.AddedTokens, hfAddedToken{ID: id, Content: s, Special: true})
		}
	}
	merges := make([]string, len(t.merges))
	for i, m := range t.merges {
		merges[i] = strs[m[0]] + " " + strs[m[1]]
	}
	if f.Model.Merges, err = json.Marshal(merges); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	yes, no := true, false
	byteLevel := hfPreTokenizer{Type: "ByteLevel", AddPrefix: &no, TrimOffsets: &yes, UseRegex: &yes}
	pre := byteLevel
	if t.pre == PreSplitTinychat {
		byteLevel.UseRegex = &no
		re := TinychatSplitRegex
		pre = hfPreTokenizer{Type: "Sequence", PreTokenizers: []hfPreTokenizer{
			{Type: "Split", Pattern: &hfPattern{Regex: &re}, Behavior: "Isolated", Invert: &no},
			byteLevel,
		}}
	}
	if f.PreTokenizer, err = json.Marshal(pre); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	f.Decoder = json.RawMessage(`{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true}`)
	f.PostProcessor = json.RawMessage(`{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false,"use_regex":true}`)
	for _, p := range []*json.RawMessage{&f.Truncation, &f.Padding, &f.Normalizer} {
		*p = json.RawMessage("null")
	}
	data, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	return data, nil
}

// HFImport is a Hugging Face byte-level BPE tokenizer mapped onto a [BPE].
//
// The BPE keeps this package's ID layout (specials, then the 256 bytes in byte order, then
// one ID per merge in merge order), so its IDs differ from the file's; FromHF maps them. Its
// encodings are the file's token for token: the same merges in the same order, and the same
// pre-splitting (PreSplitGPT2 for GPT-2's ByteLevel pre-tokenizer, PreSplitTinychat for a
// file that MarshalHF wrote).
type HFImport struct {
	// BPE is the imported tokenizer.
	BPE *BPE
	// FromHF[i] is the BPE's ID of the file's token i, or -1 for an added token that has no
	// counterpart here. An added token named like one of SpecialNames maps to that special,
	// and GPT-2's "<|endoftext|>" maps to End.
	FromHF []int32
	// Dropped lists the added tokens that map to -1.
	Dropped []string
}

// GPT2EndOfText is GPT-2's end-of-text token, which an import maps to End.
const GPT2EndOfText = "<|endoftext|>"

// ReadHF reads a Hugging Face tokenizer.json holding a byte-level BPE model (GPT-2's kind):
// a "BPE" model without unknown-token, subword-prefix or ignore-merges options, no
// normalizer, and as pre-tokenizer either GPT-2's ByteLevel (with its regex) or the Split on
// [TinychatSplitRegex] plus ByteLevel that MarshalHF writes. Everything else is an error
// wrapping [ErrInvalidData] that names the field.
func ReadHF(data []byte) (*HFImport, error) {
	var f hfTokenizer
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: tokenizer.json: %w", ErrInvalidData, err)
	}
	fail := func(format string, args ...any) (*HFImport, error) {
		return nil, fmt.Errorf("%w: tokenizer.json: %s", ErrInvalidData, fmt.Sprintf(format, args...))
	}
	m := f.Model
	switch {
	case m.Type != "BPE" && m.Type != "":
		return fail("model.type is %q; only byte-level BPE (GPT-2's kind) is supported", m.Type)
	case m.Vocab == nil:
		return fail("model.vocab is missing")
	case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "":
		return fail("model.continuing_subword_prefix %q is not supported", *m.ContinuingSubwordPrefix)
	case m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "":
		return fail("model.end_of_word_suffix %q is not supported", *m.EndOfWordSuffix)
	case m.IgnoreMerges:
		return fail("model.ignore_merges is not supported")
	}
	if n := string(bytes.TrimSpace(f.Normalizer)); n != "" && n != "null" {
		return fail("normalizer %s is not supported (want null)", n)
	}
	pre, err := hfPreSplit(f.PreTokenizer)
	if err != nil {
		return fail("pre_tokenizer: %v", err)
	}
	merges, err := hfMerges(m.Merges)
	if err != nil {
		return fail("model.merges: %v", err)
	}
	added := make(map[string]int, len(f.AddedTokens))
	for _, a := range f.AddedTokens {
		added[a.Content] = a.ID
	}
	imp, err := mapHF(m.Vocab, merges, added, pre)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	return imp, nil
}

// ReadGPT2Files reads GPT-2's original tokenizer files, vocab.json (token string → ID) and
// merges.txt (an optional "#version" line, then one "a b" merge per line). The tokenizer uses
// GPT-2's pre-splitting; "<|endoftext|>" maps to End. Errors wrap [ErrInvalidData] and name
// the file and line.
func ReadGPT2Files(vocabJSON, mergesTxt []byte) (*HFImport, error) {
	var vocab map[string]int
	if err := json.Unmarshal(vocabJSON, &vocab); err != nil {
		return nil, fmt.Errorf("%w: vocab.json: %w", ErrInvalidData, err)
	}
	var merges [][2]string
	for i, line := range strings.Split(string(mergesTxt), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || (i == 0 && strings.HasPrefix(line, "#version")) {
			continue
		}
		a, b, ok := strings.Cut(line, " ")
		if !ok || a == "" || b == "" || strings.Contains(b, " ") {
			return nil, fmt.Errorf("%w: merges.txt line %d: %q is not two tokens separated by one space", ErrInvalidData, i+1, line)
		}
		merges = append(merges, [2]string{a, b})
	}
	added := map[string]int{}
	if id, ok := vocab[GPT2EndOfText]; ok {
		added[GPT2EndOfText] = id
	}
	imp, err := mapHF(vocab, merges, added, PreSplitGPT2)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: vocab.json and merges.txt: %w", err)
	}
	return imp, nil
}

// hfPreSplit recognises the pre-tokenizers ReadHF supports.
func hfPreSplit(raw json.RawMessage) (string, error) {
	var p hfPreTokenizer
	if len(raw) == 0 || string(raw) == "null" {
		return "", errors.New("missing; a byte-level BPE needs a ByteLevel pre-tokenizer")
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", err
	}
	isByteLevel := func(p hfPreTokenizer, regex bool) bool {
		useRegex := p.UseRegex == nil || *p.UseRegex
		return p.Type == "ByteLevel" && (p.AddPrefix == nil || !*p.AddPrefix) && useRegex == regex
	}
	if isByteLevel(p, true) {
		return PreSplitGPT2, nil
	}
	if p.Type == "Sequence" && len(p.PreTokenizers) == 2 {
		s := p.PreTokenizers[0]
		if s.Type == "Split" && s.Pattern != nil && s.Pattern.Regex != nil && *s.Pattern.Regex == TinychatSplitRegex &&
			s.Behavior == "Isolated" && (s.Invert == nil || !*s.Invert) && isByteLevel(p.PreTokenizers[1], false) {
			return PreSplitTinychat, nil
		}
	}
	return "", fmt.Errorf("%s is not supported (want GPT-2's ByteLevel with use_regex and without add_prefix_space, or the Split+ByteLevel sequence tinychat writes)", raw)
}

// hfMerges parses merges in either form: ["a b", ...] or [["a","b"], ...].
func hfMerges(raw json.RawMessage) ([][2]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New("missing")
	}
	var strs []string
	if err := json.Unmarshal(raw, &strs); err == nil {
		out := make([][2]string, len(strs))
		for i, s := range strs {
			a, b, ok := strings.Cut(s, " ")
			if !ok || a == "" || b == "" || strings.Contains(b, " ") {
				return nil, fmt.Errorf("merge %d %q is not two tokens separated by one space", i, s)
			}
			out[i] = [2]string{a, b}
		}
		return out, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("neither a list of \"a b\" strings nor of [a, b] pairs: %w", err)
	}
	out := make([][2]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 || p[0] == "" || p[1] == "" {
			return nil, fmt.Errorf("merge %d %q is not a pair of tokens", i, p)
		}
		out[i] = [2]string{p[0], p[1]}
	}
	return out, nil
}

// mapHF builds the BPE and the ID map from a vocabulary, merges (token strings) and added
// tokens (content → file ID).
func mapHF(vocab map[string]int, merges [][2]string, added map[string]int, pre string) (*HFImport, error) {
	size := 0
	byID := make(map[int]string, len(vocab))
	for s, id := range vocab {
		if id < 0 {
			return nil, fmt.Errorf("%w: token %q has negative ID %d", ErrInvalidData, s, id)
		}
		if prev, dup := byID[id]; dup {
			a, b := min(prev, s), max(prev, s)
			return nil, fmt.Errorf("%w: tokens %q and %q both have ID %d", ErrInvalidData, a, b, id)
		}
		byID[id] = s
		size = max(size, id+1)
	}
	for s, id := range added {
		if id < 0 {
			return nil, fmt.Errorf("%w: added token %q has negative ID %d", ErrInvalidData, s, id)
		}
		size = max(size, id+1)
	}
	if size > 1<<22 {
		return nil, fmt.Errorf("%w: token ID %d is implausibly large", ErrInvalidData, size-1)
	}
	fromHF := make([]int, size)
	for i := range fromHF {
		fromHF[i] = -2 // unassigned
	}
	ours := map[string]int{} // byte-level string → our ID
	for b := range 256 {
		s := string(byteRune[b])
		ours[s] = byteID + b
		id, ok := vocab[s]
		if !ok {
			return nil, fmt.Errorf("%w: the vocabulary lacks the byte token %q (byte 0x%02x); a byte-level BPE needs all 256", ErrInvalidData, s, b)
		}
		fromHF[id] = byteID + b
	}
	ourMerges := make([][2]int, len(merges))
	for i, mg := range merges {
		for k, part := range mg {
			id, ok := ours[part]
			if !ok {
				return nil, fmt.Errorf("%w: merge %d (%q %q): %q is not a byte or the result of an earlier merge", ErrInvalidData, i, mg[0], mg[1], part)
			}
			ourMerges[i][k] = id
		}
		s := mg[0] + mg[1]
		if _, dup := ours[s]; dup {
			return nil, fmt.Errorf("%w: merge %d (%q %q) builds %q, which an earlier merge or a byte already is", ErrInvalidData, i, mg[0], mg[1], s)
		}
		id, ok := vocab[s]
		if !ok {
			return nil, fmt.Errorf("%w: merge %d (%q %q) builds %q, which is not in the vocabulary", ErrInvalidData, i, mg[0], mg[1], s)
		}
		ours[s] = firstMergeID + i
		fromHF[id] = firstMergeID + i
	}
	t, err := NewBPE(ourMerges, pre)
	if err != nil {
		return nil, err
	}
	imp := &HFImport{BPE: t}
	for _, s := range slices.Sorted(maps.Keys(added)) {
		id := added[s]
		if o, ok := ours[s]; ok && fromHF[id] == o {
			continue // an added token that is also an ordinary token
		}
		special := slices.Index(SpecialNames[:], s)
		if s == GPT2EndOfText {
			special = End
		}
		fromHF[id] = special // -1 when it has no counterpart
		if special < 0 {
			imp.Dropped = append(imp.Dropped, s)
		}
	}
	for s, id := range vocab {
		if fromHF[id] == -2 {
			return nil, fmt.Errorf("%w: vocabulary token %q (ID %d) is neither a byte, the result of a merge nor an added token", ErrInvalidData, s, id)
		}
	}
	imp.FromHF = make([]int32, len(fromHF))
	for id, v := range fromHF {
		if v == -2 {
			v = -1 // an ID no token uses
		}
		imp.FromHF[id] = int32(v)
	}
	return imp, nil
}
