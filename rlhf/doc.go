// Package rlhf is the fourth stage: reinforcement learning from human feedback.
//
// [TrainPPO] (or [TrainPPOFile]; [PPO] with any [Scorer], a reward model or a program) moves the
// policy toward replies the reward model scores higher with PPO — rollouts sampled by the chat
// package, GAE advantages, clipped policy and value updates, a per-token KL penalty to the
// starting model, optionally InstructGPT's pretraining-loss mix (PPO-ptx) — one iteration per
// step of the shared training loop, so a run resumes bit-identically after an interruption.
// [TrainDPO] optimises the same preferences directly from pairs. Both start from an SFT or an
// RLHF checkpoint ([PolicyStages]) and are configured by [PPOConfig] and [DPOConfig] (start from
// [DefaultPPOConfig] and [DefaultDPOConfig]). The losses ([ClippedSurrogate],
// [ClippedValueLoss], [GAE], [DPOLoss]) are exported and tested on their own.
package rlhf
