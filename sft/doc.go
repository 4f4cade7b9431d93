// Package sft is the second stage: supervised fine-tuning of a pretrained model on dialogues,
// with the loss on the assistant's tokens only, so the model learns to hold a conversation in the
// chat template.
//
// [Train] starts from a checkpoint in memory — a pretrained model, or an SFT model to fine-tune
// further ([ParentStages]) — and [TrainFile] from a file; both run through the shared training
// loop with [Config] (start from [DefaultConfig]) and record the parent's fingerprint. Its
// evaluation reports the held-out assistant-token loss and the share of greedy replies that
// close with <|end|>. [RowsLoss] is that loss over rendered rows.
package sft
