// Package reward is the third stage: a reward model that scores replies, trained on rankings
// of replies (best first) with the pairwise ranking loss of InstructGPT.
//
// [Train] (or [TrainFile]) puts a scalar head on an SFT model ([NewModel]) and trains it through
// the shared training loop with [Config] (start from [DefaultConfig]); after training, the
// head's bias is shifted so the SFT demonstrations' replies score 0 on average. A [Scorer]
// ([Load] from a file, [FromCheckpoint] from memory) scores prompt and reply pairs or token
// sequences; rlhf's PPO takes it through its Scorer interface.
package reward
