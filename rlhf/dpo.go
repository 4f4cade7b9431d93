package rlhf

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/train"
)

// DPOConfig configures TrainDPO. The zero value of every optional field means its default.
type DPOConfig struct {
	// Pairs is the number of preference pairs per micro-batch (default 8; 2·Pairs rows).
	Pairs int
	// Steps is the number of optimizer steps; when 0, Epochs passes over the pairs (default 1).
	Steps, Epochs int
	// LR is the peak learning rate (default 5e-5), Warmup the warm-up steps (default 5%).
	LR     float64
	Warmup int
	// Beta is DPO's β, the strength of the implicit KL constraint (default 0.1).
	Beta float64
	// Clip is the gradient-norm limit (default 1).
	Clip float64
	// EvalInterval evaluates on the held-out pairs every so many steps (default: at the end).
	EvalInterval int
	// Seed seeds the batches (default 1).
	Seed uint64
	// Out is the checkpoint path (required).
	Out string
	// Progress selects the progress display.
	Progress train.ProgressMode
}

// pair is a chosen and a rejected reply as rows, with the reference model's summed reply
// log-probabilities.
type pair struct {
	chosen, rejected data.Row
	refC, refR       float64
}

// TrainDPO fine-tunes the SFT checkpoint at sftPath with direct preference optimisation on
// train (every ranking contributes all its pairs) against the frozen SFT model, evaluating on
// val, and writes a checkpoint with stage "rlhf" (metadata rlhf.method "dpo"). Metrics:
// "reward_accuracy" and "reward_margin" (implicit rewards β·(log π − log π_ref) on held-out
// pairs; the margin is chosen minus rejected), and "val_loss".
func TrainDPO(ctx context.Context, cfg DPOConfig, sftPath string, trainSet, val []data.Ranking) (*train.Result, error) {
	ck, err := model.LoadStage(sftPath, model.StageSFT)
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	parentSum, err := model.FileSHA256(sftPath)
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	if cfg.Pairs <= 0 {
		cfg.Pairs = 8
	}
	if cfg.Beta == 0 {
		cfg.Beta = 0.1
	}
	if cfg.LR == 0 {
		cfg.LR = 5e-5
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	ref, tok := ck.Model, ck.Tokenizer
	policy := ref.Clone()
	T := ref.Config.BlockSize
	B := 2 * cfg.Pairs
	refG, err := ref.NewGraph(model.GraphConfig{Batch: B, Block: T, Objective: model.LogProbs})
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	trainPairs, err := makePairs(ctx, tok, trainSet, refG)
	if err != nil {
		return nil, err
	}
	if len(trainPairs) == 0 {
		return nil, errors.New("rlhf: no training pairs")
	}
	valPairs, err := makePairs(ctx, tok, val, refG)
	if err != nil {
		return nil, err
	}
	if cfg.Epochs <= 0 {
		cfg.Epochs = 1
	}
	if cfg.Steps <= 0 {
		cfg.Steps = max(1, cfg.Epochs*len(trainPairs)/cfg.Pairs)
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = cfg.Steps / 20
	}
	var current []*pair
	var acc, margin float64
	loss := func(logp, grad []float32) float64 {
		clear(grad)
		var l float64
		acc, margin = 0, 0
		for i, p := range current {
			piC := sumMasked(logp[(2*i)*T:(2*i+1)*T], p.chosen.Weights)
			piR := sumMasked(logp[(2*i+1)*T:(2*i+2)*T], p.rejected.Weights)
			li, d := DPOLoss(piC, p.refC, piR, p.refR, cfg.Beta)
			l += li / float64(len(current))
			d /= float64(len(current))
			for t, w := range p.chosen.Weights {
				grad[(2*i)*T+t] = float32(d) * w
			}
			for t, w := range p.rejected.Weights {
				grad[(2*i+1)*T+t] = -float32(d) * w
			}
			m := cfg.Beta * ((piC - p.refC) - (piR - p.refR))
			margin += m / float64(len(current))
			if m > 0 {
				acc += 1 / float64(len(current))
			}
		}
		return l
	}
	g, err := policy.NewGraph(model.GraphConfig{Batch: B, Block: T, Objective: model.LogProbs, Loss: loss, Train: true, Seed: cfg.Seed})
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	evalG, err := policy.NewGraph(model.GraphConfig{Batch: B, Block: T, Objective: model.LogProbs, Loss: loss})
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	pcg := rand.NewPCG(cfg.Seed, 0xd90)
	rng := rand.New(pcg)
	current = make([]*pair, 0, cfg.Pairs)
	job := train.Job{
		Model: policy, Tokenizer: tok, Stage: model.StageRLHF, Parent: parentSum,
		Extra: map[string]string{"rlhf.method": "dpo", "rlhf.beta": fmt.Sprint(cfg.Beta)},
		MicroStep: func(context.Context) (float64, int, error) {
			current = current[:0]
			for i := 0; i < cfg.Pairs; i++ {
				current = append(current, trainPairs[rng.IntN(len(trainPairs))])
			}
			loadPairs(g, current)
			if err := g.Run(); err != nil {
				return 0, 0, err
			}
			return g.Loss, B * T, nil
		},
		Evaluate: func(ctx context.Context) (map[string]float64, error) {
			var l, a, mg float64
			n := 0
			for lo := 0; lo < len(valPairs); lo += cfg.Pairs {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				current = valPairs[lo:min(lo+cfg.Pairs, len(valPairs))]
				loadPairs(evalG, current)
				if err := evalG.Run(); err != nil {
					return nil, err
				}
				k := float64(len(current))
				l, a, mg = l+evalG.Loss*k, a+acc*k, mg+margin*k
				n += len(current)
			}
			current = make([]*pair, 0, cfg.Pairs)
			if n == 0 {
				return map[string]float64{}, nil
			}
			return map[string]float64{"val_loss": l / float64(n), "reward_accuracy": a / float64(n), "reward_margin": mg / float64(n)}, nil
		},
	}
	job.SaveState, job.LoadState = train.BinaryState(pcg.MarshalBinary, pcg.UnmarshalBinary)
	tc := train.Config{
		Steps: cfg.Steps, LR: cfg.LR, Warmup: cfg.Warmup, Clip: cfg.Clip,
		AdamW:        train.AdamWConfig{Beta2: 0.99, NoWeightDecay: true},
		EvalInterval: cfg.EvalInterval, Out: cfg.Out, Name: "dpo", Progress: cfg.Progress,
	}
	res, err := train.Run(ctx, tc, job)
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	return res, nil
}

// makePairs renders every ranking's pairs and computes the reference log-probabilities.
func makePairs(ctx context.Context, tok tokenizer.Tokenizer, rs []data.Ranking, refG *model.Graph) ([]*pair, error) {
	T := refG.Config.Block
	row := func(r data.Ranking, reply string) (data.Row, bool, error) {
		msgs := append(append([]data.Message(nil), r.Prompt...), data.Message{Role: data.RoleAssistant, Content: reply})
		ids, mask, err := data.RenderChat(tok, msgs)
		if err != nil {
			return data.Row{}, false, fmt.Errorf("rlhf: %s: %w", r.Source, err)
		}
		fitted, _, ok := data.FitBlock(ids, mask, T)
		return fitted, ok, nil
	}
	var out []*pair
	for _, r := range rs {
		for _, ab := range r.Pairs() {
			c, okC, err := row(r, r.Responses[ab[0]])
			if err != nil {
				return nil, err
			}
			rj, okR, err := row(r, r.Responses[ab[1]])
			if err != nil {
				return nil, err
			}
			if okC && okR {
				out = append(out, &pair{chosen: c, rejected: rj})
			}
		}
	}
	per := refG.Config.Batch / 2
	for lo := 0; lo < len(out); lo += per {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ps := out[lo:min(lo+per, len(out))]
		loadPairs(refG, ps)
		if err := refG.Run(); err != nil {
			return nil, fmt.Errorf("rlhf: reference log-probabilities: %w", err)
		}
		for i, p := range ps {
			p.refC = sumMasked(refG.Output[(2*i)*T:(2*i+1)*T], p.chosen.Weights)
			p.refR = sumMasked(refG.Output[(2*i+1)*T:(2*i+2)*T], p.rejected.Weights)
		}
	}
	return out, nil
}

// loadPairs fills rows 2i (chosen) and 2i+1 (rejected); missing pairs are zero rows.
func loadPairs(g *model.Graph, ps []*pair) {
	T := g.Config.Block
	clear(g.Tokens)
	clear(g.Targets)
	for i, p := range ps {
		copy(g.Tokens[(2*i)*T:], p.chosen.Tokens)
		copy(g.Targets[(2*i)*T:], p.chosen.Targets)
		copy(g.Tokens[(2*i+1)*T:], p.rejected.Tokens)
		copy(g.Targets[(2*i+1)*T:], p.rejected.Targets)
	}
}

func sumMasked(x, w []float32) float64 {
	var s float64
	for i, v := range x {
		s += float64(v) * float64(w[i])
	}
	return s
}
