package rlhf

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/train"
)

// DPOConfig configures DPO: the shared training configuration (Batch is the number of
// preference pairs per micro-batch, 2·Batch rows) and DPO's own settings. Start from
// DefaultDPOConfig.
type DPOConfig struct {
	train.Config
	// Epochs is the number of passes over the pairs that give Steps when Steps is 0.
	Epochs int
	// Beta is DPO's β, the strength of the implicit KL constraint (> 0).
	Beta float64
	// RPOAlpha weighs the RPO term (ChosenNLL: "DPO+NLL", Pang et al. 2024; TRL's rpo_alpha):
	// α times the chosen reply's negative log-likelihood per token, added to each pair's
	// loss (0: off, plain DPO).
	RPOAlpha float64
	// Block is the row length (0: the model's block size; at most that). A pair whose prompt
	// and reply do not fit is left out, as with the model's block.
	Block int
}

// DefaultDPOConfig returns DPO's defaults: one epoch (Steps 0) of 8 pairs per batch at LR
// 5e-5 decaying to 5e-6 after a 5% warm-up, AdamW β2 0.99 without weight decay, clipping at
// 1, β 0.1, RPO α 1, seed train.DefaultSeed. Out must be set.
//
// The RPO term is on by default because plain DPO's loss falls as readily when both replies of
// a pair lose probability as when the chosen one gains, and a small model, fine-tuned on pairs
// of its own samples, takes that road: on the tiny world's bake-off (docs/bakeoff/dpo_sweep.md)
// plain DPO at these settings lowered greedy correctness from 0.99 to 0.79 at a KL of 3.9
// nats to SFT, while with α 1 it kept SFT's greedy correctness and raised the sampled gold
// score further (71 → 92) at a KL of 0.9 (β 0.5 without the term did about as well, 91 at a KL
// of 1.0, by slowing every update instead). α 1 is also Pang et al.'s setting. Set RPOAlpha 0
// for plain DPO.
func DefaultDPOConfig() DPOConfig {
	c := DPOConfig{Config: train.DefaultConfig(), Epochs: 1, Beta: 0.1, RPOAlpha: 1}
	c.Steps, c.Batch, c.LR, c.WeightDecay = 0, 8, 5e-5, 0
	return c
}

// pair is a chosen and a rejected reply as rows, with the reference model's summed reply
// log-probabilities.
type pair struct {
	chosen, rejected data.Row
	refC, refR       float64
}

// TrainDPOFile is TrainDPO with the policy checkpoint read from the file at policyPath.
func TrainDPOFile(ctx context.Context, cfg DPOConfig, policyPath string, trainSet, val []data.Ranking) (*train.Result, error) {
	ck, err := model.LoadStage(policyPath, PolicyStages...)
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	return TrainDPO(ctx, cfg, ck, trainSet, val)
}

// TrainDPO fine-tunes the policy checkpoint ck (SFT, or RLHF to train further) with direct
// preference optimisation on trainSet (every ranking contributes all its pairs) against ck's
// frozen model, evaluating on val, and writes a checkpoint with stage "rlhf" (metadata
// rlhf.method "dpo"). Rankings must pass data.Ranking.Validate; their responses may be texts
// or assistant turns with tool calls (data.Ranking.Turns). A response's log-probability sums
// over what the assistant writes in its turn — texts, tool calls and the closing <|end|>, not
// the tool results, which the runtime writes (as PPO's action mask) — and a pair is left out
// if a response's turn does not fit the model's block. Metrics: "reward_accuracy" and "reward_margin" (implicit rewards
// β·(log π − log π_ref) on held-out pairs; the margin is chosen minus rejected), "chosen_nll"
// (the held-out chosen replies' negative log-likelihood per token: plain DPO can raise it while
// the margin grows, which RPOAlpha counters), and "val_loss".
func TrainDPO(ctx context.Context, cfg DPOConfig, ck *model.Checkpoint, trainSet, val []data.Ranking) (*train.Result, error) {
	if err := checkPolicy(ck, "DPO"); err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	parentID, err := ck.Fingerprint()
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	if cfg.Batch <= 0 {
		return nil, fmt.Errorf("rlhf: %w: Batch is %d, want > 0", train.ErrConfig, cfg.Batch)
	}
	if !(cfg.Beta > 0) {
		return nil, fmt.Errorf("rlhf: Beta is %v, want > 0", cfg.Beta)
	}
	if !(cfg.RPOAlpha >= 0) || math.IsInf(cfg.RPOAlpha, 1) {
		return nil, fmt.Errorf("rlhf: RPOAlpha is %v, want ≥ 0 (0: off)", cfg.RPOAlpha)
	}
	ref, tok := ck.Model, ck.Tokenizer
	if cfg.Block < 0 || cfg.Block > ref.Config.BlockSize {
		return nil, fmt.Errorf("rlhf: Block is %d, want 0 (the model's) or 1..%d (the model's block size)", cfg.Block, ref.Config.BlockSize)
	}
	policy := ref.Clone()
	T := rowsOf(cfg.Block, ref.Config.BlockSize)
	B := 2 * cfg.Batch
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
	if cfg.Steps == 0 {
		if cfg.Epochs <= 0 {
			return nil, fmt.Errorf("rlhf: Epochs is %d with Steps 0, want > 0", cfg.Epochs)
		}
		cfg.Steps = max(1, cfg.Epochs*len(trainPairs)/cfg.Batch)
	}
	if err := cfg.Config.Validate(); err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	fp, err := data.Fingerprint(trainSet)
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	var current []*pair
	var st dpoStats
	loss := func(logp, grad []float32) float64 {
		var l float64
		l, st = dpoBatchLoss(current, logp, grad, T, cfg.Beta, cfg.RPOAlpha)
		return l
	}
	g, err := policy.NewGraph(model.GraphConfig{Batch: B, Block: T, Objective: model.LogProbs, Loss: loss, Train: true, Seed: cfg.Seed, Recompute: cfg.Recompute, Precision: cfg.Precision})
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	evalG, err := policy.NewGraph(model.GraphConfig{Batch: B, Block: T, Objective: model.LogProbs, Loss: loss})
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	extra := map[string]string{"rlhf.method": "dpo", "rlhf.beta": fmt.Sprint(cfg.Beta)}
	if cfg.RPOAlpha > 0 {
		extra["rlhf.rpo_alpha"] = fmt.Sprint(cfg.RPOAlpha)
	}
	pcg := rand.NewPCG(cfg.Seed, 0xd90)
	rng := rand.New(pcg)
	current = make([]*pair, 0, cfg.Batch)
	job := train.Job{
		Model: policy, Tokenizer: tok, Stage: model.StageRLHF, Parent: parentID,
		Extra: extra,
		Settings: struct { // a new setting is absent at its zero, as before it existed
			Epochs   int
			Beta     float64
			RPOAlpha float64 `json:",omitempty"`
			Block    int     `json:",omitempty"`
		}{cfg.Epochs, cfg.Beta, cfg.RPOAlpha, cfg.Block},
		DataFingerprint: fp,
		Memory:          refG.MemoryEstimate() + g.MemoryEstimate() + evalG.MemoryEstimate(),
		MicroStep: func(context.Context) (float64, int, error) {
			current = current[:0]
			for i := 0; i < cfg.Batch; i++ {
				current = append(current, trainPairs[rng.IntN(len(trainPairs))])
			}
			loadPairs(g, current)
			if err := g.Run(); err != nil {
				return 0, 0, err
			}
			return g.Loss, B * T, nil
		},
		Evaluate: func(ctx context.Context) (map[string]float64, error) {
			var l, a, mg, nll float64
			n := 0
			for lo := 0; lo < len(valPairs); lo += cfg.Batch {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				current = valPairs[lo:min(lo+cfg.Batch, len(valPairs))]
				loadPairs(evalG, current)
				if err := evalG.Run(); err != nil {
					return nil, err
				}
				k := float64(len(current))
				l, a, mg, nll = l+evalG.Loss*k, a+st.acc*k, mg+st.margin*k, nll+st.nll*k
				n += len(current)
			}
			current = make([]*pair, 0, cfg.Batch)
			if n == 0 {
				return map[string]float64{}, nil
			}
			return map[string]float64{"val_loss": l / float64(n), "reward_accuracy": a / float64(n), "reward_margin": mg / float64(n),
				"chosen_nll": nll / float64(n)}, nil
		},
	}
	job.SaveState, job.LoadState = train.BinaryState(pcg.MarshalBinary, pcg.UnmarshalBinary)
	return train.Run(ctx, cfg.Config, job)
}

// dpoStats are a batch's implicit-reward accuracy and margin (β·((π(c) − π_ref(c)) −
// (π(r) − π_ref(r))), chosen minus rejected) and the chosen replies' NLL per token, means over
// the pairs.
type dpoStats struct{ acc, margin, nll float64 }

// dpoBatchLoss is the loss of a batch of pairs on rows of T log-probabilities (pair i's chosen
// reply in row 2i, its rejected one in row 2i+1): the mean over pairs of DPOLoss plus, with
// alpha > 0, ChosenNLL. It writes dloss/dlogp into grad (zero outside the replies' weighted
// tokens and the rows of missing pairs).
func dpoBatchLoss(ps []*pair, logp, grad []float32, T int, beta, alpha float64) (float64, dpoStats) {
	clear(grad)
	var l float64
	var st dpoStats
	k := float64(len(ps))
	for i, p := range ps {
		piC := sumMasked(logp[(2*i)*T:(2*i+1)*T], p.chosen.Weights)
		piR := sumMasked(logp[(2*i+1)*T:(2*i+2)*T], p.rejected.Weights)
		li, dC := DPOLoss(piC, p.refC, piR, p.refR, beta)
		dR := -dC
		n := sumMasked(p.chosen.Weights, nil)
		if alpha > 0 && n > 0 {
			ln, dn := ChosenNLL(piC, n, alpha)
			li, dC = li+ln, dC+dn
		}
		l += li / k
		for t, w := range p.chosen.Weights {
			grad[(2*i)*T+t] = float32(dC/k) * w
		}
		for t, w := range p.rejected.Weights {
			grad[(2*i+1)*T+t] = float32(dR/k) * w
		}
		m := beta * ((piC - p.refC) - (piR - p.refR))
		st.margin += m / k
		if m > 0 {
			st.acc += 1 / k
		}
		if n > 0 {
			st.nll -= piC / n / k
		}
	}
	return l, st
}

// makePairs renders every ranking's pairs and computes the reference log-probabilities. A
// response's row weighs what the assistant writes in its turn (data.RenderChat's mask over the
// turn: texts, tool calls and the closing <|end|>, not tool results), not earlier turns of the
// prompt; a pair is left out when a response's whole turn does not fit the block.
func makePairs(ctx context.Context, tok tokenizer.Tokenizer, rs []data.Ranking, refG *model.Graph) ([]*pair, error) {
	T := refG.Config.Block
	var out []*pair
	for _, r := range rs {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("rlhf: %s: %w", r.Source, err)
		}
		rows := make([]data.Row, r.Len())
		fits := make([]bool, r.Len())
		for i := range r.Len() {
			row, ok, err := turnRow(tok, r.Prompt, r.Turn(i), T)
			if err != nil {
				return nil, fmt.Errorf("rlhf: %s: response %d: %w", r.Source, i, err)
			}
			rows[i], fits[i] = row, ok
		}
		for _, ab := range r.Pairs() {
			if fits[ab[0]] && fits[ab[1]] {
				out = append(out, &pair{chosen: rows[ab[0]], rejected: rows[ab[1]]})
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

// turnRow renders prompt and turn as a training row of block predictions weighted on what the
// assistant writes in the turn; ok is false if the row cannot hold the whole turn.
func turnRow(tok tokenizer.Tokenizer, prompt, turn []data.Message, block int) (row data.Row, ok bool, err error) {
	promptIDs, err := data.RenderPrompt(tok, prompt) // ends with the turn's <|assistant|>
	if err != nil {
		return data.Row{}, false, fmt.Errorf("prompt: %w", err)
	}
	ids, mask, err := data.RenderChat(tok, append(slices.Clip(prompt), turn...))
	if err != nil {
		return data.Row{}, false, err
	}
	turnStart := len(promptIDs) - 1 // the <|assistant|> that opens the turn
	clear(mask[:turnStart])
	// FitBlock keeps the last block predictions; the first of them predicts ids[start+1], so
	// the turn's first token after <|assistant|> stays while start <= turnStart.
	if start := len(ids) - 1 - block; start > turnStart {
		return data.Row{}, false, nil
	}
	row, _, ok = data.FitBlock(ids, mask, block)
	return row, ok, nil
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

// sumMasked is Σ x[i]·w[i] (Σ x[i] when w is nil).
func sumMasked(x, w []float32) float64 {
	var s float64
	for i, v := range x {
		if w == nil {
			s += float64(v)
		} else {
			s += float64(v) * float64(w[i])
		}
	}
	return s
}
