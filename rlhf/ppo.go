package rlhf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/reward"
	"github.com/tinychat-go/tinychat/train"
)

// PPOConfig configures TrainPPO. The zero value of every optional field means its default.
type PPOConfig struct {
	// Iterations is the number of rollout-and-update rounds (default 50).
	Iterations int
	// Prompts is the number of prompts sampled (one reply each) per iteration (default 32).
	Prompts int
	// MaxReplyTokens limits each reply (default 48); Temperature is the sampling temperature
	// (default 1).
	MaxReplyTokens int
	Temperature    float64
	// Epochs is the number of passes over each rollout batch (default 2); MiniBatch the rows
	// per gradient step (default 8; must divide Prompts).
	Epochs, MiniBatch int
	// LR is the policy's learning rate (default 1e-5); ValueLR the value model's (default 5e-5).
	LR, ValueLR float64
	// ClipRange is PPO's ε (default 0.2); ValueClip the value-loss clip (default 0.2).
	ClipRange, ValueClip float64
	// Gamma (default 1) and Lambda (default 0.95) configure GAE.
	Gamma, Lambda float64
	// EntropyCoef weights an entropy bonus (default 0: none).
	EntropyCoef float64
	// KLCoef is β, the weight of the per-token KL penalty to the SFT model (default 0.05).
	// With TargetKL > 0 it adapts (Ziegler et al.): β ← β·(1 + clip(KL/TargetKL − 1, ±0.2)·
	// n/Horizon) after each iteration of n replies (Horizon default 10000).
	KLCoef, TargetKL float64
	Horizon          int
	// TruncationPenalty is added to the score of a reply that hit MaxReplyTokens without
	// <|end|> (default −1; set a positive value to reward truncation, which you don't want).
	TruncationPenalty float64
	// Clip is the gradient-norm limit for both models (default 1).
	Clip float64
	// PretrainCoef is γ of InstructGPT's PPO-ptx: each policy update also descends γ times the
	// next-token loss on a minibatch of windows drawn from Pretrain, which keeps the knowledge
	// the reward model does not see from eroding (default 0: plain PPO).
	PretrainCoef float64
	// Pretrain is the token stream for PretrainCoef (required when it is set; longer than the
	// block), e.g. pretrain.Corpus.Train.
	Pretrain []int32
	// Seed seeds prompt order and sampling (default 1).
	Seed uint64
	// Out is the policy checkpoint path (required); the metrics log goes beside it.
	Out string
	// Progress selects the progress display.
	Progress train.ProgressMode
}

func (c PPOConfig) withDefaults() PPOConfig {
	defI := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defF := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	defI(&c.Iterations, 50)
	defI(&c.Prompts, 32)
	defI(&c.MaxReplyTokens, 48)
	defI(&c.Epochs, 2)
	defI(&c.MiniBatch, 8)
	defI(&c.Horizon, 10000)
	defF(&c.Temperature, 1)
	defF(&c.LR, 1e-5)
	defF(&c.ValueLR, 5e-5)
	defF(&c.ClipRange, 0.2)
	defF(&c.ValueClip, 0.2)
	defF(&c.Gamma, 1)
	defF(&c.Lambda, 0.95)
	defF(&c.KLCoef, 0.05)
	defF(&c.TruncationPenalty, -1)
	defF(&c.Clip, 1)
	if c.Seed == 0 {
		c.Seed = 1
	}
	return c
}

// Scorer scores complete token sequences (prompt and reply) at their last token. The reward
// model's *reward.Scorer is one; tests and toy tasks can plug in a program.
type Scorer interface {
	ScoreTokens(ctx context.Context, seqs [][]int32) ([]float32, error)
}

// PPOResult reports a finished PPO run.
type PPOResult struct {
	// Path is the policy checkpoint written.
	Path string
	// History holds each iteration's metrics (as also written to the metrics log).
	History []map[string]float64
	// Metrics are the last iteration's.
	Metrics map[string]float64
}

// TrainPPO runs PPO from the SFT checkpoint at sftPath against the reward checkpoint at
// rewardPath on prompts (conversations ending with a user turn), and writes the policy as a
// checkpoint with stage "rlhf". The value model starts from the reward model, as InstructGPT
// and DeepSpeed-Chat do. An interrupted run is not resumed: it starts again.
func TrainPPO(ctx context.Context, cfg PPOConfig, sftPath, rewardPath string, prompts [][]data.Message) (*PPOResult, error) {
	rm, err := reward.Load(rewardPath)
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	sftCk, err := model.LoadStage(sftPath, model.StageSFT)
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	a, _ := sftCk.Tokenizer.MarshalJSON()
	b, _ := rm.Tokenizer().MarshalJSON()
	if !bytes.Equal(a, b) {
		return nil, fmt.Errorf("rlhf: the reward model %s uses a different tokenizer from the SFT model %s", rewardPath, sftPath)
	}
	rewardSum, err := model.FileSHA256(rewardPath)
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	value := rm.Model().Clone()
	return PPO(ctx, cfg, sftCk, sftPath, value, rm, rewardSum, prompts)
}

// PPO is TrainPPO with the models given: the SFT checkpoint (its model is copied for the
// policy; the checkpoint's model serves as the frozen reference), a value model with a scalar
// head (trained in place), and a scorer. rewardRef is recorded in the checkpoint metadata.
func PPO(ctx context.Context, cfg PPOConfig, sftCk *model.Checkpoint, sftPath string, value *model.Model, scorer Scorer, rewardRef string, prompts [][]data.Message) (*PPOResult, error) {
	cfg = cfg.withDefaults()
	if cfg.Out == "" {
		return nil, errors.New("rlhf: PPOConfig.Out is required")
	}
	if cfg.Prompts%cfg.MiniBatch != 0 {
		return nil, fmt.Errorf("rlhf: MiniBatch %d must divide Prompts %d", cfg.MiniBatch, cfg.Prompts)
	}
	if len(prompts) == 0 {
		return nil, errors.New("rlhf: no prompts")
	}
	if !value.Config.ScalarHead {
		return nil, errors.New("rlhf: the value model needs a scalar head")
	}
	if cfg.PretrainCoef < 0 {
		return nil, fmt.Errorf("rlhf: PretrainCoef must not be negative, got %g", cfg.PretrainCoef)
	}
	if cfg.PretrainCoef > 0 && len(cfg.Pretrain) <= sftCk.Model.Config.BlockSize {
		return nil, fmt.Errorf("rlhf: PretrainCoef needs a Pretrain token stream longer than the block (%d tokens), got %d",
			sftCk.Model.Config.BlockSize, len(cfg.Pretrain))
	}
	tok := sftCk.Tokenizer
	ref := sftCk.Model
	policy := ref.Clone()
	T := policy.Config.BlockSize
	M := cfg.MiniBatch
	parentSum := ""
	if sftPath != "" {
		s, err := model.FileSHA256(sftPath)
		if err != nil {
			return nil, fmt.Errorf("rlhf: %w", err)
		}
		parentSum = s
	}

	// Graphs: forward passes over minibatches for old/ref log-probs and values, and the two
	// training graphs.
	var (
		oldLP, advs, mask, oldV, rets = make([]float32, M*T), make([]float32, M*T), make([]float32, M*T), make([]float32, M*T), make([]float32, M*T)
		stats                         PPOStats
		vloss                         float64
	)
	policyLoss := func(x, grad []float32) float64 {
		l, s := ClippedSurrogate(x, oldLP, advs, mask, cfg.ClipRange, cfg.EntropyCoef, grad)
		stats = s
		return l
	}
	valueLoss := func(x, grad []float32) float64 {
		vloss = ClippedValueLoss(x, oldV, rets, mask, cfg.ValueClip, grad)
		return vloss
	}
	polFwd, err := policy.NewGraph(model.GraphConfig{Batch: M, Block: T, Objective: model.LogProbs})
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	refFwd, err := ref.NewGraph(model.GraphConfig{Batch: M, Block: T, Objective: model.LogProbs})
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	valFwd, err := value.NewGraph(model.GraphConfig{Batch: M, Block: T, Objective: model.Values})
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	polTrain, err := policy.NewGraph(model.GraphConfig{Batch: M, Block: T, Objective: model.LogProbs, Loss: policyLoss, Train: true, Seed: cfg.Seed})
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	valTrain, err := value.NewGraph(model.GraphConfig{Batch: M, Block: T, Objective: model.Values, Loss: valueLoss, Train: true, Seed: cfg.Seed})
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	var ptx *model.Graph // PPO-ptx: next-token loss on pretraining windows
	if cfg.PretrainCoef > 0 {
		if ptx, err = policy.NewGraph(model.GraphConfig{Batch: M, Block: T, Train: true, Seed: cfg.Seed}); err != nil {
			return nil, fmt.Errorf("rlhf: %w", err)
		}
	}
	ptxRNG := rand.New(rand.NewPCG(cfg.Seed, 0x97))
	polParams, valParams := trainParams(policy), trainParams(value)
	polOpt, err := train.NewAdamW(polParams, train.AdamWConfig{Beta2: 0.99, NoWeightDecay: true})
	if err != nil {
		return nil, fmt.Errorf("rlhf: policy optimizer: %w", err)
	}
	valOpt, err := train.NewAdamW(valParams, train.AdamWConfig{Beta2: 0.99, NoWeightDecay: true})
	if err != nil {
		return nil, fmt.Errorf("rlhf: value optimizer: %w", err)
	}
	asst, err := chat.NewAssistant(policy, tok, cfg.Prompts)
	if err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Out), 0o755); err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	log, err := train.OpenMetricsLog(train.MetricsPath(cfg.Out), false)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	prog := train.NewProgress(cfg.Progress, "ppo", 0, cfg.Iterations)
	defer prog.Finish()

	rng := rand.New(rand.NewPCG(cfg.Seed, 0x99))
	beta := cfg.KLCoef
	res := &PPOResult{Path: cfg.Out}
	begin := time.Now()
	for it := 0; it < cfg.Iterations; it++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("rlhf: PPO stopped at iteration %d: %w", it, err)
		}
		// 1. Rollouts.
		batch := make([][]data.Message, cfg.Prompts)
		for i := range batch {
			batch[i] = prompts[rng.IntN(len(prompts))]
		}
		replies, err := asst.Replies(ctx, batch, model.SampleConfig{
			MaxNewTokens: cfg.MaxReplyTokens, Temperature: cfg.Temperature, Seed: rng.Uint64(),
		})
		if err != nil {
			return nil, fmt.Errorf("rlhf: iteration %d: generating: %w", it, err)
		}
		ro, err := buildRollouts(replies, T)
		if err != nil {
			return nil, fmt.Errorf("rlhf: iteration %d: %w", it, err)
		}
		seqs := make([][]int32, len(ro))
		for i, r := range ro {
			seqs[i] = r.seq
		}
		scores, err := scorer.ScoreTokens(ctx, seqs)
		if err != nil {
			return nil, fmt.Errorf("rlhf: iteration %d: scoring: %w", it, err)
		}
		// 2. Old log-probs, reference log-probs and values, a minibatch at a time.
		for lo := 0; lo < len(ro); lo += M {
			mb := ro[lo : lo+M]
			for _, g := range []*model.Graph{polFwd, refFwd, valFwd} {
				fillRows(g, mb)
				if err := g.Run(); err != nil {
					return nil, fmt.Errorf("rlhf: iteration %d: %w", it, err)
				}
			}
			for r, x := range mb {
				x.oldLogp = append([]float32(nil), polFwd.Output[r*T:(r+1)*T]...)
				x.refLogp = append([]float32(nil), refFwd.Output[r*T:(r+1)*T]...)
				x.values = append([]float32(nil), valFwd.Output[r*T:(r+1)*T]...)
			}
		}
		// 3. Rewards, GAE, whitening.
		var scoreSum, klSum, lenSum, ended, negLogp, tokens float64
		for i, x := range ro {
			score := float64(scores[i])
			scoreSum += score
			if !x.ended {
				score += cfg.TruncationPenalty
			} else {
				ended++
			}
			n := x.end - x.start + 1
			rew, kl := tokenRewards(x, score, beta)
			klSum += kl
			vals := make([]float64, n)
			for t := 0; t < n; t++ {
				vals[t] = float64(x.values[x.start+t])
				negLogp -= float64(x.oldLogp[x.start+t])
			}
			adv, ret := GAE(rew, vals, cfg.Gamma, cfg.Lambda)
			x.adv, x.ret = make([]float32, T), make([]float32, T)
			for t := 0; t < n; t++ {
				x.adv[x.start+t], x.ret[x.start+t] = float32(adv[t]), float32(ret[t])
			}
			lenSum += float64(n)
			tokens += float64(n)
		}
		whiten(ro)
		// 4. K epochs of minibatch updates.
		var clipSum, aklSum, vlSum, ptxSum, updates float64
		for ep := 0; ep < cfg.Epochs; ep++ {
			order := rng.Perm(len(ro))
			for lo := 0; lo < len(ro); lo += M {
				mb := make([]*rollout, M)
				for r := range mb {
					mb[r] = ro[order[lo+r]]
				}
				fillRows(polTrain, mb)
				fillRows(valTrain, mb)
				for r, x := range mb {
					copy(oldLP[r*T:(r+1)*T], x.oldLogp)
					copy(advs[r*T:(r+1)*T], x.adv)
					copy(oldV[r*T:(r+1)*T], x.values)
					copy(rets[r*T:(r+1)*T], x.ret)
					m := mask[r*T : (r+1)*T]
					clear(m)
					for p := x.start; p <= x.end; p++ {
						m[p] = 1
					}
				}
				polOpt.ZeroGrad()
				if ptx != nil {
					l, err := pretrainGrad(ptx, cfg.Pretrain, ptxRNG, polParams, cfg.PretrainCoef)
					if err != nil {
						return nil, fmt.Errorf("rlhf: iteration %d: %w", it, err)
					}
					ptxSum += l
				}
				if err := polTrain.Run(); err != nil {
					return nil, fmt.Errorf("rlhf: iteration %d: %w", it, err)
				}
				if math.IsNaN(polTrain.Loss) {
					return nil, fmt.Errorf("rlhf: policy loss is NaN at iteration %d", it)
				}
				train.ClipGradNorm(polParams, cfg.Clip)
				polOpt.Step(cfg.LR)
				valOpt.ZeroGrad()
				if err := valTrain.Run(); err != nil {
					return nil, fmt.Errorf("rlhf: iteration %d: %w", it, err)
				}
				if math.IsNaN(valTrain.Loss) {
					return nil, fmt.Errorf("rlhf: value loss is NaN at iteration %d", it)
				}
				train.ClipGradNorm(valParams, cfg.Clip)
				valOpt.Step(cfg.ValueLR)
				clipSum += stats.ClipFrac
				aklSum += stats.ApproxKL
				vlSum += vloss
				updates++
			}
		}
		nr := float64(len(ro))
		meanKL := klSum / nr
		line := map[string]float64{
			"iteration": float64(it + 1), "step": float64(it + 1),
			"score": scoreSum / nr, "kl": meanKL, "kl_coef": beta,
			"entropy": negLogp / tokens, "clip_frac": clipSum / updates, "approx_kl": aklSum / updates,
			"value_loss": vlSum / updates, "reply_len": lenSum / nr, "ended_rate": ended / nr,
			"elapsed_s": time.Since(begin).Seconds(),
		}
		if ptx != nil {
			line["ptx_loss"] = ptxSum / updates
		}
		if math.IsNaN(line["score"]) || math.IsNaN(meanKL) {
			return nil, fmt.Errorf("rlhf: NaN in the rollout statistics at iteration %d", it)
		}
		if err := log.Write(line); err != nil {
			return nil, err
		}
		res.History = append(res.History, line)
		res.Metrics = line
		prog.Update(it+1, fmt.Sprintf("score %.3f kl %.2f", line["score"], meanKL))
		prog.Log(line)
		if cfg.TargetKL > 0 {
			e := math.Max(-0.2, math.Min(0.2, meanKL/cfg.TargetKL-1))
			beta *= 1 + e*nr/float64(cfg.Horizon)
		}
	}
	res.Metrics["seconds"] = time.Since(begin).Seconds()
	ck := &model.Checkpoint{
		Stage: model.StageRLHF, Model: policy, Tokenizer: tok, Parent: parentSum, Step: cfg.Iterations,
		Metrics: res.Metrics,
		Extra: map[string]string{
			"rlhf.method": "ppo", "rlhf.reward_sha256": rewardRef, "rlhf.kl_coef": fmt.Sprint(beta),
		},
	}
	if err := ck.Save(cfg.Out); err != nil {
		return nil, fmt.Errorf("rlhf: %w", err)
	}
	return res, nil
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
	seq                      []int32 // prompt and reply tokens (what the scorer sees)
	tokens, targets          []int32 // the row: tokens[p] predicts targets[p]
	start, end               int     // reply token positions (targets) in the row, inclusive
	ended                    bool
	oldLogp, refLogp, values []float32
	adv, ret                 []float32
}

// buildRollouts lays out prompt+reply sequences as rows of block tokens, cutting the prompt
// from the left if needed.
func buildRollouts(replies []chat.Reply, block int) ([]*rollout, error) {
	out := make([]*rollout, len(replies))
	for i, r := range replies {
		if len(r.Tokens) == 0 {
			return nil, fmt.Errorf("reply %d is empty", i)
		}
		seq := append(append([]int32(nil), r.Prompt...), r.Tokens...)
		if len(seq)-1 > block {
			seq = seq[len(seq)-1-block:]
		}
		if len(r.Tokens) > len(seq)-1 {
			return nil, fmt.Errorf("reply %d (%d tokens) does not fit the block of %d", i, len(r.Tokens), block)
		}
		x := &rollout{seq: seq, tokens: make([]int32, block), targets: make([]int32, block), ended: r.Ended}
		copy(x.tokens, seq[:len(seq)-1])
		copy(x.targets, seq[1:])
		x.end = len(seq) - 2
		x.start = x.end - len(r.Tokens) + 1
		out[i] = x
	}
	return out, nil
}

// tokenRewards returns the per-token rewards of a reply, −β·(log π − log π_ref) on every reply
// token plus score on the last one (the reply's <|end|>, or its last token when it was cut at
// the length limit; never a padding position), and the reply's summed KL estimate.
func tokenRewards(x *rollout, score, beta float64) (rew []float64, kl float64) {
	n := x.end - x.start + 1
	rew = make([]float64, n)
	for t := 0; t < n; t++ {
		p := x.start + t
		k := float64(x.oldLogp[p] - x.refLogp[p])
		kl += k
		rew[t] = -beta * k
	}
	rew[n-1] += score
	return rew, kl
}

// fillRows copies rollouts into a graph's inputs.
func fillRows(g *model.Graph, rows []*rollout) {
	T := g.Config.Block
	for r, x := range rows {
		copy(g.Tokens[r*T:(r+1)*T], x.tokens)
		copy(g.Targets[r*T:(r+1)*T], x.targets)
	}
}

// whiten normalises the advantages over every reply token of the batch to mean 0, std 1.
func whiten(ro []*rollout) {
	var sum, sq, n float64
	for _, x := range ro {
		for p := x.start; p <= x.end; p++ {
			sum += float64(x.adv[p])
			n++
		}
	}
	mean := sum / n
	for _, x := range ro {
		for p := x.start; p <= x.end; p++ {
			d := float64(x.adv[p]) - mean
			sq += d * d
		}
	}
	std := math.Sqrt(sq/n) + 1e-8
	for _, x := range ro {
		for p := x.start; p <= x.end; p++ {
			x.adv[p] = float32((float64(x.adv[p]) - mean) / std)
		}
	}
}

// trainParams wraps a model's parameters for the optimizer, allocating gradients as needed.
func trainParams(m *model.Model) []*train.Param {
	ps := make([]*train.Param, len(m.Params))
	for i, p := range m.Params {
		if p.Grad == nil {
			p.Grad = make([]float32, len(p.Data))
		}
		ps[i] = &train.Param{Name: p.Name, Shape: p.Shape, Data: p.Data, Grad: p.Grad}
	}
	return ps
}
