package rlhf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/reward"
	"github.com/tinychat-go/tinychat/train"
)

// PPOConfig configures PPO: the shared training configuration, where a step is one
// iteration (a batch of rollouts and the updates on it), Batch is the number of prompts
// sampled per iteration (one reply each) and LR the policy's learning rate; and PPO's own
// settings. Start from DefaultPPOConfig.
type PPOConfig struct {
	train.Config
	// MiniBatch is the rows per gradient step (must divide Batch); Epochs the passes over each
	// rollout batch.
	MiniBatch, Epochs int
	// MaxReplyTokens limits each reply (1 ..< Block); Temperature is the sampling
	// temperature (> 0).
	MaxReplyTokens int
	Temperature    float64
	// Block is the row length of the training graphs (0: the model's block size; at most
	// that). Rows shorter than the model's block make every update cheaper when prompt and
	// reply are short: each prompt's tokens plus MaxReplyTokens must fit in Block+1 (checked
	// at the start, naming the prompt). A rollout that still does not fit (tool results are
	// not bounded by MaxReplyTokens) loses the front of its prompt, and the iteration's
	// metric "cropped" counts the fraction that did.
	Block int
	// Unpacked gives each rollout a row of Block tokens of its own in the log-probability,
	// value and update graphs. By default a minibatch's rollouts are packed one after another
	// into as few rows as they fit, each up to its last action and attending only to itself
	// (model.GraphConfig.Packed): the same numbers up to the order float32 sums the gradients
	// in, on fewer rows when prompts and replies are short against Block.
	Unpacked bool
	// ValueLR is the value model's learning rate (it follows the policy's schedule, scaled).
	ValueLR float64
	// ClipRange is PPO's ε; ValueClip the value-loss clip.
	ClipRange, ValueClip float64
	// Gamma and Lambda configure GAE.
	Gamma, Lambda float64
	// EntropyCoef weights an entropy bonus (0: none).
	EntropyCoef float64
	// KLCoef is β, the weight of the per-token KL penalty to the SFT model. With TargetKL > 0
	// it adapts (Ziegler et al.): β ← β·(1 + clip(KL/TargetKL − 1, ±0.2)·n/Horizon) after each
	// iteration of n replies.
	KLCoef, TargetKL float64
	Horizon          int
	// TruncationPenalty is added to the score of a reply that hit MaxReplyTokens without
	// <|end|> (negative: a penalty).
	TruncationPenalty float64
	// PretrainCoef is γ of InstructGPT's PPO-ptx: each policy update also descends γ times the
	// next-token loss on a minibatch of windows drawn from Pretrain, which keeps the knowledge
	// the reward model does not see from eroding (0: plain PPO).
	PretrainCoef float64
	// Pretrain is the token stream for PretrainCoef (longer than the block), e.g.
	// pretrain.Corpus.Train.
	Pretrain []int32 `json:"-"`
	// Tools, when set, are run inside the rollouts (the model's tool calls are executed and
	// their results fed back, see chat.Assistant.ReplyWithTools); the result tokens are the
	// environment's, so they are left out of the policy loss, the value targets and the KL.
	// The policy's tokenizer must have the tool tokens.
	Tools *chat.ToolConfig `json:"-"`
	// Evaluate, when set, measures the policy every EvalInterval steps and at the end — say
	// the gold score ("gold") and the reward model's score ("proxy") of replies to fixed
	// held-out prompts — into the metrics log, where the over-optimisation curves come from.
	Evaluate func(ctx context.Context, policy *model.Model) (map[string]float64, error) `json:"-"`
	// Alarms says when to log a warning (to Config.Logger) that the run over-optimises the
	// proxy or runs away; its MaxReplyTokens defaults to the run's.
	Alarms AlarmConfig `json:"-"`
	// AdvantageGroups, when set, gives each prompt (by its index among the prompts) a group,
	// and the advantages are whitened within each group of the batch instead of over the
	// whole batch: prompts whose rewards come from different sources on different scales (a
	// reward model's, a program's that checks the answer) then weigh alike in each update,
	// where whitening them together lets the source with the larger spread drive it. Where
	// one source's rewards hardly vary, its advantages are mostly the value model's error,
	// which this scales up (tinychat's skills: docs/tinychat/ppo-on-skills.md). nil: one
	// group (the default). Its length must be the number of prompts.
	AdvantageGroups []int `json:"-"`
}

// DefaultPPOConfig returns PPO's defaults: 50 iterations of 32 prompts, 2 epochs of
// minibatches of 8, replies of up to 48 tokens at temperature 1, a constant policy LR of
// 1e-5 and value LR of 5e-5 (AdamW β2 0.99, no weight decay, clipping at 1), ε 0.2 for both
// clips, GAE γ 1 and λ 0.95, a fixed KL coefficient 0.05 (Horizon 10000 for the adaptive
// form), a truncation penalty of −1, plain PPO (PretrainCoef 0), metrics logged every
// iteration, seed train.DefaultSeed. Out must be set.
func DefaultPPOConfig() PPOConfig {
	c := PPOConfig{
		Config: train.DefaultConfig(), MiniBatch: 8, Epochs: 2, MaxReplyTokens: 48, Temperature: 1,
		ValueLR: 5e-5, ClipRange: 0.2, ValueClip: 0.2, Gamma: 1, Lambda: 0.95,
		KLCoef: 0.05, Horizon: 10000, TruncationPenalty: -1,
	}
	c.Steps, c.Batch, c.LR = 50, 32, 1e-5
	c.MinLRRatio, c.WarmupRatio, c.WeightDecay, c.LogInterval = 1, 0, 0, 1
	return c
}

// validate checks PPO's own fields (the training config is checked by train.Run).
func (c PPOConfig) validate(block int) error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	switch {
	case c.MiniBatch <= 0 || c.Batch%c.MiniBatch != 0:
		return fmt.Errorf("MiniBatch is %d, want a divisor of Batch (%d)", c.MiniBatch, c.Batch)
	case c.Epochs <= 0:
		return fmt.Errorf("Epochs is %d, want > 0", c.Epochs)
	case c.Block < 0 || c.Block > block:
		return fmt.Errorf("Block is %d, want 0 (the model's) or 1..%d (the model's block size)", c.Block, block)
	case c.MaxReplyTokens < 1 || c.MaxReplyTokens >= rowsOf(c.Block, block):
		return fmt.Errorf("MaxReplyTokens is %d, want 1..%d (below the rows' length, which bounds every reply)", c.MaxReplyTokens, rowsOf(c.Block, block)-1)
	case !(c.Temperature > 0):
		return fmt.Errorf("Temperature is %v, want > 0", c.Temperature)
	case !(c.ValueLR > 0):
		return fmt.Errorf("ValueLR is %v, want > 0", c.ValueLR)
	case !(c.ClipRange > 0) || !(c.ValueClip > 0):
		return fmt.Errorf("ClipRange (%v) and ValueClip (%v) must be > 0", c.ClipRange, c.ValueClip)
	case !(c.Gamma >= 0 && c.Gamma <= 1) || !(c.Lambda >= 0 && c.Lambda <= 1):
		return fmt.Errorf("Gamma (%v) and Lambda (%v) must be in [0, 1]", c.Gamma, c.Lambda)
	case c.KLCoef < 0 || c.TargetKL < 0 || c.EntropyCoef < 0:
		return fmt.Errorf("KLCoef (%v), TargetKL (%v) and EntropyCoef (%v) must not be negative", c.KLCoef, c.TargetKL, c.EntropyCoef)
	case c.TargetKL > 0 && c.Horizon <= 0:
		return fmt.Errorf("Horizon is %d, want > 0 with TargetKL", c.Horizon)
	case c.PretrainCoef < 0:
		return fmt.Errorf("PretrainCoef is %v, want ≥ 0", c.PretrainCoef)
	case c.PretrainCoef > 0 && len(c.Pretrain) <= rowsOf(c.Block, block):
		return fmt.Errorf("PretrainCoef needs a Pretrain token stream longer than the rows (%d tokens), got %d", rowsOf(c.Block, block), len(c.Pretrain))
	}
	return nil
}

// Scorer scores complete token sequences (prompt and reply) at their last token. The reward
// model's *reward.Scorer is one; a program that checks replies can be another.
type Scorer interface {
	ScoreTokens(ctx context.Context, seqs [][]int32) ([]float32, error)
}

// PolicyStages are the stages a policy can start from: an SFT model, or an RLHF one to train
// further (DPO after PPO, say).
var PolicyStages = []model.Stage{model.StageSFT, model.StageRLHF}

// TrainPPOFile is TrainPPO with the checkpoints read from files.
func TrainPPOFile(ctx context.Context, cfg PPOConfig, policyPath, rewardPath string, prompts [][]data.Message) (*train.Result, error) {
	pol, err := model.LoadStage(policyPath, PolicyStages...)
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	rm, err := model.LoadStage(rewardPath, model.StageReward)
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	return TrainPPO(ctx, cfg, pol, rm, prompts)
}

// TrainPPO runs PPO from the policy checkpoint (SFT or RLHF) against the reward checkpoint rm
// on prompts (conversations ending with a user turn) and writes the policy as a checkpoint
// with stage "rlhf" to cfg.Out. The value model starts from the reward model, as InstructGPT
// and DeepSpeed-Chat do. The run goes through the shared training loop, so an interrupted run
// resumes where it stopped, bit-identically.
func TrainPPO(ctx context.Context, cfg PPOConfig, policy, rm *model.Checkpoint, prompts [][]data.Message) (*train.Result, error) {
	scorer, err := reward.FromCheckpoint(rm)
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	if policy == nil || policy.Tokenizer == nil {
		return nil, errors.New("rlhf: a policy checkpoint is required")
	}
	a, _ := policy.Tokenizer.MarshalJSON()
	b, _ := rm.Tokenizer.MarshalJSON()
	if string(a) != string(b) {
		return nil, errors.New("rlhf: the reward model uses a different tokenizer from the policy")
	}
	rmID, err := rm.Fingerprint()
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	return PPO(ctx, cfg, policy, rm.Model.Clone(), scorer, rmID, prompts)
}

// PPO is TrainPPO with the parts given: the policy checkpoint (its model is copied for the
// policy and serves as the frozen reference), a value model with a scalar head (trained in
// place), a scorer (a reward model, or a program), and rewardRef, recorded in the checkpoint's
// metadata as what the rewards came from.
func PPO(ctx context.Context, cfg PPOConfig, policy *model.Checkpoint, value *model.Model, scorer Scorer, rewardRef string, prompts [][]data.Message) (*train.Result, error) {
	t, err := newPPOTrainer(cfg, policy, value, scorer, prompts)
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	job, err := t.job(policy, "ppo", rewardRef, cfg, data.TokensFingerprint(cfg.Pretrain))
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	job.Memory, job.Step, job.Aux = t.memory(t.valFwd, t.polTrain, t.valTrain), t.step, []*train.AuxModel{t.valueAux}
	if t.ptx != nil {
		job.Memory += t.ptx.MemoryEstimate()
	}
	job.Evaluate = evaluator(cfg.Evaluate, t.policy, t.watch)
	job.SaveState, job.LoadState = t.saveState, t.loadState
	job.Finish = func(_ context.Context, _ map[string]float64, extra map[string]string) error {
		extra["rlhf.kl_coef"] = fmt.Sprint(t.beta)
		return nil
	}
	return train.Run(ctx, cfg.Config, job)
}

// ppoTrainer holds one PPO run: the models, their graphs and the state that carries from one
// iteration to the next. Its step is rollout → score → forward → advantages → update.
type ppoTrainer struct {
	*policySampler
	cfg                PPOConfig
	valueAux           *train.AuxModel
	valFwd             *model.Graphs
	polTrain, valTrain *model.Graphs
	ptx                *model.Graph // PPO-ptx: next-token loss on pretraining windows; nil for plain PPO
	oldLP, advs, mask  []float32    // the minibatch's inputs to the policy loss
	oldV, rets         []float32    // and to the value loss
	stats              PPOStats
	vloss              float64
	ptxPCG             *rand.PCG
	ptxRNG             *rand.Rand
	beta               float64 // the KL coefficient (adapted with TargetKL)
	watch              *watch
}

func newPPOTrainer(cfg PPOConfig, ck *model.Checkpoint, value *model.Model, scorer Scorer, prompts [][]data.Message) (*ppoTrainer, error) {
	if err := checkPolicy(ck, "PPO"); err != nil {
		return nil, err
	}
	if err := cfg.validate(ck.Model.Config.BlockSize); err != nil {
		return nil, err
	}
	if value == nil || !value.Config.ScalarHead {
		return nil, errors.New("the value model needs a scalar head")
	}
	if cfg.AdvantageGroups != nil && len(cfg.AdvantageGroups) != len(prompts) {
		return nil, fmt.Errorf("AdvantageGroups has %d groups for %d prompts, want one per prompt", len(cfg.AdvantageGroups), len(prompts))
	}
	ps, err := newPolicySampler(ck, scorer, prompts, samplerConfig{rows: cfg.Block, minibatch: cfg.MiniBatch, rollouts: cfg.Batch,
		maxReply: cfg.MaxReplyTokens, seed: cfg.Seed, tools: cfg.Tools, unpacked: cfg.Unpacked})
	if err != nil {
		return nil, err
	}
	t := &ppoTrainer{
		policySampler: ps, cfg: cfg,
		valueAux: &train.AuxModel{Name: "value", Model: value, LRScale: cfg.ValueLR / cfg.LR},
		beta:     cfg.KLCoef, ptxPCG: rand.NewPCG(cfg.Seed, 0x97),
	}
	alarms := cfg.Alarms
	if alarms.MaxReplyTokens == 0 {
		alarms.MaxReplyTokens = cfg.MaxReplyTokens
	}
	t.watch = newWatch(alarms, cfg.Logger)
	t.ptxRNG = rand.New(t.ptxPCG)
	n := t.M * t.T
	t.oldLP, t.advs, t.mask, t.oldV, t.rets = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	// The loss closures see the graph's rows (n values), the minibatch's arrays lie in front.
	policyLoss := func(x, grad []float32) float64 {
		n := len(x)
		l, s := ClippedSurrogate(x, t.oldLP[:n], t.advs[:n], t.mask[:n], cfg.ClipRange, cfg.EntropyCoef, grad)
		t.stats = s
		return l
	}
	valueLoss := func(x, grad []float32) float64 {
		n := len(x)
		t.vloss = ClippedValueLoss(x, t.oldV[:n], t.rets[:n], t.mask[:n], cfg.ValueClip, grad)
		return t.vloss
	}
	M, T, packed := t.M, t.T, t.packed
	graphs := graphsMaker(&err)
	t.valFwd = graphs(value, model.GraphConfig{Batch: M, Block: T, Objective: model.Values, Packed: packed})
	// The policy's updates and its pretraining-mix graph run one after the other, and only
	// their losses are read: one arena, outputs included.
	policyArena := &model.Arena{SharedOutputs: true}
	t.polTrain = graphs(t.policy, model.GraphConfig{Batch: M, Block: T, Objective: model.LogProbs, Loss: policyLoss, Train: true,
		Seed: cfg.Seed, Recompute: cfg.Recompute, Precision: cfg.Precision, Arena: policyArena, Packed: packed})
	t.valTrain = graphs(value, model.GraphConfig{Batch: M, Block: T, Objective: model.Values, Loss: valueLoss, Train: true,
		Seed: cfg.Seed, Recompute: cfg.Recompute, Precision: cfg.Precision, Packed: packed})
	if cfg.PretrainCoef > 0 && err == nil {
		t.ptx, err = t.policy.NewGraph(model.GraphConfig{Batch: M, Block: T, Train: true, Seed: cfg.Seed, Recompute: cfg.Recompute, Precision: cfg.Precision, Arena: policyArena})
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// ppoState is what a resumed run needs besides the weights and optimizers.
type ppoState struct {
	RNG, PtxRNG []byte
	Beta        float64
}

func (t *ppoTrainer) saveState() (string, error) {
	a, err := t.rngPCG.MarshalBinary()
	if err != nil {
		return "", err
	}
	b, err := t.ptxPCG.MarshalBinary()
	if err != nil {
		return "", err
	}
	js, err := json.Marshal(ppoState{RNG: a, PtxRNG: b, Beta: t.beta})
	return string(js), err
}

func (t *ppoTrainer) loadState(s string) error {
	var st ppoState
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		return err
	}
	if err := t.rngPCG.UnmarshalBinary(st.RNG); err != nil {
		return err
	}
	if err := t.ptxPCG.UnmarshalBinary(st.PtxRNG); err != nil {
		return err
	}
	t.beta = st.Beta
	return nil
}

// step is one PPO iteration.
func (t *ppoTrainer) step(ctx context.Context, s *train.StepContext) (train.StepResult, error) {
	ro, scores, err := t.sample(ctx, t.cfg.Batch, 1, t.cfg.MaxReplyTokens, t.cfg.Temperature)
	if err != nil {
		return train.StepResult{}, err
	}
	if err := t.values(ro); err != nil {
		return train.StepResult{}, err
	}
	line := t.advantages(ro, scores)
	upd, err := t.update(ro, s)
	if err != nil {
		return train.StepResult{}, err
	}
	for k, v := range upd {
		line[k] = v
	}
	line["iteration"] = float64(s.Step + 1)
	line["kl_coef"] = t.beta
	line["cropped"] = croppedFrac(ro)
	t.watch.step(s.Step+1, line)
	if t.cfg.TargetKL > 0 {
		e := math.Max(-0.2, math.Min(0.2, line["kl"]/t.cfg.TargetKL-1))
		t.beta *= 1 + e*float64(len(ro))/float64(t.cfg.Horizon)
	}
	return train.StepResult{Loss: upd["policy_loss"], Tokens: int(line["reply_len"] * float64(len(ro))), Metrics: line}, nil
}

// values records the value model's estimates, a minibatch at a time.
func (t *ppoTrainer) values(ro []*rollout) error {
	l := t.layout()
	for lo := 0; lo < len(ro); lo += t.M {
		mb := ro[lo : lo+t.M]
		if err := l.lay(mb, t.M); err != nil {
			return err
		}
		g, err := l.graph(t.valFwd, mb)
		if err != nil {
			return err
		}
		if err := g.Run(); err != nil {
			return err
		}
		for i, x := range mb {
			x.values = append([]float32(nil), g.Output[l.at[i]:l.at[i]+l.n[i]]...)
		}
	}
	return nil
}

// advantages turns scores into per-token rewards (KL penalty included), GAE advantages and
// returns, whitened over the batch, and returns the rollout statistics.
func (t *ppoTrainer) advantages(ro []*rollout, scores []float32) map[string]float64 {
	T := t.T
	var scoreSum, klSum, lenSum, ended, negLogp float64
	for i, x := range ro {
		score := float64(scores[i])
		scoreSum += score
		if !x.ended {
			score += t.cfg.TruncationPenalty
		} else {
			ended++
		}
		// GAE runs over the actions only: the tokens a tool inserted are part of the
		// environment's transition between two actions, not steps of their own.
		rew, kl := tokenRewards(x, score, t.beta)
		klSum += kl
		vals := make([]float64, len(x.act))
		for k, p := range x.act {
			vals[k] = float64(x.values[p])
			negLogp -= float64(x.oldLogp[p])
		}
		adv, ret := GAE(rew, vals, t.cfg.Gamma, t.cfg.Lambda)
		x.adv, x.ret = make([]float32, T), make([]float32, T)
		for k, p := range x.act {
			x.adv[p], x.ret[p] = float32(adv[k]), float32(ret[k])
		}
		lenSum += float64(len(x.act))
	}
	whitenGroups(ro, t.cfg.AdvantageGroups)
	nr := float64(len(ro))
	return map[string]float64{
		"score": scoreSum / nr, "kl": klSum / nr, "entropy": negLogp / lenSum,
		"reply_len": lenSum / nr, "ended_rate": ended / nr,
	}
}

// update runs Epochs passes of minibatch updates of the policy (with the PPO-ptx loss when
// set) and the value model.
func (t *ppoTrainer) update(ro []*rollout, s *train.StepContext) (map[string]float64, error) {
	polParams, valParams := t.policy.Params, t.valueAux.Model.Params
	l := t.layout()
	var clipSum, aklSum, vlSum, plSum, ptxSum, rowsSum, updates float64
	for ep := 0; ep < t.cfg.Epochs; ep++ {
		order := t.rng.Perm(len(ro))
		for _, mb := range minibatches(ro, order, t.M) {
			if err := l.lay(mb, t.M); err != nil {
				return nil, err
			}
			polTrain, err := l.graph(t.polTrain, mb)
			if err != nil {
				return nil, err
			}
			valTrain, err := l.graph(t.valTrain, mb)
			if err != nil {
				return nil, err
			}
			clear(t.mask)
			for i, x := range mb {
				at, n := l.at[i], l.n[i]
				copy(t.oldLP[at:at+n], x.oldLogp[:n])
				copy(t.advs[at:at+n], x.adv[:n])
				copy(t.oldV[at:at+n], x.values[:n])
				copy(t.rets[at:at+n], x.ret[:n])
				actionMask(t.mask[at:at+n], x)
			}
			// The value model's update shares nothing with the policy's (its own graph,
			// weights and optimizer), so it runs beside it, on the other core when there is
			// one: the same numbers as one after the other, in less time (a training graph
			// this small leaves a core partly idle).
			vopt := t.valueAux.Optimizer
			valueDone := make(chan error, 1)
			go func() {
				vopt.ZeroGrad()
				if err := valTrain.Run(); err != nil {
					valueDone <- err
					return
				}
				s.ClipGrads(valParams)
				vopt.Step(s.LR * t.valueAux.LRScale)
				valueDone <- nil
			}()
			err = t.policyUpdate(s, polTrain, polParams, &ptxSum)
			if verr := <-valueDone; err == nil {
				err = verr
			}
			if err != nil {
				return nil, err
			}
			plSum += polTrain.Loss
			rowsSum += float64(l.rows)
			clipSum += t.stats.ClipFrac
			aklSum += t.stats.ApproxKL
			vlSum += t.vloss
			updates++
		}
	}
	out := map[string]float64{
		"policy_loss": plSum / updates, "clip_frac": clipSum / updates, "approx_kl": aklSum / updates, "value_loss": vlSum / updates,
		"rows": rowsSum / updates,
	}
	if t.ptx != nil {
		out["ptx_loss"] = ptxSum / updates
	}
	return out, nil
}

// policyUpdate is one minibatch's update of the policy: the PPO-ptx loss's gradient when set,
// the policy loss's, clipping and the optimizer's step. ptxSum accumulates the ptx loss.
func (t *ppoTrainer) policyUpdate(s *train.StepContext, polTrain *model.Graph, polParams []*train.Param, ptxSum *float64) error {
	s.Optimizer.ZeroGrad()
	if t.ptx != nil {
		l, err := pretrainGrad(t.ptx, t.cfg.Pretrain, t.ptxRNG, polParams, t.cfg.PretrainCoef)
		if err != nil {
			return err
		}
		*ptxSum += l
	}
	if err := polTrain.Run(); err != nil {
		return err
	}
	s.ClipGrads(polParams)
	s.Optimizer.Step(s.LR)
	return nil
}

// pretrainGrad fills g with random windows of stream, runs it (adding the next-token loss's
// gradient to the policy's) and scales the gradients by coef; call it right after zeroing them.
// It returns the loss.
func pretrainGrad(g *model.Graph, stream []int32, rng *rand.Rand, params []*train.Param, coef float64) (float64, error) {
	T := g.Config.Block
	for r := 0; r < g.Config.Batch; r++ {
		i := rng.IntN(len(stream) - T)
		copy(g.Tokens[r*T:(r+1)*T], stream[i:i+T])
		copy(g.Targets[r*T:(r+1)*T], stream[i+1:i+T+1])
	}
	for i := range g.Weights {
		g.Weights[i] = 1
	}
	if err := g.Run(); err != nil {
		return 0, err
	}
	if math.IsNaN(g.Loss) {
		return 0, errors.New("pretraining loss is NaN")
	}
	c := float32(coef)
	for _, p := range params {
		for i := range p.Grad {
			p.Grad[i] *= c
		}
	}
	return g.Loss, nil
}

// rollout is one prompt's reply laid out as a training row.
type rollout struct {
	seq             []int32 // prompt and reply tokens (what the scorer sees)
	tokens, targets []int32 // the row: tokens[p] predicts targets[p]
	// act are the row positions whose targets are the policy's actions, in order: every reply
	// token the model generated, not the tokens a tool runtime inserted (its results). The last
	// one predicts the reply's <|end|> (or its last token when it was cut).
	act     []int
	ended   bool
	cropped bool // the prompt lost its front to fit the row
	prompt  int  // the index of its prompt among the trainer's
	// oldLogp, refLogp and values are by row position, up to the last action (the whole row
	// unpacked: rowLayout).
	oldLogp, refLogp, values []float32
	adv, ret                 []float32
}

// buildRollouts lays out prompt+reply sequences as rows of block tokens, cutting the prompt
// from the left if needed. inserted, when not nil, flags for each reply the tokens a tool
// runtime inserted (chat.ToolReply.Inserted), which are left out of the actions.
func buildRollouts(replies []chat.Reply, inserted [][]bool, block int) ([]*rollout, error) {
	out := make([]*rollout, len(replies))
	for i, r := range replies {
		if len(r.Tokens) == 0 {
			return nil, fmt.Errorf("reply %d is empty", i)
		}
		var ins []bool
		if inserted != nil {
			if ins = inserted[i]; len(ins) != len(r.Tokens) {
				return nil, fmt.Errorf("reply %d has %d tokens but %d inserted-token flags", i, len(r.Tokens), len(ins))
			}
		}
		seq := append(append([]int32(nil), r.Prompt...), r.Tokens...)
		cropped := len(seq)-1 > block
		if cropped {
			seq = seq[len(seq)-1-block:]
		}
		if len(r.Tokens) > len(seq)-1 {
			return nil, fmt.Errorf("reply %d (%d tokens) does not fit the block of %d", i, len(r.Tokens), block)
		}
		x := &rollout{seq: seq, tokens: make([]int32, block), targets: make([]int32, block), ended: r.Ended, cropped: cropped}
		copy(x.tokens, seq[:len(seq)-1])
		copy(x.targets, seq[1:])
		start := len(seq) - 1 - len(r.Tokens) // the position whose target is the reply's first token
		for k := range r.Tokens {
			if ins == nil || !ins[k] {
				x.act = append(x.act, start+k)
			}
		}
		if len(x.act) == 0 {
			return nil, fmt.Errorf("reply %d has no generated token", i)
		}
		out[i] = x
	}
	return out, nil
}

// croppedFrac is the fraction of rollouts whose prompt lost its front to fit the rows.
func croppedFrac(ro []*rollout) float64 {
	n := 0
	for _, x := range ro {
		if x.cropped {
			n++
		}
	}
	return float64(n) / float64(max(len(ro), 1))
}

// tokenRewards returns the per-action rewards of a reply, −β·(log π − log π_ref) on every
// action token plus score on the last one (the reply's <|end|>, or its last token when it was
// cut at the length limit; never a padding or an inserted position), and the reply's summed KL
// estimate over its actions.
func tokenRewards(x *rollout, score, beta float64) (rew []float64, kl float64) {
	rew = make([]float64, len(x.act))
	for t, p := range x.act {
		k := float64(x.oldLogp[p] - x.refLogp[p])
		kl += k
		rew[t] = -beta * k
	}
	rew[len(rew)-1] += score
	return rew, kl
}

// actionMask writes 1 at x's action positions of m (one row) and 0 elsewhere.
func actionMask(m []float32, x *rollout) {
	clear(m)
	for _, p := range x.act {
		m[p] = 1
	}
}

// minibatches cuts ro, taken in the given order, into minibatches of m rollouts.
func minibatches(ro []*rollout, order []int, m int) [][]*rollout {
	var out [][]*rollout
	for lo := 0; lo+m <= len(order); lo += m {
		mb := make([]*rollout, m)
		for r := range mb {
			mb[r] = ro[order[lo+r]]
		}
		out = append(out, mb)
	}
	return out
}

// whitenGroups whitens the advantages within each group of rollouts, groups[x.prompt] being
// x's (nil: the whole batch is one group).
func whitenGroups(ro []*rollout, groups []int) {
	if groups == nil {
		whiten(ro)
		return
	}
	by := map[int][]*rollout{}
	for _, x := range ro {
		by[groups[x.prompt]] = append(by[groups[x.prompt]], x)
	}
	for _, g := range by {
		whiten(g)
	}
}

// whiten normalises the advantages over every action token of the batch to mean 0, std 1.
func whiten(ro []*rollout) {
	var sum, sq, n float64
	for _, x := range ro {
		for _, p := range x.act {
			sum += float64(x.adv[p])
			n++
		}
	}
	mean := sum / n
	for _, x := range ro {
		for _, p := range x.act {
			d := float64(x.adv[p]) - mean
			sq += d * d
		}
	}
	std := math.Sqrt(sq/n) + 1e-8
	for _, x := range ro {
		for _, p := range x.act {
			x.adv[p] = float32((float64(x.adv[p]) - mean) / std)
		}
	}
}
