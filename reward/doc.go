// Package reward is the third stage: a reward model that scores replies, trained on rankings
// of replies (best first) with the pairwise ranking loss of InstructGPT.
//
// [Train] (or [TrainFile]) puts a scalar head on an SFT model ([NewModel]) and trains it through
// the shared training loop with [Config] (start from [DefaultConfig]); after training, the
// head's bias is shifted so the SFT demonstrations' replies score 0 on average. A ranking's
// replies are texts or assistant turns that call tools (data.Ranking's Responses or Turns):
// each is learned and scored as the prompt and the turn rendered with the chat template, tool
// calls and results included, at the turn's closing <|end|> (a micro-batch's replies packed
// into as few rows as they fit, each attending only to itself, unless [Config].Unpacked);
// an empty reply (the end token at
// once) is a reply too, so a ranking can teach that saying nothing is worse. A [Scorer] ([Load]
// from a file, [FromCheckpoint] from memory) scores prompt and reply pairs ([Scorer.Score]),
// prompt and turn pairs ([Scorer.ScoreTurn]) or token sequences, running the model in a
// KV-cache engine over the tokens scored (not padded rows); rlhf's PPO takes it through its
// Scorer interface.
package reward
