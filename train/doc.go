// Package train is the one training loop every stage runs through, and its parts.
//
// [Config] is the training configuration that every stage's config embeds (learning rate and
// schedule, warm-up, AdamW's settings, clipping, accumulation, batch, steps, intervals, seed,
// output, resume policy, logging and progress). [Run] trains a [Job] — a model and how to take
// one step — with it: gradient accumulation, global-norm clipping and AdamW for a job that
// gives micro-steps, or a whole custom step (PPO's rollout and updates, with further models in
// [Job.Aux]); either way Run owns resuming (bit-identical to an uninterrupted run), checkpoints
// (periodic and on cancellation), NaN stops, evaluation, the metrics log and progress.
//
// Gorgonia computes the gradients; everything that turns gradients into parameter updates
// lives here and works on plain float32 slices ([Param] is the model's own parameter type): the
// AdamW optimizer ([AdamW], PyTorch's semantics; gorgonia's is a no-op), [ClipGradNorm] and the
// warm-up/cosine [Schedule].
//
// The package writes nothing to the terminal: log lines go to Config.Logger and progress to
// Config.OnProgress (the example programs draw a bar with them).
package train
