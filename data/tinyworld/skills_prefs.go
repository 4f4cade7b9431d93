package tinyworld

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/tinychat-go/tinychat/data"
)

// SkillSteps returns the canonical assistant turn for a prompt of the new
// skills: the calculator call then the reply for [SkillCalc], the search,
// the calculator call and the reply for [SkillSearchCalc], for a
// step-by-step [KindMore] question the two counts, their difference by the
// calculator and the conclusion, the reply ([World.SkillCanonical])
// otherwise.
func (w *World) SkillSteps(p Prompt) []Step {
	text := Step{Text: w.SkillCanonical(p)}
	calc := Step{Tool: ToolCalculator, Input: p.Expression, Output: p.Answer, Thought: w.calcThought(p)}
	switch {
	case p.Skill == SkillSearchCalc && len(p.Passages) > 0:
		fresh := p.Person
		if _, known := w.Profile(fresh); known {
			fresh = p.Other
		}
		search := Step{Tool: ToolSearch, Input: fresh + " stamps", Output: p.Passages[0], Thought: "i need " + fresh + "'s stamps."}
		return []Step{search, calc, text}
	case p.Expression != "":
		return []Step{calc, text}
	case p.Kind == KindMore && p.StepByStep:
		if steps, ok := w.moreSteps(p, text.Text); ok {
			return steps
		}
	}
	return []Step{text}
}

// moreSteps splits a step-by-step reply to who has more stamps ("Yara has
// 464 stamps. Beth has 442 stamps. so Yara has more.") around a
// subtraction of the second count from the first: the facts, the call
// ("calc 464-442" → "22"), the conclusion, which follows from the
// result's sign, one token, where comparing the two numbers digit by
// digit is what a model of the recipe's size does not learn (see
// docs/tinyworld-skills.md). ok is false when a person is not the
// world's (the reasoning drills' invented people) or reply does not start
// with the reasoning.
func (w *World) moreSteps(p Prompt, reply string) ([]Step, bool) {
	a, okA := w.Profile(p.Person)
	b, okB := w.Profile(p.Other)
	facts := strings.Join(p.Reasoning, " ")
	concl, found := strings.CutPrefix(reply, facts+" ")
	if !okA || !okB || len(p.Reasoning) != 2 || !found {
		return nil, false
	}
	return []Step{{Text: facts},
		{Tool: ToolCalculator, Input: fmt.Sprintf("%d-%d", a.Stamps, b.Stamps), Output: strconv.Itoa(a.Stamps - b.Stamps),
			Thought: facts + " i subtract."},
		{Text: concl}}, true
}

// calcThought is the thought before a calculation: the operands' facts and
// the operation ("Anna has 347 stamps, Ben has 215. i add them.").
func (w *World) calcThought(p Prompt) string {
	switch p.Kind {
	case KindTogether, KindDifference:
		op := "i add them."
		if p.Kind == KindDifference {
			op = "i subtract."
		}
		// The operands are the expression's (an invented person's stamps are in no table).
		x, y, _ := strings.Cut(strings.NewReplacer("+", " ", "-", " ").Replace(p.Expression), " ")
		return fmt.Sprintf("%s has %s stamps, %s has %s. %s", p.Person, x, p.Other, y, op)
	case KindCost:
		k, _, _ := strings.Cut(p.Expression, "*")
		pr, _ := w.TicketPrice(p.Town)
		return fmt.Sprintf("a ticket to %s costs %d coins. i multiply by %s.", p.Town, pr, k)
	}
	return ""
}

// SkillCandidates returns assistant turns of varied quality for a prompt
// of the new skills, for preference data: distinct by their text, sorted
// best first by the [World.Judge] score of their reply (ties keep this
// order): the canonical turn, rude, rambling, rude and rambling, a wrong
// one (polite and concise), wrong and rude, wrong and rambling, then "i do
// not know that person." (for a known person: a false refusal) and
// "whatever.". What is wrong depends on the skill: an invented fact about
// nobody ([SkillUnknown]), the calculator's result miscopied (the call
// itself right), the stale fact (or, for a new person, a refusal), the
// other yes or no, person, colour or price (after correct reasoning for a
// step-by-step prompt), a wrong count or price, or a wrong value for a
// reading question. rng picks the templates and wrong values; nil means a
// generator seeded by the world's seed and the prompt's text.
func (w *World) SkillCandidates(p Prompt, rng *rand.Rand) [][]Step {
	if rng == nil {
		h := fnv.New64a()
		for _, m := range p.Messages {
			h.Write([]byte(m.Content))
		}
		rng = w.rng(streamSkillPref, int(h.Sum64()>>1))
	}
	good := w.SkillSteps(p)
	wrong := w.wrongSteps(p, rng)
	withText := func(steps []Step, f func(string) string) []Step {
		out := slices.Clone(steps)
		out[len(out)-1].Text = f(out[len(out)-1].Text)
		return out
	}
	rude := func(s string) string { return rudify(rng, p.Kind, s) }
	rambling := func(s string) string { return ramble(rng, s, false) }
	out := [][]Step{
		good,
		withText(good, rude),
		withText(good, rambling),
		withText(good, func(s string) string { return rambling(rude(s)) }),
		wrong,
		withText(wrong, rude),
		withText(wrong, rambling),
		{{Text: refusals[0]}},
		{{Text: dismissive}},
	}
	seen := make(map[string]bool)
	out = slices.DeleteFunc(out, func(steps []Step) bool {
		r := Demo{Steps: steps}.Reply()
		dup := seen[r]
		seen[r] = true
		return dup
	})
	type scored struct {
		steps []Step
		score float64
	}
	ss := make([]scored, len(out))
	for i, steps := range out {
		ss[i] = scored{steps, w.Judge(p, Demo{Steps: steps}.Reply(), true).Score}
	}
	slices.SortStableFunc(ss, func(a, b scored) int { return cmp.Compare(b.score, a.score) })
	for i := range ss {
		out[i] = ss[i].steps
	}
	return out
}

// wrongSteps returns a polite, concise turn whose answer is wrong for p.
func (w *World) wrongSteps(p Prompt, rng *rand.Rand) []Step {
	q := p
	switch p.Skill {
	case SkillUnknown:
		// An invented fact about nobody.
		kind := pick(rng, factKinds)
		f := facts{name: p.Person, town: pick(rng, w.towns), job: pick(rng, jobs), colour: pick(rng, colours),
			count: 1 + rng.IntN(9), obj: pick(rng, objects)}
		return []Step{{Text: fill(goodReplies[kind][0], f)}}
	case SkillNews:
		if p.Stale == "" {
			return []Step{{Text: refusals[0]}} // a new person, closed-book
		}
		q.Answer = p.Stale
	case SkillCalc, SkillSearchCalc:
		// The call is right; its result is miscopied into the reply.
		steps := w.SkillSteps(p)
		q.Answer = miscopy(rng, p.Answer)
		steps[len(steps)-1] = Step{Text: w.SkillCanonical(q)}
		return steps
	default:
		q.Answer = w.otherAnswer(p, rng)
		// A step-by-step "more": the right call, the wrong conclusion.
		if p.Kind == KindMore && p.StepByStep {
			steps, ok := w.moreSteps(p, w.SkillCanonical(p))
			wrong, okQ := w.moreSteps(q, w.SkillCanonical(q))
			if ok && okQ {
				steps[len(steps)-1] = wrong[len(wrong)-1]
				return steps
			}
		}
	}
	return []Step{{Text: w.SkillCanonical(q)}}
}

// miscopy returns a different number that looks like n: two digits
// swapped, or one digit changed.
func miscopy(rng *rand.Rand, n string) string {
	b := []byte(n)
	if len(b) > 1 {
		i := rng.IntN(len(b) - 1)
		if b[i] != b[i+1] && (i > 0 || b[i+1] != '0') {
			b[i], b[i+1] = b[i+1], b[i]
			return string(b)
		}
	}
	i := len(b) - 1
	b[i] = '0' + (b[i]-'0'+1+byte(rng.IntN(8)))%10
	return string(b)
}

// otherAnswer returns a wrong answer of the same category as p's.
func (w *World) otherAnswer(p Prompt, rng *rand.Rand) string {
	switch p.Kind {
	case KindSameTown:
		if p.Answer == "yes" {
			return "no"
		}
		return "yes"
	case KindMore:
		if strings.EqualFold(p.Answer, p.Person) {
			return p.Other
		}
		return p.Person
	case KindHome:
		if p.Stale != "" {
			return p.Stale
		}
		return pickOther(rng, w.towns, p.Answer)
	case KindJob:
		if p.Stale != "" {
			return p.Stale
		}
		return pickOther(rng, jobs, p.Answer)
	case KindColour, KindColourOf:
		return pickOther(rng, colours, p.Answer)
	}
	n, err := strconv.Atoi(p.Answer)
	if err != nil {
		return p.Answer + "0"
	}
	if p.Kind == KindCount {
		return strconv.Itoa(n%9 + 1)
	}
	return strconv.Itoa(n + 1 + rng.IntN(20))
}

// SkillRanking is a K-wise ranking of assistant turns to one prompt, best
// first, for reward modelling or DPO.
type SkillRanking struct {
	// Source is "tinyworld:skill-pref:<skill>:i".
	Source string
	// Prompt is the conversation, with its passages.
	Prompt Prompt
	// Responses are the turns, best first, no two with the same
	// [World.Judge] score.
	Responses [][]Step
}

// SkillPreferences returns n rankings of skill: training prompts drawn like
// [World.SkillRLPrompts] (from an independent stream) with one
// [World.SkillCandidates] turn per distinct judge score, best first. K is 3
// to 6. Ranking i is the same for every n ≥ i+1.
func (w *World) SkillPreferences(skill string, n int) []SkillRanking {
	out := make([]SkillRanking, n)
	for i := range out {
		rng := w.skillRNG(streamSkillPref, skill, i)
		p := w.skillItem(skill, rng, modeTrain, skill == SkillMultiHop && i%2 == 0).Prompt
		cands := w.SkillCandidates(p, rng)
		score := func(steps []Step) float64 { return w.Judge(p, Demo{Steps: steps}.Reply(), true).Score }
		var resp [][]Step
		for len(cands) > 0 {
			s := score(cands[0])
			end := 1
			for end < len(cands) && score(cands[end]) == s {
				end++
			}
			resp = append(resp, cands[rng.IntN(end)])
			cands = cands[end:]
		}
		out[i] = SkillRanking{Source: fmt.Sprintf("tinyworld:skill-pref:%s:%d", skill, i), Prompt: p, Responses: resp}
	}
	return out
}

// TextAnswer returns the answer to p as the pretraining texts write it
// after "answer: ": for a calculation the expression, its value and the
// reply ("3*28=84. they cost 84 coins."), since no tool runs in plain text;
// otherwise the canonical reply ([World.SkillCanonical], or
// [World.Canonical] for the original kinds). It is the form a few-shot
// prompt for a base model shows.
func (w *World) TextAnswer(p Prompt) string {
	switch {
	case p.Expression != "":
		return skillVals{E: p.Expression, R: atoi(p.Answer), A: w.SkillCanonical(p)}.fill(calcForm)
	case p.Skill == "":
		return w.Canonical(p)
	}
	return w.SkillCanonical(p)
}

// Chats returns each response of r as a whole conversation in package
// data's chat format ([Demo.Chat]): the prompt, with its passages as a
// context turn if withPassages is set, then the response's turn with its
// tool calls and results, best first.
func (r SkillRanking) Chats(withPassages bool) [][]data.Message {
	out := make([][]data.Message, len(r.Responses))
	for i, steps := range r.Responses {
		out[i] = Demo{Prompt: r.Prompt, Steps: steps}.Chat(withPassages)
	}
	return out
}
