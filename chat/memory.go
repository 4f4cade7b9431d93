package chat

// MemoryEstimate is the estimated bytes of the assistant's KV-cache engine
// (model.EstimateEngineMemory).
func (a *Assistant) MemoryEstimate() int64 { return a.eng.MemoryEstimate() }
