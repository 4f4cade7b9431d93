package model

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// lossOwner holds a graph whose Loss is its own method: a reference cycle, as every trainer
// makes (rlhf's hold their graphs and give them their loss methods).
type lossOwner struct{ g *Graph }

func (o *lossOwner) loss(x, grad []float32) float64 { return 0 }

// A graph in a reference cycle with its Loss's owner is collected once unreachable (gorgonia's
// tape machine has a finalizer, which kept such cycles alive forever).
func TestGraphInACycleIsCollected(t *testing.T) {
	m, err := New(Config{VocabSize: 40, BlockSize: 16, Layers: 1, Heads: 2, Width: 16}, 1)
	require.NoError(t, err)
	collected := make(chan struct{})
	func() {
		o := &lossOwner{}
		o.g, err = m.Clone().NewGraph(GraphConfig{Batch: 2, Block: 16, Train: true, Objective: LogProbs, Loss: o.loss})
		require.NoError(t, err)
		require.NoError(t, o.g.Run())
		runtime.AddCleanup(o, func(c chan struct{}) { close(c) }, collected)
	}()
	deadline := time.After(10 * time.Second)
	for {
		runtime.GC()
		select {
		case <-collected:
			return
		case <-deadline:
			t.Fatal("the graph and its loss's owner were never collected")
		case <-time.After(10 * time.Millisecond):
		}
	}
}
