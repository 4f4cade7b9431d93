// Package kernels holds the compute kernels of the GPT: LayerNorm, GELU (whose backward pass can
// recompute its tanh terms rather than read them back), fused causal attention, softmax
// cross-entropy, log-probability gathers and embeddings, each with its backward pass, the
// element-wise sum of the residual connections and of two gradients (Add), and the AdamW update
// of package train's optimizer. The training graph's custom gorgonia ops (package model) and the
// inference engine call the same kernels, so training and sampling compute the same numbers.
//
// Each is a Go loop, with assembly where the CPU has it (AVX2 for GELU, the softmax rows and
// their backward pass, Add, LayerNorm and AdamW; AVX-512 for LayerNorm and GELU) that gives the
// Go loop's bits or, where noted, the documented arithmetic of its own (GELU's AVX-512 kernels
// give its AVX2 ones' bits). Activations are row-major float32 matrices of N = batch·block rows.
// Kernels write their outputs (they never accumulate unless a name says Accumulate) and split
// large work across SetWorkers goroutines (GOMAXPROCS by default), with the same bits for any
// number.
package kernels
