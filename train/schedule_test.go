package train

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

// torchGPTLR is lr_at of /work/shared/bench/torch_gpt.py, transcribed:
//
//	def lr_at(it):
//	    if it < 100: return 1e-3 * (it + 1) / 101
//	    r = min(1.0, (it - 100) / max(1, total - 100))
//	    return 1e-4 + 0.5 * (1 + math.cos(math.pi * r)) * (1e-3 - 1e-4)
func torchGPTLR(total, it int) float64 {
	if it < 100 {
		return 1e-3 * float64(it+1) / 101
	}
	r := math.Min(1.0, float64(it-100)/float64(max(1, total-100)))
	return 1e-4 + 0.5*(1+math.Cos(math.Pi*r))*(1e-3-1e-4)
}

func TestScheduleMatchesTorchGPT(t *testing.T) {
	// want: python3 evaluating torch_gpt.py's lr_at (repr of the float).
	for _, tc := range []struct {
		total, it int
		want      float64
	}{
		{5000, 0, 9.900990099009901e-06},     // warm-up start: 1e-3 * 1/101
		{5000, 1, 1.9801980198019803e-05},    // 1e-3 * 2/101
		{5000, 50, 0.000504950495049505},     // 1e-3 * 51/101
		{5000, 99, 0.0009900990099009901},    // warm-up end: 1e-3 * 100/101
		{5000, 100, 0.001},                   // r = 0: MaxLR
		{5000, 101, 0.000999999907510999},    // r = 1/4900
		{5000, 1000, 0.0009271396472013282},  // r = 900/4900
		{5000, 2550, 0.00055},                // r = 1/2: (1e-3+1e-4)/2
		{5000, 4999, 0.00010000009248900101}, // r = 4899/4900
		{5000, 5000, 0.0001},                 // r = 1: MinLR
		{5000, 6000, 0.0001},                 // after decay: MinLR
		{70, 0, 9.900990099009901e-06},       // default --steps 60 --warm 10: all warm-up
		{70, 69, 0.0006930693069306931},      // 1e-3 * 70/101
		{100, 99, 0.0009900990099009901},     // total == warm-up: max(1, 0) = 1
		{100, 100, 0.001},                    // r = 0
		{100, 101, 0.0001},                   // r = min(1, 1/1) = 1
		{110, 105, 0.00055},                  // r = 5/10
		{5000, 2060, 0.0006890576474687264},  // r = 1960/4900 = 0.4
	} {
		s := Schedule{MaxLR: 1e-3, MinLR: 1e-4, Warmup: 100, DecaySteps: tc.total}
		got := s.LR(tc.it)
		assert.InEpsilon(t, tc.want, got, 1e-13, "total %d it %d", tc.total, tc.it)
		assert.InEpsilon(t, torchGPTLR(tc.total, tc.it), got, 1e-13, "transcription, total %d it %d", tc.total, tc.it)
	}
	// Every step of a run, against the transcription.
	for _, total := range []int{70, 100, 101, 1000} {
		s := Schedule{MaxLR: 1e-3, MinLR: 1e-4, Warmup: 100, DecaySteps: total}
		for it := range total + 5 {
			assert.InEpsilon(t, torchGPTLR(total, it), s.LR(it), 1e-13, "total %d it %d", total, it)
		}
	}
}

func TestScheduleEdges(t *testing.T) {
	// No warm-up: cosine from step 0, MaxLR at 0, MinLR at DecaySteps.
	s := Schedule{MaxLR: 2, MinLR: 1, DecaySteps: 10}
	assert.Equal(t, 2.0, s.LR(0))
	assert.InDelta(t, 1.5, s.LR(5), 1e-15) // cos(pi/2) = 0: (2+1)/2
	assert.Equal(t, 1.0, s.LR(10))
	assert.Equal(t, 1.0, s.LR(11))

	// No decay: warm-up, then constant MaxLR.
	s = Schedule{MaxLR: 0.3, MinLR: 0.1, Warmup: 2}
	assert.InDelta(t, 0.1, s.LR(0), 1e-15) // 0.3 * 1/3
	assert.InDelta(t, 0.2, s.LR(1), 1e-15) // 0.3 * 2/3
	assert.Equal(t, 0.3, s.LR(2))
	assert.Equal(t, 0.3, s.LR(1_000_000))

	// Neither: constant.
	s = Schedule{MaxLR: 0.5}
	assert.Equal(t, 0.5, s.LR(0))
	assert.Equal(t, 0.5, s.LR(123))

	// Negative steps count as step 0.
	s = Schedule{MaxLR: 1, Warmup: 3}
	assert.Equal(t, s.LR(0), s.LR(-5))
	assert.Equal(t, 0.25, s.LR(0))

	// Decay ending before warm-up does: like torch_gpt.py's max(1, …),
	// MaxLR at step Warmup, MinLR after it.
	s = Schedule{MaxLR: 1, MinLR: 0.25, Warmup: 4, DecaySteps: 2}
	assert.Equal(t, 0.6, s.LR(2)) // still warming up: 1 * 3/5
	assert.Equal(t, 1.0, s.LR(4))
	assert.Equal(t, 0.25, s.LR(5))
}
