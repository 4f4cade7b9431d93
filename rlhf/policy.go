package rlhf

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/train"
)

// ScorerFunc adapts a function to the Scorer interface: a reward program, such as a check of
// the answer (RL from verifiable rewards).
type ScorerFunc func(ctx context.Context, seqs [][]int32) ([]float32, error)

// ScoreTokens calls f.
func (f ScorerFunc) ScoreTokens(ctx context.Context, seqs [][]int32) ([]float32, error) {
	return f(ctx, seqs)
}

// checkPolicy checks that ck can start a policy for method.
func checkPolicy(ck *model.Checkpoint, method string) error {
	if ck == nil || ck.Model == nil || ck.Tokenizer == nil {
		return errors.New("a policy checkpoint with a model and a tokenizer is required")
	}
	if !slices.Contains(PolicyStages, ck.Stage) {
		return fmt.Errorf("the policy checkpoint is from the %q stage; %s starts from a %s checkpoint", ck.Stage, method, model.JoinStages(PolicyStages, " or "))
	}
	return nil
}

// policySampler is what every online RL method shares: the policy (a copy of the starting
// model) and the frozen reference, the prompts, sampling rollouts with the chat package,
// scoring them, and the policy's and the reference's log-probabilities of the sampled tokens.
type policySampler struct {
	tok            tokenizer.Tokenizer
	policy, ref    *model.Model
	scorer         Scorer
	prompts        [][]data.Message
	asst           *chat.Assistant
	polFwd, refFwd *model.Graphs
	T, M           int  // block and minibatch rows
	packed         bool // minibatches packed into as few rows as they fit (rowLayout)
	tools          *chat.ToolConfig
	rngPCG         *rand.PCG
	rng            *rand.Rand
}

// samplerConfig is what newPolicySampler takes from a method's config.
type samplerConfig struct {
	rows                          int // the rows' length (0: the model's block size)
	minibatch, rollouts, maxReply int
	seed                          uint64
	tools                         *chat.ToolConfig
	unpacked                      bool
}

// rowsOf is the rows' length for a configured Block (0: the model's block size).
func rowsOf(block, modelBlock int) int {
	if block == 0 {
		return modelBlock
	}
	return block
}

// maxRolloutSequences bounds the sequences the rollouts' engine decodes together (each keeps a
// KV cache of the model's block; the replies past it wait for a free sequence).
const maxRolloutSequences = 16

func newPolicySampler(ck *model.Checkpoint, scorer Scorer, prompts [][]data.Message, sc samplerConfig) (*policySampler, error) {
	minibatch, rollouts, seed, tools := sc.minibatch, sc.rollouts, sc.seed, sc.tools
	if scorer == nil {
		return nil, errors.New("a scorer (a reward model or a program) is required")
	}
	if len(prompts) == 0 {
		return nil, errors.New("no prompts")
	}
	for i, p := range prompts {
		if err := data.ValidatePrompt(p); err != nil {
			return nil, fmt.Errorf("prompt %d: %w", i, err)
		}
	}
	T := rowsOf(sc.rows, ck.Model.Config.BlockSize)
	if T < ck.Model.Config.BlockSize {
		// Rows shorter than the model's window must hold every prompt and its longest reply.
		for i, p := range prompts {
			toks, err := data.RenderPrompt(ck.Tokenizer, p)
			if err != nil {
				return nil, fmt.Errorf("prompt %d: %w", i, err)
			}
			if len(toks)+sc.maxReply > T+1 {
				return nil, fmt.Errorf("prompt %d has %d tokens: with MaxReplyTokens %d it does not fit rows of Block %d (raise Block, up to the model's %d)",
					i, len(toks), sc.maxReply, T, ck.Model.Config.BlockSize)
			}
		}
	}
	p := &policySampler{
		tok: ck.Tokenizer, ref: ck.Model, policy: ck.Model.Clone(), scorer: scorer, prompts: prompts,
		T: T, M: minibatch, rngPCG: rand.NewPCG(seed, 0x99), tools: tools, packed: !sc.unpacked,
	}
	if tools != nil {
		if err := tokenizer.RequireToolTokens(ck.Tokenizer); err != nil {
			return nil, err
		}
	}
	p.rng = rand.New(p.rngPCG)
	var err error
	graphs := graphsMaker(&err)
	p.polFwd = graphs(p.policy, model.GraphConfig{Batch: p.M, Block: p.T, Objective: model.LogProbs, Packed: p.packed})
	p.refFwd = graphs(p.ref, model.GraphConfig{Batch: p.M, Block: p.T, Objective: model.LogProbs, Packed: p.packed})
	if err != nil {
		return nil, err
	}
	if p.asst, err = chat.NewAssistant(p.policy, p.tok, min(rollouts, maxRolloutSequences)); err != nil {
		return nil, err
	}
	return p, nil
}

// job is the training job every online method shares: the policy trained as stage "rlhf" from
// ck (its fingerprint the parent), the method and the reward's source in the metadata, and the
// run's settings with the prompts' fingerprint (and extra, such as PPO-ptx's stream) recorded.
func (p *policySampler) job(ck *model.Checkpoint, method, rewardRef string, settings any, extra string) (train.Job, error) {
	parentID, err := ck.Fingerprint()
	if err != nil {
		return train.Job{}, err
	}
	fp, err := data.Fingerprint(p.prompts)
	if err != nil {
		return train.Job{}, err
	}
	return train.Job{
		Model: p.policy, Tokenizer: p.tok, Stage: model.StageRLHF, Parent: parentID,
		Extra:           map[string]string{"rlhf.method": method, "rlhf.reward": rewardRef},
		Settings:        settings,
		DataFingerprint: fp + "," + extra + "," + rewardRef,
	}, nil
}

// memory is the estimated bytes of the sampler's graphs and engine and of the given graphs
// (nil ones are skipped).
func (p *policySampler) memory(more ...*model.Graphs) int64 {
	n := p.polFwd.MemoryEstimate() + p.refFwd.MemoryEstimate() + p.asst.MemoryEstimate()
	for _, g := range more {
		if g != nil {
			n += g.MemoryEstimate()
		}
	}
	return n
}

// layout returns a row layout for the sampler's minibatches.
func (p *policySampler) layout() *rowLayout { return &rowLayout{packed: p.packed, T: p.T} }

// graphsMaker returns a NewGraphs that remembers the first error in *err and then makes
// nothing; each set packs its rows as gc.Packed says.
func graphsMaker(err *error) func(*model.Model, model.GraphConfig) *model.Graphs {
	return func(m *model.Model, gc model.GraphConfig) *model.Graphs {
		if *err != nil {
			return nil
		}
		g, e := m.NewGraphs(gc)
		*err = e
		return g
	}
}

// rollout draws prompts prompts at random and samples samples replies to each (all the replies
// of a prompt are consecutive). With tools, the replies run them (the tools are the
// environment), and the tokens their results insert are not actions.
func (p *policySampler) rollout(ctx context.Context, prompts, samples, maxTokens int, temperature float64) ([]*rollout, error) {
	batch := make([][]data.Message, prompts)
	idx := make([]int, prompts)
	for i := range batch {
		idx[i] = p.rng.IntN(len(p.prompts))
		batch[i] = p.prompts[idx[i]]
	}
	// Replies come prompt by prompt, samples together; each rollout knows its prompt.
	withPrompts := func(ro []*rollout, err error) ([]*rollout, error) {
		for i, x := range ro {
			x.prompt = idx[i/samples]
		}
		return ro, err
	}
	sc := model.SampleConfig{MaxNewTokens: maxTokens, Temperature: temperature, NumSamples: samples, Seed: p.rng.Uint64()}
	if p.tools == nil {
		replies, err := p.asst.Replies(ctx, batch, sc)
		if err != nil {
			return nil, fmt.Errorf("generating: %w", err)
		}
		return withPrompts(buildRollouts(replies, nil, p.T))
	}
	trs, err := p.asst.RepliesWithTools(ctx, batch, sc, rowToolConfig(*p.tools, p.T))
	if err != nil {
		return nil, fmt.Errorf("generating: %w", err)
	}
	replies := make([]chat.Reply, len(trs))
	inserted := make([][]bool, len(trs))
	for i, r := range trs {
		replies[i], inserted[i] = r.Reply, r.Inserted
	}
	return withPrompts(buildRollouts(replies, inserted, p.T))
}

// sample is rollout, score and logProbs in one: the rollouts with their rewards and the
// sampling policy's and the reference's log-probabilities.
func (p *policySampler) sample(ctx context.Context, prompts, samples, maxTokens int, temperature float64) ([]*rollout, []float32, error) {
	ro, err := p.rollout(ctx, prompts, samples, maxTokens, temperature)
	if err != nil {
		return nil, nil, err
	}
	scores, err := p.score(ctx, ro)
	if err != nil {
		return nil, nil, err
	}
	if err := p.logProbs(ro); err != nil {
		return nil, nil, err
	}
	return ro, scores, nil
}

// score asks the scorer for each reply's reward.
func (p *policySampler) score(ctx context.Context, ro []*rollout) ([]float32, error) {
	seqs := make([][]int32, len(ro))
	for i, r := range ro {
		seqs[i] = r.seq
	}
	scores, err := p.scorer.ScoreTokens(ctx, seqs)
	if err != nil {
		return nil, fmt.Errorf("scoring: %w", err)
	}
	if len(scores) != len(ro) {
		return nil, fmt.Errorf("scoring: %d scores for %d replies", len(scores), len(ro))
	}
	return scores, nil
}

// logProbs records the sampling policy's and the reference's log-probabilities of every token
// of each rollout's row up to its last action (its whole row unpacked), a minibatch at a time.
func (p *policySampler) logProbs(ro []*rollout) error {
	l := p.layout()
	for lo := 0; lo < len(ro); lo += p.M {
		mb := ro[lo : lo+p.M]
		if err := l.lay(mb, p.M); err != nil {
			return err
		}
		pol, err := l.graph(p.polFwd, mb)
		if err != nil {
			return err
		}
		ref, err := l.graph(p.refFwd, mb)
		if err != nil {
			return err
		}
		// The two graphs share nothing: the reference's runs beside the policy's, on the
		// other core when there is one (the same numbers, in less time).
		refDone := make(chan error, 1)
		go func() { refDone <- ref.Run() }()
		err = pol.Run()
		if rerr := <-refDone; err == nil {
			err = rerr
		}
		if err != nil {
			return err
		}
		for i, x := range mb {
			x.oldLogp = append([]float32(nil), pol.Output[l.at[i]:l.at[i]+l.n[i]]...)
			x.refLogp = append([]float32(nil), ref.Output[l.at[i]:l.at[i]+l.n[i]]...)
		}
	}
	return nil
}

// rowToolConfig is tc with each turn bounded to rows tokens, generated and inserted together:
// a turn with its tool results must fit a row (buildRollouts crops only the prompt), and
// MaxReplyTokens counts only the generated tokens.
func rowToolConfig(tc chat.ToolConfig, rows int) chat.ToolConfig {
	if tc.MaxTurnTokens <= 0 || tc.MaxTurnTokens > rows {
		tc.MaxTurnTokens = rows
	}
	return tc
}

// RolloutBlock is the shortest row length, a multiple of 8, that holds each prompt (rendered
// with the chat template) with a reply of maxReplyTokens: the value for PPOConfig.Block and
// GroupConfig.Block when the prompts are much shorter than the model's block. It may exceed
// the model's block size; then use 0 (the model's).
func RolloutBlock(tok tokenizer.Tokenizer, prompts [][]data.Message, maxReplyTokens int) (int, error) {
	if maxReplyTokens < 1 {
		return 0, fmt.Errorf("rlhf: maxReplyTokens is %d, want > 0", maxReplyTokens)
	}
	longest := 0
	for i, p := range prompts {
		toks, err := data.RenderPrompt(tok, p)
		if err != nil {
			return 0, fmt.Errorf("rlhf: prompt %d: %w", i, err)
		}
		longest = max(longest, len(toks))
	}
	if longest == 0 {
		return 0, errors.New("rlhf: no prompts")
	}
	n := longest + maxReplyTokens - 1 // the last token is a target, never an input
	return (n + 7) / 8 * 8, nil
}
