// Package rlhf is the fourth stage: reinforcement learning from human feedback.
//
// [TrainPPO] (or [TrainPPOFile]; [PPO] with any [Scorer], a reward model or a program) moves the
// policy toward replies the reward model scores higher with PPO — rollouts sampled by the chat
// package, GAE advantages whitened over the batch (or within groups of prompts, for rewards
// from several sources), clipped policy and value updates, a per-token KL penalty to the
// starting model, optionally InstructGPT's pretraining-loss mix (PPO-ptx) — one iteration per
// step of the shared training loop, so a run resumes bit-identically after an interruption.
// [TrainDPO] optimises the same preferences directly from pairs (with the RPO term, the chosen
// reply's likelihood, by default). [TrainGroup] runs GRPO or RLOO (group baselines, no value
// model; the pretraining mix is an option there too), and [BestOfN] keeps the scorer's best of n samples at inference. The trainers start
// from an SFT or an RLHF checkpoint ([PolicyStages]) and are configured by [PPOConfig],
// [DPOConfig] and [GroupConfig] (start from [DefaultPPOConfig], [DefaultDPOConfig],
// [DefaultGRPOConfig] or [DefaultRLOOConfig]); their Block field sizes the training rows
// ([RolloutBlock] fits them to the prompts), and PPO, GRPO and RLOO pack each minibatch's
// rollouts into as few of those rows as they fit, each attending only to itself (Unpacked
// gives each its own). The losses ([ClippedSurrogate], [ClippedValueLoss], [GAE], [DPOLoss],
// [ChosenNLL], [GroupPolicyLoss], [GroupAdvantages]) are exported and tested on their own, and
// [Alarms] reads a run's metrics for over-optimisation.
package rlhf
