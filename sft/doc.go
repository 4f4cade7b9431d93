// Package sft is the second stage: supervised fine-tuning of a pretrained model on dialogues,
// with the loss on the assistant's tokens only, so the model learns to hold a conversation in the
// chat template.
//
// [Train] starts from a checkpoint in memory — a pretrained model, or an SFT model to fine-tune
// further ([ParentStages]) — and [TrainFile] from a file; both run through the shared training
// loop with [Config] (start from [DefaultConfig]) and record the parent's fingerprint. Its
// evaluation reports the held-out assistant-token loss and the share of greedy replies that
// close with <|end|>. [RowsLoss] is that loss over rendered rows.
//
// Each step's conversations are packed one after another into as few rows as they fit
// (data.Pack, on a graph of that many rows: model.Graphs), each attending only to itself and
// counting its positions from 0 (model.GraphConfig.Packed): the same samples and the same loss
// as one conversation per padded row, up to the order float32 sums the gradients in, on about
// half the rows for conversations half a block long. [Config].Unpacked gives each its own
// row.
package sft
