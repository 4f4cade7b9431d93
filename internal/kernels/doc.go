// Package kernels holds the plain-Go compute kernels of the GPT: LayerNorm, GELU, fused causal
// attention, softmax cross-entropy, log-probability gathers and embeddings, each with its
// backward pass. The training graph's custom gorgonia ops (package model) and the inference
// engine call the same kernels, so training and sampling compute the same numbers.
//
// Activations are row-major float32 matrices of N = batch·block rows. Kernels write their
// outputs (they never accumulate unless a name says Accumulate) and split large work across
// the available cores.
package kernels
