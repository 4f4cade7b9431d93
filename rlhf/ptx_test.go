package rlhf

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/model"
)

// pretrainGrad adds exactly coef times the next-token gradient of the windows it draws, and the
// windows are consecutive slices of the stream shifted by one.
func TestPretrainGradScalesTheLMGradient(t *testing.T) {
	m, err := model.New(model.Config{VocabSize: 30, Layers: 1, Heads: 2, Width: 16, BlockSize: 12}, 3)
	require.NoError(t, err)
	g, err := m.NewGraph(model.GraphConfig{Batch: 3, Block: 12, Train: true, Seed: 1})
	require.NoError(t, err)
	stream := make([]int32, 200)
	for i := range stream {
		stream[i] = int32((i*7 + i/5) % 30)
	}
	for _, p := range m.Params {
		p.Grad = make([]float32, len(p.Data))
	}
	params := m.Params

	m.ZeroGrad()
	loss1, err := pretrainGrad(g, stream, rand.New(rand.NewPCG(5, 5)), params, 1)
	require.NoError(t, err)
	for r := 0; r < 3; r++ {
		row, tgt := g.Tokens[r*12:(r+1)*12], g.Targets[r*12:(r+1)*12]
		require.Equal(t, row[1:], tgt[:11], "targets are the tokens shifted by one")
		i := 0
		for ; i < len(stream)-12; i++ {
			if slices.Equal(stream[i:i+12], row) {
				break
			}
		}
		require.Less(t, i, len(stream)-12, "row %d is a window of the stream", r)
	}
	full := make([][]float32, len(params))
	for i, p := range params {
		full[i] = append([]float32(nil), p.Grad...)
	}

	m.ZeroGrad()
	loss2, err := pretrainGrad(g, stream, rand.New(rand.NewPCG(5, 5)), params, 0.25)
	require.NoError(t, err)
	require.Equal(t, loss1, loss2)
	var nonzero int
	for i, p := range params {
		for j, v := range p.Grad {
			require.InDelta(t, 0.25*full[i][j], v, 1e-7+1e-5*math.Abs(float64(full[i][j])), "%s[%d]", p.Name, j)
			if v != 0 {
				nonzero++
			}
		}
	}
	require.Greater(t, nonzero, 100)
}
