package rlhf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/train"
)

// GroupMethod selects how a group of replies to one prompt turns rewards into advantages.
type GroupMethod string

const (
	// GRPO (DeepSeekMath): advantage = (reward − group mean) / group standard deviation, with
	// PPO's clipped ratio objective.
	GRPO GroupMethod = "grpo"
	// RLOO (Ahmadian et al.): advantage = reward − the mean reward of the group's other replies
	// (the leave-one-out baseline), with the REINFORCE objective (one pass over each batch).
	RLOO GroupMethod = "rloo"
)

// GroupConfig configures GRPO and RLOO, the RL methods whose baseline is the group of replies
// sampled for the same prompt (no value model): the shared training configuration, where a
// step is one iteration, Batch the number of prompts per iteration and LR the policy's
// learning rate; and the method's own settings. Start from DefaultGRPOConfig or
// DefaultRLOOConfig.
type GroupConfig struct {
	train.Config
	// Method is GRPO or RLOO.
	Method GroupMethod
	// Group is the number of replies sampled per prompt (≥ 2); MiniBatch the rows per gradient
	// step (must divide Batch·Group); Epochs the passes over each batch (RLOO: 1).
	Group, MiniBatch, Epochs int
	// MaxReplyTokens limits each reply (below Block); Temperature is the sampling
	// temperature (> 0).
	MaxReplyTokens int
	Temperature    float64
	// Block is the row length of the training graphs (0: the model's block size), as
	// PPOConfig.Block says; Unpacked as PPOConfig.Unpacked says.
	Block    int
	Unpacked bool
	// ClipRange is the ratio clip ε of GRPO's objective.
	ClipRange float64
	// KLCoef is β, the weight of the KL to the starting model: with KLInReward false, the k3
	// estimator exp(ref−logp) − (ref−logp) − 1 per token is added to the loss (GRPO's form);
	// with KLInReward true, β·Σ(logp − ref) is subtracted from each reply's reward before the
	// advantages are computed (RLOO's and PPO's form).
	KLCoef     float64
	KLInReward bool
	// TruncationPenalty is added to the reward of a reply cut at MaxReplyTokens without <|end|>.
	TruncationPenalty float64
	// PretrainCoef and Pretrain add InstructGPT's pretraining mix, as PPOConfig's fields of the
	// same names do for PPO-ptx: each gradient step also descends PretrainCoef times the
	// next-token loss on random windows of the Pretrain token stream. 0 (the default): off.
	PretrainCoef float64
	Pretrain     []int32 `json:"-"`
	// Tools, when set, are run inside the rollouts, as PPOConfig.Tools says.
	Tools *chat.ToolConfig `json:"-"`
	// Evaluate, when set, measures the policy every EvalInterval steps and at the end — say
	// the gold score ("gold") and the reward model's score ("proxy") of replies to fixed
	// held-out prompts — into the metrics log, where the over-optimisation curves come from.
	Evaluate func(ctx context.Context, policy *model.Model) (map[string]float64, error) `json:"-"`
	// Alarms says when to log a warning (to Config.Logger) that the run over-optimises the
	// proxy or runs away; its MaxReplyTokens defaults to the run's.
	Alarms AlarmConfig `json:"-"`
}

// DefaultGRPOConfig returns GRPO's defaults: 50 iterations of 8 prompts × 8 replies, one pass
// in minibatches of 16 rows, replies of up to 48 tokens at temperature 1, a constant LR of
// 1e-5 (AdamW β2 0.99, no weight decay, clipping at 1), ε 0.2, β 0.04 with the k3 estimator in
// the loss, a truncation penalty of −1, metrics every iteration. Out must be set.
func DefaultGRPOConfig() GroupConfig {
	c := GroupConfig{
		Config: train.DefaultConfig(), Method: GRPO, Group: 8, MiniBatch: 16, Epochs: 1,
		MaxReplyTokens: 48, Temperature: 1, ClipRange: 0.2, KLCoef: 0.04, TruncationPenalty: -1,
	}
	c.Steps, c.Batch, c.LR = 50, 8, 1e-5
	c.MinLRRatio, c.WarmupRatio, c.WeightDecay, c.LogInterval = 1, 0, 0, 1
	return c
}

// DefaultRLOOConfig is DefaultGRPOConfig with the RLOO method, the KL in the reward (β 0.05)
// and one pass per batch.
func DefaultRLOOConfig() GroupConfig {
	c := DefaultGRPOConfig()
	c.Method, c.KLCoef, c.KLInReward = RLOO, 0.05, true
	return c
}

func (c GroupConfig) validate(block int) error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	switch {
	case c.Method != GRPO && c.Method != RLOO:
		return fmt.Errorf("Method is %q, want %q or %q", c.Method, GRPO, RLOO)
	case c.Group < 2:
		return fmt.Errorf("Group is %d, want ≥ 2 (the baseline is the other replies)", c.Group)
	case c.MiniBatch <= 0 || (c.Batch*c.Group)%c.MiniBatch != 0:
		return fmt.Errorf("MiniBatch is %d, want a divisor of Batch·Group (%d)", c.MiniBatch, c.Batch*c.Group)
	case c.Epochs <= 0 || (c.Method == RLOO && c.Epochs != 1):
		return fmt.Errorf("Epochs is %d, want > 0 (1 for RLOO, whose REINFORCE objective is on-policy)", c.Epochs)
	case c.Block < 0 || c.Block > block:
		return fmt.Errorf("Block is %d, want 0 (the model's) or 1..%d (the model's block size)", c.Block, block)
	case c.MaxReplyTokens < 1 || c.MaxReplyTokens >= rowsOf(c.Block, block):
		return fmt.Errorf("MaxReplyTokens is %d, want 1..%d (below the rows' length, which bounds every reply)", c.MaxReplyTokens, rowsOf(c.Block, block)-1)
	case !(c.Temperature > 0):
		return fmt.Errorf("Temperature is %v, want > 0", c.Temperature)
	case !(c.ClipRange > 0):
		return fmt.Errorf("ClipRange is %v, want > 0", c.ClipRange)
	case c.KLCoef < 0:
		return fmt.Errorf("KLCoef is %v, want ≥ 0", c.KLCoef)
	case c.PretrainCoef < 0:
		return fmt.Errorf("PretrainCoef is %v, want ≥ 0", c.PretrainCoef)
	case c.PretrainCoef > 0 && len(c.Pretrain) <= rowsOf(c.Block, block):
		return fmt.Errorf("PretrainCoef needs a Pretrain token stream longer than the rows (%d tokens), got %d", rowsOf(c.Block, block), len(c.Pretrain))
	}
	return nil
}

// GroupAdvantages turns the rewards of consecutive groups of group replies (one group per
// prompt) into advantages: GRPO's (r − mean)/(std + 1e-4), with the sample standard deviation
// (n − 1), as TRL computes it; RLOO's r − mean of the other replies of the group.
func GroupAdvantages(method GroupMethod, rewards []float64, group int) ([]float64, error) {
	if group < 2 || len(rewards)%group != 0 {
		return nil, fmt.Errorf("rlhf: %d rewards do not split into groups of %d (≥ 2)", len(rewards), group)
	}
	adv := make([]float64, len(rewards))
	for lo := 0; lo < len(rewards); lo += group {
		g := rewards[lo : lo+group]
		var sum float64
		for _, r := range g {
			sum += r
		}
		mean := sum / float64(group)
		switch method {
		case GRPO:
			var sq float64
			for _, r := range g {
				sq += (r - mean) * (r - mean)
			}
			std := math.Sqrt(sq / float64(group-1))
			for i, r := range g {
				adv[lo+i] = (r - mean) / (std + 1e-4)
			}
		case RLOO:
			for i, r := range g {
				adv[lo+i] = r - (sum-r)/float64(group-1)
			}
		default:
			return nil, fmt.Errorf("rlhf: unknown group method %q", method)
		}
	}
	return adv, nil
}

// GroupPolicyLoss is the policy loss of GRPO and RLOO over masked tokens: the clipped
// surrogate of ClippedSurrogate (with one pass it is the REINFORCE loss −A·log π, as the ratio
// is 1) plus klCoef times the mean k3 estimate of KL(π‖π_ref), exp(ref − logp) − (ref − logp)
// − 1, whose gradient is 1 − exp(ref − logp). It writes dloss/dlogp into grad and returns the
// loss, the surrogate's statistics and the mean k3.
func GroupPolicyLoss(logp, oldLogp, refLogp, adv, mask []float32, eps, klCoef float64, grad []float32) (float64, PPOStats, float64) {
	loss, st := ClippedSurrogate(logp, oldLogp, adv, mask, eps, 0, grad)
	var n float64
	for _, m := range mask {
		n += float64(m)
	}
	if n == 0 || klCoef == 0 {
		return loss, st, 0
	}
	var k3 float64
	for i, m := range mask {
		if m == 0 {
			continue
		}
		d := float64(refLogp[i]) - float64(logp[i])
		e := math.Exp(d)
		k3 += e - d - 1
		grad[i] += float32(klCoef * (1 - e) * float64(m) / n)
	}
	return loss + klCoef*k3/n, st, k3 / n
}

// TrainGroup runs GRPO or RLOO (cfg.Method) from the policy checkpoint (SFT or RLHF) with
// rewards from scorer — a reward model (reward.Scorer) or a program (ScorerFunc) — on prompts,
// and writes the policy as a checkpoint with stage "rlhf" (metadata rlhf.method "grpo" or
// "rloo"). rewardRef is recorded as what the rewards came from. The run goes through the
// shared training loop (resume, checkpoints, metrics).
func TrainGroup(ctx context.Context, cfg GroupConfig, policy *model.Checkpoint, scorer Scorer, rewardRef string, prompts [][]data.Message) (*train.Result, error) {
	if err := checkPolicy(policy, string(cfg.Method)); err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	if err := cfg.validate(policy.Model.Config.BlockSize); err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	ps, err := newPolicySampler(policy, scorer, prompts, samplerConfig{rows: cfg.Block, minibatch: cfg.MiniBatch, rollouts: cfg.Batch * cfg.Group,
		maxReply: cfg.MaxReplyTokens, seed: cfg.Seed, tools: cfg.Tools, unpacked: cfg.Unpacked})
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	alarms := cfg.Alarms
	if alarms.MaxReplyTokens == 0 {
		alarms.MaxReplyTokens = cfg.MaxReplyTokens
	}
	t := &groupTrainer{policySampler: ps, cfg: cfg, watch: newWatch(alarms, cfg.Logger), ptxPCG: rand.NewPCG(cfg.Seed, 0x97)}
	t.ptxRNG = rand.New(t.ptxPCG)
	n := t.M * t.T
	t.oldLP, t.refLP, t.advs, t.mask = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	// The policy's updates and its pretraining-mix graph run one after the other, and only
	// their losses are read: one arena, outputs included.
	policyArena := &model.Arena{SharedOutputs: true}
	t.train = graphsMaker(&err)(t.policy, model.GraphConfig{Batch: t.M, Block: t.T, Objective: model.LogProbs, Loss: t.loss, Train: true,
		Seed: cfg.Seed, Recompute: cfg.Recompute, Precision: cfg.Precision, Arena: policyArena, Packed: t.packed})
	extra := "" // what the run trains on besides the prompts (the fingerprint of a run without ptx is unchanged)
	if cfg.PretrainCoef > 0 && err == nil {
		t.ptx, err = t.policy.NewGraph(model.GraphConfig{Batch: t.M, Block: t.T, Train: true, Seed: cfg.Seed, Recompute: cfg.Recompute, Precision: cfg.Precision, Arena: policyArena})
		extra = data.TokensFingerprint(cfg.Pretrain)
	}
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	job, err := t.job(policy, string(cfg.Method), rewardRef, cfg, extra)
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	job.Memory, job.Step = t.memory(t.train), t.step
	if t.ptx != nil {
		job.Memory += t.ptx.MemoryEstimate()
	}
	job.Evaluate = evaluator(cfg.Evaluate, t.policy, t.watch)
	job.SaveState, job.LoadState = t.saveState, t.loadState
	return train.Run(ctx, cfg.Config, job)
}

// groupState is what a resumed run needs besides the weights and the optimizer. Runs without
// the pretraining mix save the sampling generator alone, as before it existed.
type groupState struct {
	RNG, PtxRNG []byte
}

func (t *groupTrainer) saveState() (string, error) {
	a, err := t.rngPCG.MarshalBinary()
	if err != nil {
		return "", err
	}
	var state any = a
	if t.ptx != nil {
		b, err := t.ptxPCG.MarshalBinary()
		if err != nil {
			return "", err
		}
		state = groupState{RNG: a, PtxRNG: b}
	}
	js, err := json.Marshal(state)
	return string(js), err
}

func (t *groupTrainer) loadState(s string) error {
	var st groupState
	if strings.HasPrefix(s, "{") {
		if err := json.Unmarshal([]byte(s), &st); err != nil {
			return err
		}
		if err := t.ptxPCG.UnmarshalBinary(st.PtxRNG); err != nil {
			return err
		}
	} else if err := json.Unmarshal([]byte(s), &st.RNG); err != nil {
		return err
	}
	return t.rngPCG.UnmarshalBinary(st.RNG)
}

// groupTrainer holds one GRPO or RLOO run.
type groupTrainer struct {
	*policySampler
	cfg                      GroupConfig
	train                    *model.Graphs
	ptx                      *model.Graph // the pretraining mix's next-token loss; nil without it
	ptxPCG                   *rand.PCG
	ptxRNG                   *rand.Rand
	oldLP, refLP, advs, mask []float32 // the minibatch's inputs to the loss
	stats                    PPOStats
	k3                       float64
	watch                    *watch
}

func (t *groupTrainer) loss(logp, grad []float32) float64 {
	beta := t.cfg.KLCoef
	if t.cfg.KLInReward {
		beta = 0
	}
	n := len(logp) // the graph's rows
	l, st, k3 := GroupPolicyLoss(logp, t.oldLP[:n], t.refLP[:n], t.advs[:n], t.mask[:n], t.cfg.ClipRange, beta, grad)
	t.stats, t.k3 = st, k3
	return l
}

// step is one iteration: sample Group replies to each of Batch prompts, score them, turn the
// rewards into group advantages (every token of a reply gets its reply's), and update.
func (t *groupTrainer) step(ctx context.Context, s *train.StepContext) (train.StepResult, error) {
	cfg := t.cfg
	ro, scores, err := t.sample(ctx, cfg.Batch, cfg.Group, cfg.MaxReplyTokens, cfg.Temperature)
	if err != nil {
		return train.StepResult{}, err
	}
	rewards := make([]float64, len(ro))
	var scoreSum, klSum, lenSum, ended float64
	for i, x := range ro {
		r := float64(scores[i])
		scoreSum += r
		if x.ended {
			ended++
		} else {
			r += cfg.TruncationPenalty
		}
		var kl float64
		for _, p := range x.act {
			kl += float64(x.oldLogp[p] - x.refLogp[p])
		}
		klSum += kl
		if cfg.KLInReward {
			r -= cfg.KLCoef * kl
		}
		rewards[i] = r
		lenSum += float64(len(x.act))
	}
	adv, err := GroupAdvantages(cfg.Method, rewards, cfg.Group)
	if err != nil {
		return train.StepResult{}, err
	}
	for i, x := range ro {
		x.adv = make([]float32, t.T)
		for _, p := range x.act {
			x.adv[p] = float32(adv[i])
		}
	}
	l := t.layout()
	var lossSum, clipSum, k3Sum, ptxSum, rowsSum, updates float64
	for ep := 0; ep < cfg.Epochs; ep++ {
		order := t.rng.Perm(len(ro))
		for _, mb := range minibatches(ro, order, t.M) {
			if err := l.lay(mb, t.M); err != nil {
				return train.StepResult{}, err
			}
			g, err := l.graph(t.train, mb)
			if err != nil {
				return train.StepResult{}, err
			}
			clear(t.mask)
			for i, x := range mb {
				at, n := l.at[i], l.n[i]
				copy(t.oldLP[at:at+n], x.oldLogp[:n])
				copy(t.refLP[at:at+n], x.refLogp[:n])
				copy(t.advs[at:at+n], x.adv[:n])
				actionMask(t.mask[at:at+n], x)
			}
			s.Optimizer.ZeroGrad()
			if t.ptx != nil {
				l, err := pretrainGrad(t.ptx, cfg.Pretrain, t.ptxRNG, t.policy.Params, cfg.PretrainCoef)
				if err != nil {
					return train.StepResult{}, err
				}
				ptxSum += l
			}
			if err := g.Run(); err != nil {
				return train.StepResult{}, err
			}
			s.ClipGrads(t.policy.Params)
			s.Optimizer.Step(s.LR)
			lossSum += g.Loss
			rowsSum += float64(l.rows)
			clipSum += t.stats.ClipFrac
			k3Sum += t.k3
			updates++
		}
	}
	nr := float64(len(ro))
	if updates == 0 {
		return train.StepResult{}, errors.New("no update")
	}
	line := map[string]float64{
		"iteration": float64(s.Step + 1), "score": scoreSum / nr, "kl": klSum / nr,
		"k3": k3Sum / updates, "clip_frac": clipSum / updates, "policy_loss": lossSum / updates,
		"reply_len": lenSum / nr, "ended_rate": ended / nr, "cropped": croppedFrac(ro),
		"rows": rowsSum / updates,
	}
	if t.ptx != nil {
		line["ptx_loss"] = ptxSum / updates
	}
	t.watch.step(s.Step+1, line)
	return train.StepResult{Loss: lossSum / updates, Tokens: int(lenSum), Metrics: line}, nil
}
