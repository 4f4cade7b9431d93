package model

import (
	"encoding/json"
	"fmt"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/internal/kernels"
)

// The metadata keys that describe a checkpoint to a reimplementation (format version 2 on;
// docs/checkpoint-format.md). Save writes them from the code that runs the model, so they
// cannot drift from it; loading does not need them.
const (
	// metaArchitecture holds the computation as JSON (architectureDoc).
	metaArchitecture = "architecture"
	// metaTokenizerLayout holds the tokenizer's ID layout as JSON (tokenizerLayoutDoc).
	metaTokenizerLayout = "tokenizer_layout"
	// metaChatTemplate holds the chat template, as text.
	metaChatTemplate = "chat_template"
)

// describeVersion is the version of the descriptions' own layout.
const describeVersion = 1

// architectureDoc says how the model computes, as the graph and the engine do.
type architectureDoc struct {
	Version          int     `json:"version"`
	Model            string  `json:"model"`
	LayerNormEpsilon float64 `json:"layer_norm_epsilon"`
	LayerNorm        string  `json:"layer_norm"`
	Activation       string  `json:"activation"`
	Attention        string  `json:"attention"`
	WeightLayout     string  `json:"weight_layout"`
	Embeddings       string  `json:"embeddings"`
	Block            string  `json:"block"`
	Head             string  `json:"head"`
	ScalarHead       string  `json:"scalar_head,omitempty"`
	LinearBias       bool    `json:"linear_bias"`
	Dropout          string  `json:"dropout"`
	DType            string  `json:"dtype"`
}

// specialToken is one special token and its ID.
type specialToken struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
}

// tokenizerLayoutDoc says how the tokenizer's IDs are laid out.
type tokenizerLayoutDoc struct {
	Version         int            `json:"version"`
	Kind            string         `json:"kind"`
	VocabSize       int            `json:"vocab_size"`
	SpecialTokens   []specialToken `json:"special_tokens"`
	FirstOrdinaryID int            `json:"first_ordinary_id"`
	IDLayout        string         `json:"id_layout"`
	PreSplit        string         `json:"pre_split,omitempty"`
	Encode          string         `json:"encode"`
}

// specialTokens lists the special tokens tok has, with their IDs: the leading IDs that decode
// to tokenizer.SpecialNames (older tokenizers have fewer than this version's).
func specialTokens(tok tokenizer.Tokenizer) []specialToken {
	var out []specialToken
	for id, name := range tokenizer.SpecialNames {
		if id >= tok.VocabSize() {
			break
		}
		if text, err := tok.Decode([]int32{int32(id)}); err != nil || text != name {
			break
		}
		out = append(out, specialToken{ID: id, Text: name})
	}
	return out
}

// Pre-splitting rules as the tokenizer's JSON names them ("pre").
const (
	preSplitTinychatDoc = `GPT-2's pattern 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ ` +
		`with four changes: contractions match case-insensitively; combining marks (\p{M}) continue a letter run; ` +
		`a number chunk holds at most 3 digits; a whitespace run followed by a word leaves only a final ' ' to the word ` +
		`(a run ending in other whitespace stays whole). Invalid UTF-8 bytes count as symbols, one byte each.`
	preSplitGPT2Doc = `GPT-2's pattern 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+, exactly.`
)

// describeTokenizer returns the tokenizer's layout.
func describeTokenizer(tok tokenizer.Tokenizer) (tokenizerLayoutDoc, error) {
	specials := specialTokens(tok)
	d := tokenizerLayoutDoc{
		Version: describeVersion, Kind: tok.Kind(), VocabSize: tok.VocabSize(),
		SpecialTokens: specials, FirstOrdinaryID: len(specials),
		Encode: "Encode never produces a special token: their texts in input are encoded as ordinary text; " +
			"special tokens are inserted as IDs (chat_template).",
	}
	s := len(specials)
	switch tok.Kind() {
	case tokenizer.KindChar:
		d.IDLayout = fmt.Sprintf("IDs 0..%d are the special tokens; ID %d+i is the i-th rune of the tokenizer JSON's "+
			`"alphabet" (one ID per rune; text with other runes cannot be encoded).`, s-1, s)
	case tokenizer.KindBPE:
		d.IDLayout = fmt.Sprintf("byte-level BPE: IDs 0..%d are the special tokens; ID %d+b is the single byte b (0..255); "+
			`ID %d+i is merge i of the tokenizer JSON's "merges" ([left, right] IDs; a token's bytes are its parts' bytes `+
			"concatenated). Encoding applies merges within each pre-split chunk in merge order, lowest first, each to "+
			"all its occurrences left to right.", s-1, s, s+256)
		var form struct {
			Pre string `json:"pre"`
		}
		raw, err := tok.MarshalJSON()
		if err != nil {
			return d, err
		}
		if err := json.Unmarshal(raw, &form); err != nil {
			return d, err
		}
		switch form.Pre {
		case "":
			d.PreSplit = preSplitTinychatDoc
		case "gpt2":
			d.PreSplit = preSplitGPT2Doc
		default:
			d.PreSplit = fmt.Sprintf("%q (see the data/tokenizer package)", form.Pre)
		}
		d.PreSplit = "Text is cut into chunks before BPE and merges never cross chunks: " + d.PreSplit
	}
	return d, nil
}

// describeArchitecture returns the computation of a model with config c.
func describeArchitecture(c Config) architectureDoc {
	d := architectureDoc{
		Version:          describeVersion,
		Model:            "GPT-2-style decoder-only transformer with pre-LayerNorm blocks",
		LayerNormEpsilon: kernels.LayerNormEps,
		LayerNorm:        "y = (x − mean(x)) / sqrt(var(x) + epsilon) · weight + bias over the last dimension, var the biased (population) variance",
		Activation:       "GELU, tanh approximation: 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³)))",
		Attention: fmt.Sprintf("causal multi-head self-attention, %d heads of %d: attn.c_attn's %d output columns are "+
			"[q | k | v], each laid out [head, head_dim]; scores q·kᵀ/sqrt(head_dim), positions after the query masked out, "+
			"softmax over the keys (no attention dropout); the heads' outputs concatenated [head, head_dim] go through attn.c_proj",
			c.Heads, c.HeadDim(), 3*c.Width),
		WeightLayout: "matrices are stored [in, out] as GPT-2's Conv1D stores them, so a layer computes x·W (+ b); " +
			"wte is [vocab, width], wpe [block, width]",
		Embeddings: "x = wte[token] + wpe[position] (learned absolute positions, 0-based)",
		Block: "x = x + attn.c_proj(attention(attn.c_attn(ln_1(x)))); x = x + mlp.c_proj(gelu(mlp.c_fc(ln_2(x)))); " +
			"mlp.c_fc is [width, 4·width]",
		Head:       "logits = ln_f(x)·wteᵀ (tied to the token embedding)",
		LinearBias: c.LinearBias,
		Dropout:    "training only: on the embeddings' sum and on each block's two branches before the residual add",
		DType:      "float32",
	}
	if c.UntiedHead {
		d.Head = "logits = ln_f(x)·lm_head.weightᵀ (lm_head.weight is [vocab, width])"
	}
	if c.ScalarHead {
		d.ScalarHead = "value = ln_f(x)·score.weight + score.bias at every position (reward and value models read it at the last token)"
	}
	if !c.LinearBias {
		d.WeightLayout += "; attn.c_attn, attn.c_proj, mlp.c_fc and mlp.c_proj have no bias (the LayerNorms do)"
	}
	return d
}

// chatTemplateDoc describes the chat template of data.RenderChat and data.RenderPrompt
// (TestChatTemplateDocMatchesRenderChat keeps the two together).
const chatTemplateDoc = `A conversation is rendered as token IDs: <|bos|>, then an optional system message as ` +
	`its text followed by <|end|> (no role token), then each turn as <|user|> text <|end|>, <|context|> ` +
	`passages (one per line) <|end|>, or <|assistant|> text <|end|>, the text encoded with the tokenizer ` +
	`(never producing special tokens). Example: <|bos|>be brief<|end|><|user|>hi<|end|><|assistant|>hello<|end|>. ` +
	`An assistant turn may call tools inside it: text <|tool_call|> call <|tool_call_end|> <|tool_result|> ` +
	`result <|tool_result_end|> text, as in <|bos|><|user|>sum?<|end|><|assistant|>let me see<|tool_call|>calc 3 + 4` +
	`<|tool_call_end|><|tool_result|>7<|tool_result_end|>it is 7<|end|>; the runtime, not the model, writes ` +
	`the tool result. A prompt for a reply ends with <|assistant|>; the model writes the reply and ends it ` +
	`with <|end|>. SFT trains on what the model writes in assistant turns (text, tool calls with their ` +
	`markers, the closing <|end|>) only. Pretraining (package pretrain) puts <|bos|> before every document. ` +
	`Tokenizers without the tool tokens (5 special tokens) render only system, user and assistant turns.`

// describe adds the self-description entries to a checkpoint's metadata.
func describe(meta map[string]string, c Config, tok tokenizer.Tokenizer) error {
	arch, err := json.Marshal(describeArchitecture(c))
	if err != nil {
		return err
	}
	td, err := describeTokenizer(tok)
	if err != nil {
		return fmt.Errorf("describing the tokenizer: %w", err)
	}
	layout, err := json.Marshal(td)
	if err != nil {
		return err
	}
	meta[metaArchitecture] = string(arch)
	meta[metaTokenizerLayout] = string(layout)
	meta[metaChatTemplate] = chatTemplateDoc
	return nil
}
