// Package pretrain is the first stage: next-token pretraining of a new GPT on a text corpus,
// giving the base model that the SFT stage starts from.
//
// [NewCorpus] tokenises documents and splits off a validation stream; [Train] builds the model
// from [Config] (start from [DefaultConfig]: nanoGPT's shakespeare-char CPU recipe), trains it
// through the shared loop of package train (resume, checkpoints, NaN stops, metrics) and returns
// the checkpoint, written to Config.Out and in memory for the next stage. [Evaluator] measures
// the validation loss on a fixed set of batches.
package pretrain
