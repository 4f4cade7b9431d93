// Package data reads the datasets of every stage and turns them into what training consumes.
//
//   - Pretraining text: ReadCorpus (.txt, .jsonl "text", .parquet "text" → []Document),
//     TokenStream (documents → one []int32 token stream, with a separator token before every
//     document), Split (train and validation parts) and Batcher (random next-token windows,
//     like nanoGPT's get_batch).
//   - Chats: ReadConversations (SFT demonstrations in TRL's layouts), ReadPrompts (prompt-only
//     data for RL) and ReadPreferences (chosen/rejected pairs or rankings, whose replies are
//     texts or, when they call tools, assistant turns: Ranking, Ranking.Validate, ValidateTurn,
//     SplitTurn); the chat template
//     (RenderChat, RenderPrompt) with system, user, assistant, tool-call, tool-result and context
//     turns, and the loss mask that trains on what the assistant writes; RenderRows and FitBlock
//     lay chats out as training rows (Row.Len: the positions its loss depends on), and Pack
//     and PackPositions put several of them one after another in a row (sequence packing,
//     for a graph built with model.GraphConfig.Packed).
//   - Fingerprints of training data (TokensFingerprint, Fingerprint), which a run records so
//     that a resumed run can check it trains on the same data.
//
// Every reader's errors name the file and line or row; damaged Parquet files are errors, never
// panics.
package data
