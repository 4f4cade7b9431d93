package train

import "math"

// Schedule is a learning-rate schedule: linear warm-up, then cosine decay
// from MaxLR to MinLR, then constant MinLR — nanoGPT's get_lr, and exactly
// the lr_at of the PyTorch reference (shared/bench/torch_gpt.py).
//
// Steps are 0-based iteration numbers. Warmup is the number of warm-up
// steps; DecaySteps is the absolute step at which the decay ends (nanoGPT's
// lr_decay_iters, usually the total number of steps), not the length of the
// decay phase. To reproduce torch_gpt.py, which trains total = steps + warm
// iterations:
//
//	Schedule{MaxLR: 1e-3, MinLR: 1e-4, Warmup: 100, DecaySteps: total}
type Schedule struct {
	// MaxLR is the peak learning rate, reached at the end of warm-up.
	MaxLR float64
	// MinLR is the learning rate at and after step DecaySteps.
	MinLR float64
	// Warmup is the number of warm-up steps; 0 means no warm-up.
	Warmup int
	// DecaySteps is the step at which the cosine decay reaches MinLR;
	// 0 means no decay (MaxLR after warm-up).
	DecaySteps int
}

// LR returns the learning rate for step (0-based; a negative step counts as 0):
//
//   - step < Warmup: MaxLR * (step+1) / (Warmup+1);
//   - DecaySteps <= 0: MaxLR;
//   - otherwise, with r = min(1, (step-Warmup) / max(1, DecaySteps-Warmup)):
//     MinLR + 0.5*(1+cos(pi*r))*(MaxLR-MinLR), which is MaxLR at step
//     Warmup and exactly MinLR from step DecaySteps on.
//
// The max(1, …) matches torch_gpt.py when DecaySteps <= Warmup: MaxLR at
// step Warmup, MinLR after it.
func (s Schedule) LR(step int) float64 {
	step = max(step, 0)
	if step < s.Warmup {
		return s.MaxLR * float64(step+1) / float64(s.Warmup+1)
	}
	if s.DecaySteps <= 0 {
		return s.MaxLR
	}
	r := min(1.0, float64(step-s.Warmup)/float64(max(1, s.DecaySteps-s.Warmup)))
	return s.MinLR + 0.5*(1+math.Cos(math.Pi*r))*(s.MaxLR-s.MinLR)
}
