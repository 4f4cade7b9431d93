// Package tokenizer turns text into token IDs and back for tinychat models.
//
// Two tokenizers are provided:
//
//   - [Char], a character-level tokenizer (one ID per distinct rune of a
//     corpus, as in nanoGPT's shakespeare-char), and
//   - [BPE], a GPT-2 style byte-level byte-pair-encoding tokenizer with its
//     own trainer ([TrainBPE]).
//
// Every tokenizer reserves the same special-token IDs (see [Pad] .. [Context])
// so that pretraining, SFT and RLHF share one vocabulary layout; ordinary
// tokens follow them. Special tokens are never produced by Encode: callers
// insert them as IDs.
//
// # Special-token sets
//
// Tokenizers made by this version ([NewChar], [NewCharFromAlphabet],
// [TrainBPE], [NewBPEFromMerges], [NewBPE]) have [NumSpecial] specials: the
// five chat tokens (pad, bos, user, assistant, end) and five for tool use
// (a tool call and its end, a tool result and its end, a context turn), so
// their ordinary IDs start at 10. Tokenizers written before the tool tokens
// existed have only the first [LegacyNumSpecial] = 5, with ordinary IDs from
// 5; [Unmarshal] restores them exactly as they were (their JSON has no
// "specials" field), so old checkpoints load and behave as before. Code that
// needs to know where a tokenizer's ordinary IDs start asks [NumSpecialOf];
// code that needs the tool tokens checks [RequireToolTokens], which rejects
// an old tokenizer with a message that says why.
//
// Tokenizers serialise to JSON with MarshalJSON (stored in checkpoint
// metadata) and are restored with [Unmarshal].
//
// BPE tokenizers also write and read Hugging Face's tokenizer.json
// ([BPE.MarshalHF], [ReadHF]) and GPT-2's vocab.json + merges.txt
// ([ReadGPT2Files]), with token strings in GPT-2's byte-to-unicode form
// ([ByteLevelString], [TokenStrings]); an imported GPT-2 tokenizer uses
// GPT-2's own pre-splitting ([PreSplitGPT2]) so that it encodes exactly as
// GPT-2 does.
//
// # BPE pre-splitting
//
// Before BPE, text is cut into chunks and merges never cross chunk
// boundaries, so tokens never span two words, a word and a number, etc. The
// splitter is a hand-written equivalent of GPT-2's pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// (Go's regexp has no lookahead). At each position the first rule that
// applies wins:
//
//  1. a contraction: an ASCII apostrophe followed by s, t, re, ve, m, ll or
//     d, matched case-insensitively as in GPT-4 ("'S" and "'LL" too);
//  2. an optional single leading ' ' plus a run of letters (\p{L});
//     combining marks (\p{M}) continue a letter run, so words in scripts
//     with diacritics/vowel signs stay whole (GPT-2 would split them off);
//  3. an optional single leading ' ' plus one to three numbers (\p{N}):
//     digit runs are capped at 3 like GPT-4, so "12345" is "123" "45";
//  4. an optional single leading ' ' plus a run of other symbols (neither
//     whitespace, letter nor number; invalid UTF-8 bytes count as symbols,
//     one byte each, so arbitrary bytes are handled);
//  5. a run of whitespace (unicode.IsSpace). If it is followed by a
//     non-space and ends with ' ', that last ' ' is left to start the next
//     chunk (it attaches to the following word, as in GPT-2). Unlike GPT-2,
//     a run ending in another whitespace character (such as "\n\n" before a
//     word) stays whole, since only ' ' can attach to a word.
//
// Chunks are never empty and concatenate back to the input.
package tokenizer
