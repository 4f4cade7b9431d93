package main

import (
	"context"
	"log/slog"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tinyworld"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/pretrain"
	"github.com/tinychat-go/tinychat/reward"
	"github.com/tinychat-go/tinychat/rlhf"
)

// The RLVR stage (plan.RLVRIterations > 0): a group method (plan.RLVRMethod, RLOO in the
// default plan) from the PPO policy on the skills' prompts, each reply scored by the world's
// judge (RL from verifiable rewards, as Tülu 3's last stage and DeepSeek's GRPO do), and on
// plan.RLVRFactPrompts of the original prompts, scored by the reward model. Its baseline is
// the other replies sampled for the same prompt, not a value model: on prompts that the
// policy already answers right every time the advantages are zero, and the update goes where
// the sampled replies differ. That is why plan.RLVRInventedSearchCalc adds search-then-calculate
// prompts about invented people (their passages in the index of RLVR's search) and
// plan.RLVRInventedNews news questions about invented new people (their passage in the context
// turn): the skills' own RL prompts are about the news store's training people, whom the
// policy never gets wrong, and the evaluation's about its held-out ones.

// policyStage is the run's final policy: the RLVR stage's when the plan has one, PPO's
// otherwise. The report's "RLHF" columns are this model's.
func (p *pipeline) policyStage() string {
	if p.plan.Skills && p.plan.RLVRIterations > 0 {
		return "rlvr"
	}
	return "rlhf"
}

// skillPrompts are every skill's RL prompts (plan.skillRLPrompts each), as the model sees them.
func (p *pipeline) skillPrompts() []skillRLItem {
	var out []skillRLItem
	for _, skill := range tinyworld.Skills() {
		for _, pr := range p.world.SkillRLPrompts(skill, p.plan.skillRLPrompts()) {
			out = append(out, skillRLItem{prompt: pr, msgs: skillPrompt(pr, p.world.SkillSteps(pr))})
		}
	}
	return out
}

// rlvrItems are RLVR's prompts that the judge scores: every skill's RL prompts, then
// plan.RLVRInventedSearchCalc search-then-calculate prompts and plan.RLVRInventedNews news
// questions about other invented people (the latter with their passage in the context turn).
// extraPassages are what RLVR's search finds besides the news store: the invented people's
// of the search-then-calculate prompts.
func (p *pipeline) rlvrItems() (items []skillRLItem, extraPassages []string) {
	items = p.skillPrompts()
	var people []string // the search-then-calculate prompts' (invented and world people)
	for _, pr := range p.world.InventedSearchCalcRLPrompts(p.plan.RLVRInventedSearchCalc) {
		items = append(items, skillRLItem{prompt: pr, msgs: skillPrompt(pr, p.world.SkillSteps(pr))})
		extraPassages = append(extraPassages, pr.Passages...)
		people = append(people, pr.Person, pr.Other)
	}
	// The news questions' people are others: a search on a news prompt would find the other
	// prompts' passage about the same name, with other facts.
	for _, pr := range p.world.InventedNewsRLPrompts(p.plan.RLVRInventedNews, people...) {
		items = append(items, skillRLItem{prompt: pr, msgs: skillPrompt(pr, p.world.SkillSteps(pr))})
	}
	return items, extraPassages
}

// rlvr trains the RLVR stage from the PPO policy.
func (p *pipeline) rlvr(ctx context.Context, tok tokenizer.Tokenizer) error {
	out := p.paths.stage("rlvr")
	if complete(out) {
		return p.skip("rlvr", out)
	}
	items, extraPassages := p.rlvrItems()
	msgs := make([][]data.Message, len(items))
	for i, it := range items {
		msgs[i] = it.msgs
	}
	if n := p.plan.RLVRFactPrompts; n > 0 {
		for _, pr := range p.world.RLPrompts(n) {
			msgs = append(msgs, pr.Messages)
		}
	}
	cfg := rlhf.DefaultGRPOConfig()
	if rlhf.GroupMethod(p.plan.RLVRMethod) == rlhf.RLOO {
		cfg = rlhf.DefaultRLOOConfig()
	}
	cfg.Steps, cfg.Batch, cfg.Group = p.plan.RLVRIterations, p.plan.rlvrPrompts(), p.plan.rlvrGroup()
	cfg.MiniBatch, cfg.MaxReplyTokens = 16, skillReplyTokens
	if (cfg.Batch*cfg.Group)%cfg.MiniBatch != 0 {
		cfg.MiniBatch = cfg.Group
	}
	if p.plan.RLVRLR > 0 {
		cfg.LR = p.plan.RLVRLR
	}
	if p.plan.RLVRKL > 0 {
		cfg.KLCoef = p.plan.RLVRKL
	}
	rows, err := rlhf.RolloutBlock(tok, msgs, cfg.MaxReplyTokens)
	if err != nil {
		return err
	}
	if rows < p.plan.Model.BlockSize {
		cfg.Block = rows
	}
	if p.plan.RLVRPretrainCoef > 0 {
		corpus, err := pretrain.NewCorpus([]data.Document{{Source: "tinyworld", Text: p.pretrainText()}}, tok, 0.05)
		if err != nil {
			return err
		}
		cfg.PretrainCoef, cfg.Pretrain = p.plan.RLVRPretrainCoef, corpus.Train
	}
	cfg.CheckpointInterval, cfg.Seed, cfg.Out, cfg.OnProgress = 20, p.plan.Seed+3, out, p.progress
	if p.plan.RLVRSeed != 0 {
		cfg.Seed = p.plan.RLVRSeed
	}
	cfg.Recompute, cfg.Unpacked = p.plan.RLVRRecompute, p.plan.Unpacked
	cfg.Logger = slog.New(slog.NewTextHandler(p.log, nil))
	if cfg.Tools, err = p.ppoTools(extraPassages...); err != nil {
		return err
	}
	if p.plan.CurveInterval > 0 { // the gold and proxy curves, and a collection at each point
		if cfg.Evaluate, err = p.curvesAndCollection(); err != nil {
			return err
		}
		cfg.EvalInterval = p.plan.CurveInterval
	}
	pol, err := model.LoadStage(p.paths.stage("rlhf"), model.StageRLHF)
	if err != nil {
		return err
	}
	rmCk, err := model.LoadStage(p.paths.stage("reward"), model.StageReward)
	if err != nil {
		return err
	}
	rm, err := reward.FromCheckpoint(rmCk)
	if err != nil {
		return err
	}
	scorer, err := newGoldSkillScorer(rm, tok, p.world, items)
	if err != nil {
		return err
	}
	rmID, err := rmCk.Fingerprint()
	if err != nil {
		return err
	}
	res, err := rlhf.TrainGroup(ctx, cfg, pol, scorer, rmID+"; skills: the tiny world's judge", msgs)
	if err != nil {
		return err
	}
	p.metrics["rlvr"] = res.Metrics
	return nil
}
