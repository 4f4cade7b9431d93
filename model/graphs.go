package model

import "fmt"

// Graphs builds, as they are asked for, graphs of one GraphConfig that differ only in their
// number of rows, all on one Arena: a trainer that packs each batch's sequences into as few
// rows as they fit (GraphConfig.Packed, data.Pack) needs another number of rows at nearly
// every step. The first graph asked for comes with the largest (the config's Batch rows), so
// the arena has its final size at once, and on the arena the set makes each graph keeps its
// outputs (Output, Logits) in the arena too, valid until any graph of the set runs again, so
// the set needs no more memory than its largest (on an Arena given in the config, outputs are
// as that arena's SharedOutputs says). Built in the order steps asked for them, each larger
// graph growing the arena and each keeping its logits in memory of its own, the tinychat
// run's SFT stage peaked at 393 MiB instead of 270. Each graph keeps its inputs to itself. The graphs must not run at
// the same time.
type Graphs struct {
	m      *Model
	gc     GraphConfig
	graphs map[int]*Graph
}

// NewGraphs returns the graphs of gc (its Batch is the most rows one may have) over m's
// weights, on gc.Arena or, when that is nil, an arena of their own. None is built yet: it
// checks gc's shape and memory budget, and Rows reports anything else NewGraph would find
// wrong with gc.
func (m *Model) NewGraphs(gc GraphConfig) (*Graphs, error) {
	if gc.Arena == nil {
		gc.Arena = &Arena{SharedOutputs: true}
	}
	if gc.Batch <= 0 || gc.Block <= 0 {
		return nil, fmt.Errorf("model: graph shape must be positive, got batch %d block %d", gc.Batch, gc.Block)
	}
	if err := checkGraphMemory(m.Config, gc); err != nil {
		return nil, err
	}
	return &Graphs{m: m, gc: gc, graphs: map[int]*Graph{}}, nil
}

// Rows returns the graph of rows rows (1 to the config's Batch), building it the first time.
func (s *Graphs) Rows(rows int) (*Graph, error) {
	if g := s.graphs[rows]; g != nil {
		return g, nil
	}
	if rows < 1 || rows > s.gc.Batch {
		return nil, fmt.Errorf("model: a graph of %d rows, want 1 to %d", rows, s.gc.Batch)
	}
	if len(s.graphs) == 0 && rows != s.gc.Batch {
		if _, err := s.Rows(s.gc.Batch); err != nil {
			return nil, err
		}
	}
	gc := s.gc
	gc.Batch = rows
	g, err := s.m.NewGraph(gc)
	if err != nil {
		return nil, err
	}
	s.graphs[rows] = g
	return g, nil
}

// MemoryEstimate is the estimated memory of the largest graph (Batch rows).
func (s *Graphs) MemoryEstimate() int64 { return EstimateGraphMemory(s.m.Config, s.gc) }
