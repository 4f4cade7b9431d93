package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tinyworld"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/reward"
	"github.com/tinychat-go/tinychat/rlhf"
	"github.com/tinychat-go/tinychat/tools"
	"github.com/tinychat-go/tinychat/train"
)

// Where PPO's rewards for the skills' prompts come from (plan.SkillReward).
const (
	// skillRewardModel: the reward model, as for every other prompt.
	skillRewardModel = "rm"
	// skillRewardGold: the world's judge (RL from verifiable rewards), which knows each
	// prompt's answer, so no reply can win by being wrong in a way no ranking showed.
	skillRewardGold = "gold"
	// goldRewardScale turns the judge's 0–100 points into rewards of 0–5, about the reward
	// model's spread between a right and a wrong reply.
	goldRewardScale = 1.0 / 20
)

// goldSkillScorer scores PPO's replies: a reply to one of the skills' prompts gets the gold
// judge's score of its assistant text (tool calls and results left out, as the skill tables
// judge it) times goldRewardScale; every other reply the reward model's score. A reply is
// known by its prompt's tokens, which must start the sequence whole (a rollout cropped to
// fit PPO's rows is the reward model's).
type goldSkillScorer struct {
	rm    rlhf.Scorer
	tok   tokenizer.Tokenizer
	world *tinyworld.World
	items map[string]tinyworld.Prompt // rendered prompt tokens (as a string key) → prompt
}

func newGoldSkillScorer(rm rlhf.Scorer, tok tokenizer.Tokenizer, w *tinyworld.World, items []skillRLItem) (*goldSkillScorer, error) {
	s := &goldSkillScorer{rm: rm, tok: tok, world: w, items: map[string]tinyworld.Prompt{}}
	for i, it := range items {
		toks, err := data.RenderPrompt(tok, it.msgs)
		if err != nil {
			return nil, fmt.Errorf("skill prompt %d: %w", i, err)
		}
		s.items[tokenKey(toks)] = it.prompt
	}
	return s, nil
}

func tokenKey(toks []int32) string {
	var b strings.Builder
	for _, t := range toks {
		fmt.Fprintf(&b, "%d,", t)
	}
	return b.String()
}

// ScoreTokens scores each prompt-and-reply sequence.
func (s *goldSkillScorer) ScoreTokens(ctx context.Context, seqs [][]int32) ([]float32, error) {
	out := make([]float32, len(seqs))
	var rmAt []int
	var rmSeqs [][]int32
	for i, q := range seqs {
		pr, n, ok := s.lookup(q)
		if !ok {
			rmAt, rmSeqs = append(rmAt, i), append(rmSeqs, q)
			continue
		}
		text, ended, calls, err := assistantTurn(s.tok, q[n:])
		if err != nil {
			return nil, fmt.Errorf("reply %d: %w", i, err)
		}
		out[i] = float32(toolGroundedScore(s.world.Judge(pr, text, ended), pr, calls) * goldRewardScale)
	}
	if len(rmSeqs) > 0 {
		sc, err := s.rm.ScoreTokens(ctx, rmSeqs)
		if err != nil {
			return nil, err
		}
		if len(sc) != len(rmSeqs) {
			return nil, fmt.Errorf("the reward model gave %d scores for %d replies", len(sc), len(rmSeqs))
		}
		for j, i := range rmAt {
			out[i] = sc[j]
		}
	}
	return out, nil
}

// lookup finds the skill prompt that q starts with: the prompt ends at an <|assistant|>.
func (s *goldSkillScorer) lookup(q []int32) (tinyworld.Prompt, int, bool) {
	for i, t := range q {
		if t != tokenizer.Assistant {
			continue
		}
		if pr, ok := s.items[tokenKey(q[:i+1])]; ok {
			return pr, i + 1, true
		}
	}
	return tinyworld.Prompt{}, 0, false
}

// requiredTools are the tools a skill's answer must come from: a calculation's result from
// the calculator, a new person's count from a search of the news. The judge reads the text
// alone, so a reply that writes the right number without the call (remembered from the
// training prompts' people, or guessed) would otherwise earn what the skill's demonstrations
// earn by calling them — and RL would teach it to skip the call, which fails on the people
// it has not seen.
func requiredTools(skill string) []string {
	switch skill {
	case tinyworld.SkillCalc:
		return []string{tinyworld.ToolCalculator}
	case tinyworld.SkillSearchCalc:
		return []string{tinyworld.ToolSearch, tinyworld.ToolCalculator}
	}
	return nil
}

// toolGroundedScore is the judge's score of a skill reply, less the points for a correct
// answer when the reply skipped a tool the skill's answer must come from (requiredTools).
func toolGroundedScore(v tinyworld.Verdict, pr tinyworld.Prompt, calls []string) float64 {
	if !v.Correct {
		return v.Score
	}
	for _, need := range requiredTools(pr.Skill) {
		if !slices.Contains(calls, need) {
			lost := float64(tinyworld.CorrectPoints)
			if !v.Ended {
				lost *= tinyworld.UnendedFactor
			}
			return v.Score - lost
		}
	}
	return v.Score
}

// assistantText is the text the assistant wrote in a generated turn — tool calls and their
// results left out, the pieces joined with a space (as turnText joins a chat.ToolReply's) —
// and whether the turn ended with <|end|>. A special token out of place (<|user|>, say) ends
// the text there, not ended, as the tool loop ends such a turn.
func assistantText(tok tokenizer.Tokenizer, reply []int32) (string, bool, error) {
	text, ended, _, err := assistantTurn(tok, reply)
	return text, ended, err
}

// assistantTurn is assistantText with the names of the tools the turn called, in order.
func assistantTurn(tok tokenizer.Tokenizer, reply []int32) (text string, ended bool, calls []string, err error) {
	var parts []string
	var piece, call []int32
	flush := func() error {
		if len(piece) == 0 {
			return nil
		}
		text, err := tok.Decode(piece)
		if err != nil {
			return err
		}
		if t := strings.TrimSpace(text); t != "" {
			parts = append(parts, t)
		}
		piece = piece[:0]
		return nil
	}
	inCall, inResult := false, false
	for _, t := range reply {
		switch t {
		case tokenizer.ToolCall:
			if err := flush(); err != nil {
				return "", false, nil, err
			}
			inCall, call = true, call[:0]
		case tokenizer.ToolCallEnd:
			if inCall {
				c, err := tok.Decode(call)
				if err != nil {
					return "", false, nil, err
				}
				name, _ := tools.ParseCall(c)
				calls = append(calls, name)
			}
			inCall = false
		case tokenizer.ToolResult:
			if err := flush(); err != nil {
				return "", false, nil, err
			}
			inCall, inResult = false, true
		case tokenizer.ToolResultEnd:
			inResult = false
		case tokenizer.End:
			if err := flush(); err != nil {
				return "", false, nil, err
			}
			return strings.Join(parts, " "), true, calls, nil
		case tokenizer.Pad, tokenizer.BOS, tokenizer.User, tokenizer.Assistant, tokenizer.Context:
			// Out of place: the turn stops here without <|end|>, as the tool loop stops it.
			if err := flush(); err != nil {
				return "", false, nil, err
			}
			return strings.Join(parts, " "), false, calls, nil
		default:
			switch {
			case inCall:
				call = append(call, t)
			case !inResult:
				piece = append(piece, t)
			}
		}
	}
	if err := flush(); err != nil {
		return "", false, nil, err
	}
	return strings.Join(parts, " "), false, calls, nil
}

// ppoWithGoldSkills is rlhf.TrainPPOFile with the skills' replies scored by the judge
// (goldSkillScorer): the value model starts from the reward model, as TrainPPO starts it.
func (p *pipeline) ppoWithGoldSkills(ctx context.Context, cfg rlhf.PPOConfig, tok tokenizer.Tokenizer, items []skillRLItem, msgs [][]data.Message) (*train.Result, error) {
	pol, err := model.LoadStage(p.paths.stage("sft"), model.StageSFT)
	if err != nil {
		return nil, err
	}
	rmCk, err := model.LoadStage(p.paths.stage("reward"), model.StageReward)
	if err != nil {
		return nil, err
	}
	rm, err := reward.FromCheckpoint(rmCk)
	if err != nil {
		return nil, err
	}
	rmID, err := rmCk.Fingerprint()
	if err != nil {
		return nil, err
	}
	scorer, err := newGoldSkillScorer(rm, tok, p.world, items)
	if err != nil {
		return nil, err
	}
	return rlhf.PPO(ctx, cfg, pol, rmCk.Model.Clone(), scorer, rmID+"; skills: the tiny world's judge", msgs)
}
