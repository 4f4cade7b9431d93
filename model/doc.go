// Package model is the GPT: its configuration and weights (Param, shared with the optimizer),
// the training graph built from fused custom gorgonia ops (Graph, with the language-model,
// log-prob, value and logits objectives; gorgonia differentiates it, and the graph runs it
// itself with its buffers laid out by a memory plan — buffers whose lifetimes do not overlap
// share memory, MemoryPlan — and, optionally, each block's activations recomputed in the
// backward pass, GraphConfig.Recompute; its linear layers' products in float32 or in bf16
// mixed precision, GraphConfig.Precision; several sequences packed into a row, each attending
// only to itself, GraphConfig.Packed, with Graphs building a config's graphs by their number
// of rows), the KV-cache inference engine and its sampler
// (Engine, Generate, GenerateBatch), checkpoints in the safetensors layout that describe
// themselves and carry checksums, their lineage (Checkpoint.Fingerprint, Stage), and the memory
// estimate that refuses shapes which would not fit (EstimateGraphMemory, MemoryBudget).
package model
