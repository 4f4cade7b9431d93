// Package model is the GPT: its configuration and weights (Param, shared with the optimizer),
// the training graph built from fused custom gorgonia ops (Graph, with the language-model,
// log-prob, value and logits objectives), the KV-cache inference engine and its sampler
// (Engine, Generate, GenerateBatch), checkpoints in the safetensors layout that describe
// themselves and carry checksums, their lineage (Checkpoint.Fingerprint, Stage), and the memory
// estimate that refuses shapes which would not fit (EstimateGraphMemory, MemoryBudget).
package model
