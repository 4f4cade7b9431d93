// Package stepbench is one whole training step of a GPT at a given shape, for the speed
// benchmarks (train's BenchmarkTrainingStep and examples/speed): zero the gradients, forward
// and backward on random tokens, clip to norm 1, AdamW — what ../shared/bench/torch_gpt.py
// times for PyTorch.
package stepbench
