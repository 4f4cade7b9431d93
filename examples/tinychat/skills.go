package main

// The tiny world's new skills (issues #15 and #16) in the pipeline, behind plan.Skills (on in
// the default plan, off in the quick one). With it on:
//
//   - pretraining: the BPE and the base model train on PretrainText followed by
//     SkillPretrainText(plan.SkillPretrainBytes);
//   - SFT: the original plan.SFTConvs conversations plus plan.SkillDemos demonstrations of
//     every skill (tinyworld.Skills, rendered with Demo.Chat(true): passages as a context turn,
//     tool calls and results as messages), shuffled together with a seeded permutation (the
//     first twentieth is the validation split), news demonstrations with up to two other
//     passages beside the right one (newsDistractors), in rows of 96 tokens (sftBlock); and the
//     #16 ablation, "sft-direct": the same mix with every demonstration answered directly
//     (tinyworld.DirectDemo), the same steps, from the same pretrained checkpoint;
//   - the reward model: every skill's rankings as whole assistant turns, the empty reply last
//     (skillRankings); PPO: with plan.SkillRL (the default plan's), the skills' prompts, with
//     the tools in its rollouts, their replies scored by the judge with SkillReward "gold";
//   - evaluation: one table per skill (skills_eval.go) in report.json's "skills" and
//     report.md.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tinyworld"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/pretrain"
	"github.com/tinychat-go/tinychat/sft"
	"github.com/tinychat-go/tinychat/train"
)

// Defaults of the skills' sizes (used where the plan's field is zero).
const (
	defaultSkillDemos       = 600 // per skill, in SFT
	defaultSkillEvalPrompts = 300 // per skill and table row (100 before session 15: paired standard errors of 1.5–3.3 points)
	// skillsMinBlock is the smallest model block the skills' chats fit in: the longest
	// (search then calculate, two calls and their results) take up to 93 tokens with the
	// recipe's BPE (docs/tinyworld-skills.md).
	skillsMinBlock = 96
	// skillReplyTokens bounds each generated skill reply (tool results not counted; the block
	// bounds it too): a step-by-step answer or two calls and a reply need more than the
	// original replies' plan.MaxReplyTokens.
	skillReplyTokens = 64
)

func (p plan) skillDemos() int {
	if p.SkillDemos > 0 {
		return p.SkillDemos
	}
	return defaultSkillDemos
}

// skillRLPrompts is the number of each skill's prompts among PPO's with SkillRL.
func (p plan) skillRLPrompts() int {
	if p.SkillRLPrompts > 0 {
		return p.SkillRLPrompts
	}
	return max(1, p.RMPrompts/8)
}

func (p plan) skillEvalPrompts() int {
	if p.SkillEvalPrompts > 0 {
		return p.SkillEvalPrompts
	}
	return defaultSkillEvalPrompts
}

// checkSkills checks the sizes the skills need; nil when Skills is off.
func (p plan) checkSkills() error {
	if !p.Skills {
		return nil
	}
	if p.Model.BlockSize < skillsMinBlock {
		return fmt.Errorf("Skills needs the model's BlockSize ≥ %d (the longest skill chats take 93 tokens), got %d", skillsMinBlock, p.Model.BlockSize)
	}
	for name, v := range map[string]int{"SkillPretrainBytes": p.SkillPretrainBytes, "SkillDemos": p.SkillDemos, "SkillEvalPrompts": p.SkillEvalPrompts} {
		if v < 0 {
			return fmt.Errorf("%s must not be negative (0: the default), got %d", name, v)
		}
	}
	return nil
}

// pretrainText is the pretraining corpus: the world's text, and with Skills the skills' text
// after it.
func (p *pipeline) pretrainText() string {
	text := p.world.PretrainText()
	if !p.plan.Skills {
		return text
	}
	return text + "\n" + p.world.SkillPretrainText(p.plan.SkillPretrainBytes)
}

// sftBlock is the row length of SFT and the reward model: plan.SFTBlock, or with Skills at
// least skillsMinBlock (the skills' chats are up to twice as long as the original ones). A
// model block longer than that is for few-shot prompts to the base model; chats never need it.
func (p *pipeline) sftBlock() int {
	if p.plan.Skills {
		return max(p.plan.SFTBlock, skillsMinBlock)
	}
	return p.plan.SFTBlock
}

// sftConversations is SFT's data: the world's demonstrations, and with Skills the skills'
// demonstrations mixed in (see sftMix).
func (p *pipeline) sftConversations() []data.Conversation { return p.sftMix(false) }

// sftMix returns the original plan.SFTConvs conversations and, with Skills, plan.SkillDemos
// demonstrations of each skill and plan.SkillDrills reasoning drills rendered with
// Demo.Chat(true), shuffled together with a seeded
// permutation; direct answers every demonstration directly (the #16 ablation). The two mixes
// differ only in the multi-hop demonstrations that reason step by step.
func (p *pipeline) sftMix(direct bool) []data.Conversation {
	convs := p.world.SFTConversations(p.plan.SFTConvs)
	if !p.plan.Skills {
		return convs
	}
	distract := newsDistractors(p.world, p.plan.Seed)
	for _, skill := range tinyworld.Skills() {
		for i, d := range p.world.SkillDemos(skill, p.plan.skillDemos()) {
			if direct {
				d = p.world.DirectDemo(d)
			}
			msgs := d.Chat(true)
			if skill == tinyworld.SkillNews {
				msgs = distract(msgs, i)
			}
			convs = append(convs, data.Conversation{Source: fmt.Sprintf("tinyworld:skill:%s:%d", skill, i), Messages: msgs})
		}
	}
	for i, d := range p.world.ReasoningDrills(p.plan.SkillDrills) {
		if direct {
			d = p.world.DirectDemo(d)
		}
		convs = append(convs, data.Conversation{Source: fmt.Sprintf("tinyworld:drill:%d", i), Messages: d.Chat(true)})
	}
	rng := rand.New(rand.NewPCG(p.plan.Seed, 1516))
	rng.Shuffle(len(convs), func(i, j int) { convs[i], convs[j] = convs[j], convs[i] })
	// The validation split (the first twentieth, see sft) puts its conversations without tool
	// calls first: sft's format rate replies to the first FormatPrompts validation
	// conversations with their last message dropped, which for a turn with tool calls leaves
	// a prompt ending with a tool result, an error. The split's content, and so its loss, is
	// the same.
	val := convs[:len(convs)/20]
	sort.SliceStable(val, func(i, j int) bool { return !hasToolCall(val[i]) && hasToolCall(val[j]) })
	return convs
}

// newsDistractors returns a function that adds to a news demonstration's context turn (in
// msgs) none, one or two passages of the training news items (never a held-out one, whose
// news must stay unseen) beside the right one, in a random order, as a retriever's top 3
// would: with the right passage alone, a model learns to copy whatever the context says and
// fails when a retriever brings three. Demonstration i always gets the same passages.
func newsDistractors(w *tinyworld.World, seed uint64) func(msgs []data.Message, i int) []data.Message {
	var pool []string
	for _, n := range w.News() {
		if !n.Held {
			pool = append(pool, n.Passages...)
		}
	}
	return func(msgs []data.Message, i int) []data.Message {
		rng := rand.New(rand.NewPCG(seed, 1517+uint64(i)))
		out := slices.Clone(msgs)
		for j, m := range out {
			if m.Role != data.RoleContext {
				continue
			}
			passages := strings.Split(m.Content, "\n")
			for range rng.IntN(3) * min(1, len(pool)) {
				if s := pool[rng.IntN(len(pool))]; !slices.Contains(passages, s) {
					passages = append(passages, s)
				}
			}
			rng.Shuffle(len(passages), func(a, b int) { passages[a], passages[b] = passages[b], passages[a] })
			out[j] = data.ContextMessage(passages...)
		}
		return out
	}
}

// formatPrompts is the number of validation conversations sft's format rate may use, at most
// n: those before the first with a tool call (see sftMix).
func formatPrompts(val []data.Conversation, n int) int {
	for i, c := range val {
		if i == n || hasToolCall(c) {
			return i
		}
	}
	return min(n, len(val))
}

func hasToolCall(c data.Conversation) bool {
	for _, m := range c.Messages {
		if m.Role == data.RoleToolCall {
			return true
		}
	}
	return false
}

// sftDirect trains the #16 ablation: SFT from the same pretrained checkpoint, with the same
// configuration and steps, on the mix answered directly (sft-direct.safetensors).
func (p *pipeline) sftDirect(ctx context.Context) error {
	out := p.paths.stage("sft-direct")
	if complete(out) {
		// The run's lineage check (lineage.go) knows the four stages; the ablation must come
		// from the pretrained model that SFT came from.
		mine, err := model.ReadCheckpointInfo(out)
		if err != nil {
			return err
		}
		sftInfo, err := model.ReadCheckpointInfo(p.paths.stage("sft"))
		if err != nil {
			return err
		}
		if mine.Parent != sftInfo.Parent {
			return fmt.Errorf("%s was not trained from the pretrained model %s came from; delete it to train it again", out, p.paths.stage("sft"))
		}
		return p.skip("sft-direct", out)
	}
	job, err := p.sftDirectJob(false)
	if err != nil {
		return err
	}
	res, err := job(ctx)
	if err != nil {
		return err
	}
	p.metrics["sft-direct"] = res.Metrics
	return nil
}

// sftDirectJob prepares sft-direct's data and returns the training itself, which touches
// nothing of p but the plan and paths (startBeside runs it beside the main line). Beside the
// main line its training graph recomputes each block's activations in the backward pass (the
// same bits; 30 instead of 81 MiB at the default plan's shape, model.EstimateGraphMemory), so
// that two trainings at once stay under the largest stage's memory.
func (p *pipeline) sftDirectJob(beside bool) (func(context.Context) (*train.Result, error), error) {
	out := p.paths.stage("sft-direct")
	ck, err := model.LoadStage(p.paths.stage("pretrain"), model.StagePretrain)
	if err != nil {
		return nil, err
	}
	corpus, err := pretrain.NewCorpus([]data.Document{{Source: "tinyworld", Text: p.pretrainText()}}, ck.Tokenizer, 0.05)
	if err != nil {
		return nil, err
	}
	convs := p.sftMix(true)
	nVal := len(convs) / 20
	cfg := p.sftConfig(out, convs[:nVal])
	cfg.Recompute = beside
	if show := cfg.OnProgress; show != nil {
		cfg.OnProgress = func(pr train.Progress) {
			pr.Name = "sft-direct"
			show(pr)
		}
	}
	return func(ctx context.Context) (*train.Result, error) {
		return sft.TrainFile(ctx, cfg, p.paths.stage("pretrain"), sft.Data{Train: convs[nVal:], Val: convs[:nVal], Pretrain: corpus.Train})
	}, nil
}

// skillPrompt is the conversation a skill prompt's turn answers, rendered as SFT renders its
// demonstrations (Demo.Chat(true): the passages as a context turn unless a search in steps
// brings them), up to its last user turn.
func skillPrompt(pr tinyworld.Prompt, steps []tinyworld.Step) []data.Message {
	msgs := tinyworld.Demo{Prompt: pr, Steps: steps}.Chat(true)
	last := len(msgs) - 1
	for last >= 0 && msgs[last].Role != data.RoleUser {
		last--
	}
	return msgs[:last+1]
}

// skillRankings are the reward model's rankings of the skills (with Skills; none otherwise):
// plan.RMPrompts/10 of each skill (tinyworld.SkillPreferences), each response the whole
// assistant turn as SFT renders it (tool calls and their results included, passages as a
// context turn in the prompt), and the empty reply ranked last: a reward model that never saw
// one scored it above the right answers, and PPO found that out.
func (p *pipeline) skillRankings() []data.Ranking {
	if !p.plan.Skills {
		return nil
	}
	empty := []data.Message{{Role: data.RoleAssistant}}
	var out []data.Ranking
	for _, skill := range tinyworld.Skills() {
	rankings:
		for _, rk := range p.world.SkillPreferences(skill, max(1, p.plan.RMPrompts/10)) {
			prompt := skillPrompt(rk.Prompt, rk.Responses[0])
			var turns [][]data.Message
			for _, steps := range rk.Responses {
				chat := tinyworld.Demo{Prompt: rk.Prompt, Steps: steps}.Chat(true)
				if len(chat) <= len(prompt) || !slices.EqualFunc(chat[:len(prompt)], prompt, func(a, b data.Message) bool { return a == b }) {
					continue rankings // a response that needs another prompt (a context turn or not)
				}
				turns = append(turns, chat[len(prompt):])
			}
			turns = append(turns, empty)
			out = append(out, data.Ranking{Source: rk.Source, Prompt: prompt, Turns: turns})
		}
	}
	return out
}

// skillRLPrompts are PPO's prompts of the skills (with Skills and SkillRL; none otherwise):
// plan.skillRLPrompts() of each skill (tinyworld.SkillRLPrompts), with their context turn except
// for search then calculate, whose passage the search brings.
func (p *pipeline) skillRLPrompts() [][]data.Message {
	items := p.skillRLItems()
	if items == nil {
		return nil
	}
	out := make([][]data.Message, len(items))
	for i, it := range items {
		out[i] = it.msgs
	}
	return out
}

// skillRLItem is a skill prompt of PPO's, as the policy sees it and as the judge knows it.
type skillRLItem struct {
	prompt tinyworld.Prompt
	msgs   []data.Message
}

// skillRLItems are skillRLPrompts with their world prompts, in the same order.
func (p *pipeline) skillRLItems() []skillRLItem {
	if !p.plan.Skills || !p.plan.SkillRL {
		return nil
	}
	return p.skillPrompts()
}

// ppoTools are the tools RL's rollouts run, PPO's and RLVR's (with Skills; nil otherwise):
// the calculator and a BM25 search of the news (and of extraPassages) returning one passage,
// as in the demonstrations.
func (p *pipeline) ppoTools(extraPassages ...string) (*chat.ToolConfig, error) {
	if !p.plan.Skills {
		return nil, nil
	}
	_, bm, err := newsIndex(p.world, extraPassages...)
	if err != nil {
		return nil, err
	}
	full, _, err := skillRegistries(bm)
	if err != nil {
		return nil, err
	}
	return &chat.ToolConfig{Tools: full}, nil
}
