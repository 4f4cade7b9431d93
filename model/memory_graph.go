package model

// MemoryEstimate is EstimateGraphMemory for this graph's model and shape: the bytes its
// buffers take.
func (gr *Graph) MemoryEstimate() int64 { return EstimateGraphMemory(gr.model.Config, gr.Config) }

// MemoryEstimate is EstimateEngineMemory for this engine's model and batch.
func (e *Engine) MemoryEstimate() int64 { return EstimateEngineMemory(e.m.Config, e.batch) }
