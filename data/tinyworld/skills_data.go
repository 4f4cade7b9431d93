package tinyworld

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/tinychat-go/tinychat/data"
)

// mode says which part of the question space a generator draws from.
type mode int

const (
	modeTrain mode = iota // combinations and phrasings of the chat data
	modeEval              // held-out combinations (any phrasing) or held-out phrasings
)

// skillRNG returns the generator of item i of skill in a stream.
func (w *World) skillRNG(stream uint64, skill string, i int) *rand.Rand {
	return w.rng(stream^uint64(slices.Index(Skills(), skill)+1)<<20, i)
}

// SkillDemos returns n demonstrations of skill (one of [Skills]) for SFT,
// drawn from the training combinations and phrasings only. Replies are
// correct, polite and concise; [SkillMultiHop] demonstrations reason step by
// step every other item (i even), after [StepTrigger], and answer directly
// otherwise. Demo i is the same for every n ≥ i+1. It panics on an unknown
// skill.
func (w *World) SkillDemos(skill string, n int) []Demo {
	out := make([]Demo, n)
	for i := range out {
		rng := w.skillRNG(streamSkillDemo, skill, i)
		if skill == SkillSearchCalc && i%4 != 0 {
			out[i] = w.inventedSearchCalcItem(rng)
			continue
		}
		out[i] = w.skillItem(skill, rng, modeTrain, skill == SkillMultiHop && i%2 == 0)
	}
	return out
}

// ReasoningDrills returns n multi-hop demonstrations about two invented people whose facts are
// the passages of the context turn ("Kelan lives in Oakton.", "Mira lives in Oakton." or their
// stamps): a same-town or a more-stamps question in a training phrasing, answered step by step
// after [StepTrigger] (i even) or directly (i odd), as the world's people's are, except that a
// step-by-step more-stamps drill concludes in words after the two facts, without the
// calculator's subtraction of [World.SkillSteps] (its people are in no table). No memory of
// a pair can give the answer, so a model trained on them must conclude from the facts — in
// a step-by-step answer, from the steps it has just written. Demo i is the same for every
// n ≥ i+1.
func (w *World) ReasoningDrills(n int) []Demo {
	out := make([]Demo, n)
	for i := range out {
		out[i] = w.drillItem(w.rng(streamDrill, i), w.skillTrainPhrasing, i%2 == 0)
	}
	return out
}

// drillItem draws a reasoning drill: two invented people's homes (the same town half of the
// time) or stamps (close counts, the same hundreds, a third of the time, so that the
// comparison must read past the first digit) as its passages, a same-town or more-stamps
// question about them in the phrasing phrasing draws, with [StepTrigger] if step is set, and
// the canonical reply.
func (w *World) drillItem(rng *rand.Rand, phrasing func(*rand.Rand, string) int, step bool) Demo {
	a := Profile{Person: Person{Name: invented(rng), Town: pick(rng, w.towns)}, Stamps: MinStamps + rng.IntN(MaxStamps-MinStamps+1)}
	b := Profile{Person: Person{Name: invented(rng), Town: pick(rng, w.towns)}, Stamps: MinStamps + rng.IntN(MaxStamps-MinStamps+1)}
	for b.Name == a.Name {
		b.Name = invented(rng)
	}
	p := Prompt{Skill: SkillMultiHop, Person: a.Name, Other: b.Name}
	var reply, conclusion string
	if rng.IntN(2) == 0 {
		switch {
		case rng.IntN(2) == 0:
			b.Town = a.Town
		case len(w.towns) > 1:
			b.Town = pickOther(rng, w.towns, a.Town)
		}
		p.Kind, p.Answer, reply, conclusion = KindSameTown, "no", sameNo, sameNoStep
		if a.Town == b.Town {
			p.Answer, p.Town, reply, conclusion = "yes", a.Town, skillVals{T: a.Town}.fill(sameYes), sameYesStep
		}
		p.Reasoning = []string{valsOf(a).fill(stepHome), valsOf(b).fill(stepHome)}
	} else {
		if rng.IntN(3) == 0 {
			b.Stamps = a.Stamps/100*100 + rng.IntN(100)
		}
		for b.Stamps == a.Stamps {
			b.Stamps = MinStamps + rng.IntN(MaxStamps-MinStamps+1)
		}
		p.Kind, p.Answer = KindMore, a.Name
		if b.Stamps > a.Stamps {
			p.Answer = b.Name
		}
		p.Reasoning = []string{valsOf(a).fill(stepStamps), valsOf(b).fill(stepStamps)}
		reply, conclusion = skillVals{W: p.Answer}.fill(skillReplies[KindMore]), skillVals{W: p.Answer}.fill(concludeMore)
	}
	p.Phrasing = phrasing(rng, p.Kind)
	p.Messages = []data.Message{{Role: data.RoleUser, Content: skillVals{X: a.Name, Z: b.Name}.fill(phrasingsOf(p.Kind)[p.Phrasing])}}
	p.Passages = slices.Clone(p.Reasoning)
	if step {
		p = WithStepByStep(p)
		reply = strings.Join(append(slices.Clone(p.Reasoning), conclusion), " ")
	}
	return Demo{Prompt: p, Steps: []Step{{Text: reply}}}
}

// quietPeople are the world's people the news does not mention, in the world's order (all of
// them if the news mentions everyone).
func (w *World) quietPeople() []Person {
	var quiet []Person
	for _, per := range w.people {
		if _, ok := w.newsAbout(per.Name); !ok {
			quiet = append(quiet, per)
		}
	}
	if len(quiet) == 0 {
		return w.people
	}
	return quiet
}

// inventedSearchCalcItem is a search-then-calculate demonstration about an invented person
// whose stamps a search finds (as it finds a new person's in the news store) and a world
// person the news does not mention. The news store has only a handful of new people, so
// demonstrations about them alone teach their names and their stamps; these teach the rule:
// a name the model does not know is searched for, and the number comes from the result. Two
// thirds of the invented names look like real ones (searchDemoName: "Brena", "Clom"), as the
// held-out news people's do, the others are syllable names like the reading curriculum's
// ("Namu"). With syllable names only, the SFT model searched for those and never for a
// held-out news person, taking "Cleo" for the world's Cole (0 of 37 searched; correct 0 of
// 100); with these it searches for "Bram" (32 of 32) and answers 27 of 100, but still takes
// Cleo for Cole and Lena for someone it knows. A third kind, world names one letter off
// ("Cloe"), made it worse (7 of 100: it copied names into its queries less exactly). Three
// demonstrations in four are about invented people. The evaluation's search runs over the
// real news store; RL may add invented people's passages to its own
// ([World.InventedSearchCalcRLPrompts]).
func (w *World) inventedSearchCalcItem(rng *rand.Rand) Demo {
	_, p := w.inventedSearchCalcPrompt(rng)
	return Demo{Prompt: p, Steps: w.SkillSteps(p)}
}

// inventedSearchCalcPrompt draws an inventedStampsCalc question as a search-then-calculate
// prompt whose Passages hold the invented person's passage; it returns that person's name too.
func (w *World) inventedSearchCalcPrompt(rng *rand.Rand) (string, Prompt) {
	fresh, p := w.inventedStampsCalc(rng)
	p.Passages = []string{valsOf(fresh).fill(newPersonForms[2])}
	p.Skill = SkillSearchCalc
	return fresh.Name, p
}

// inventedStampsCalc draws an invented person with stamps (a name shaped like a real one two
// times in three, searchDemoName, else a syllable name) and a together or difference question,
// in a training phrasing, about them and a world person the news does not mention, in either
// order.
func (w *World) inventedStampsCalc(rng *rand.Rand) (Profile, Prompt) {
	name := invented(rng)
	if rng.IntN(3) != 0 {
		name = searchDemoName(rng)
	}
	fresh := Profile{Person: Person{Name: name}, Stamps: MinStamps + rng.IntN(MaxStamps-MinStamps+1)}
	known, _ := w.Profile(pick(rng, w.quietPeople()).Name)
	a, b := fresh, known
	if rng.IntN(2) == 0 {
		a, b = b, a
	}
	return fresh, w.stampsCalc(rng, a, b, modeTrain, true)
}

// InventedSearchCalcRLPrompts returns n search-then-calculate prompts for RL about invented
// people, drawn as three in four of the demonstrations are (a together or difference question
// in a training phrasing about an invented person and a world person the news does not
// mention). Each prompt's Passages hold its invented person's passage, which no search of the
// news store finds: an RL run that asks them needs a search whose index holds those passages
// too. The invented names are distinct, so one index can hold every prompt's passage. On the
// news store's own new people, the only ones [World.SkillRLPrompts] asks about, a model
// trained on the demonstrations is right every time, so a group method learns nothing from
// them; these names are new to it, as the held-out news people's are. Prompt i is the same
// for every n ≥ i+1.
func (w *World) InventedSearchCalcRLPrompts(n int) []Prompt {
	out := make([]Prompt, 0, n)
	seen := make(map[string]bool)
	for i := 0; len(out) < n; i++ {
		name, p := w.inventedSearchCalcPrompt(w.rng(streamSkillRLInvented, i))
		if seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, p)
	}
	return out
}

// InventedNewsRLPrompts returns n news questions for RL about invented new people, each with
// its answering passage as the news store's new people have theirs ("Brena is new in
// Lakeside.", "Brena is a tailor and likes brown.", "Brena has 211 stamps."): a world town, job
// and colour, a name shaped like a real one two times in three (searchDemoName, as the
// held-out news people's are: "Bram", "Cleo", "Lena") or else a syllable name, a question of
// the four fact kinds in a training phrasing. They are [SkillReading] prompts, judged on the
// answer alone: the world knows nobody of that name. [World.SkillRLPrompts]'s news questions
// are about the news store's training people, whom a model trained on the demonstrations
// answers right every time, so a group method learns nothing from them; these names are new
// to it, as the held-out people's are. The names are distinct and none is in avoid (the
// invented people of other RL prompts, such as [World.InventedSearchCalcRLPrompts]', whose facts
// would differ); for the same avoid, prompt i is the same for every n ≥ i+1.
func (w *World) InventedNewsRLPrompts(n int, avoid ...string) []Prompt {
	out := make([]Prompt, 0, n)
	seen := make(map[string]bool, n+len(avoid))
	for _, name := range avoid {
		seen[name] = true
	}
	for i := 0; len(out) < n; i++ {
		p := w.inventedNewsPrompt(w.rng(streamSkillRLInventedNews, i))
		if seen[p.Person] {
			continue
		}
		seen[p.Person] = true
		out = append(out, p)
	}
	return out
}

// inventedNewsPrompt draws one of [World.InventedNewsRLPrompts].
func (w *World) inventedNewsPrompt(rng *rand.Rand) Prompt {
	name := invented(rng)
	if rng.IntN(3) != 0 {
		name = searchDemoName(rng)
	}
	per := Profile{Person: Person{Name: name, Town: pick(rng, w.towns), Job: pick(rng, jobs), Colour: pick(rng, colours)},
		Stamps: MinStamps + rng.IntN(MaxStamps-MinStamps+1)}
	v := valsOf(per)
	forms := make([]string, len(newPersonForms))
	for i, f := range newPersonForms {
		forms[i] = v.fill(f)
	}
	it := newsItem(NewsItem{Person: name, Change: NewsNewPerson}, forms...)
	kind := pick(rng, []string{KindHome, KindJob, KindColour, KindStamps})
	p := ask(rng, kind, w.phrasingFor(rng, kind, modeTrain, false), v, false)
	p.Person, p.Answer, p.Passages, p.Skill = name, factOf(per, kind), []string{it.passageFor(kind)}, SkillReading
	return p
}

// searchDemoName draws a name of the search demonstrations' invented people in the shape of a
// real name (an onset that may be a cluster, a vowel, and an ending), never a name of the
// world, the news store, the refusal data or the evaluation (isTableName).
func searchDemoName(rng *rand.Rand) string {
	for {
		s := pick(rng, searchOnsets) + pick(rng, searchVowels) + pick(rng, searchEndings)
		s = strings.ToUpper(s[:1]) + s[1:]
		if len(s) >= 3 && !isTableName(s) {
			return s
		}
	}
}

// SkillRLPrompts returns n prompts of skill for RL, from the training
// combinations and phrasings (an independent stream from
// [World.SkillDemos]); [SkillMultiHop] prompts ask step by step every other
// item. Prompt i is the same for every n ≥ i+1.
func (w *World) SkillRLPrompts(skill string, n int) []Prompt {
	out := make([]Prompt, n)
	for i := range out {
		rng := w.skillRNG(streamSkillRL, skill, i)
		out[i] = w.skillItem(skill, rng, modeTrain, skill == SkillMultiHop && i%2 == 0).Prompt
	}
	return out
}

// SkillEvalPrompts returns n held-out prompts of skill, whose questions
// occur in no chat data ([World.SkillDemos], [World.SkillRLPrompts]):
//
//   - facts: stamps of the people whose held-out kind is the count (any
//     phrasing), or the held-out phrasing of the stamps and price questions;
//   - calc: held-out person pairs ([World.IsHeldPair]) and a quarter of the
//     (town, tickets) combinations, in any phrasing;
//   - unknown: the names of nobody kept for evaluation ([UnknownNames]);
//   - news and search-calc: the held-out news items ([NewsItem.Held]);
//   - multihop: held-out pairs, the colour-of question of people whose
//     held-out kind is the colour and the ticket-home question of those whose
//     held-out kind is the home, in any phrasing, or else the kind's
//     held-out phrasing;
//   - reading: invented people (new ones every time) in the held-out
//     phrasing.
//
// [SkillMultiHop] prompts do not ask step by step; [WithStepByStep] adds the
// trigger. Prompt i is the same for every n ≥ i+1; prompts may repeat.
func (w *World) SkillEvalPrompts(skill string, n int) []Prompt {
	out := make([]Prompt, n)
	for i := range out {
		rng := w.skillRNG(streamSkillEval, skill, i)
		out[i] = w.skillItem(skill, rng, modeEval, false).Prompt
	}
	return out
}

// WithStepByStep returns p asking for step-by-step reasoning: [StepTrigger]
// appended to its last user turn and StepByStep set. p is not modified.
func WithStepByStep(p Prompt) Prompt {
	if p.StepByStep || len(p.Messages) == 0 {
		return p
	}
	p.Messages = slices.Clone(p.Messages)
	last := &p.Messages[len(p.Messages)-1]
	last.Content += " " + StepTrigger
	p.StepByStep = true
	return p
}

// DirectDemo returns d answered directly: without [StepTrigger] and with
// the direct reply, for an SFT ablation on direct answers only. Other demos
// are returned as they are.
func (w *World) DirectDemo(d Demo) Demo {
	if !d.StepByStep {
		return d
	}
	d.Prompt.Messages = slices.Clone(d.Prompt.Messages)
	last := &d.Prompt.Messages[len(d.Prompt.Messages)-1]
	last.Content = strings.TrimSuffix(last.Content, " "+StepTrigger)
	d.StepByStep = false
	d.Steps = []Step{{Text: w.SkillCanonical(d.Prompt)}}
	return d
}

// skillItem draws one prompt of skill and its canonical answer.
func (w *World) skillItem(skill string, rng *rand.Rand, m mode, step bool) Demo {
	var d Demo
	switch skill {
	case SkillFacts:
		d = w.factsItem(rng, m)
	case SkillCalc:
		d = w.calcItem(rng, m)
	case SkillUnknown:
		d = w.unknownItem(rng, m)
	case SkillNews:
		d = w.newsItem(rng, m)
	case SkillSearchCalc:
		d = w.searchCalcItem(rng, m)
	case SkillMultiHop:
		d = w.multiHopItem(rng, m, step)
	case SkillReading:
		d = w.readingItem(rng, m)
	default:
		panic(fmt.Sprintf("tinyworld: unknown skill %q", skill))
	}
	d.Skill = skill
	return d
}

// phrasingFor draws a phrasing of kind: a training one, or in eval mode
// the held-out one if held is false (the combination is not held out, so
// the phrasing must be) and any one otherwise.
func (w *World) phrasingFor(rng *rand.Rand, kind string, m mode, held bool) int {
	switch {
	case m == modeTrain:
		return w.skillTrainPhrasing(rng, kind)
	case held:
		return rng.IntN(len(phrasingsOf(kind)))
	}
	return w.heldPhrasing(kind)
}

// ask builds the user turn of a question and the prompt around it. If
// prefix is set (the short chats: closed-book facts and unknown people) the
// question opens with a question prefix ("hi! ") a quarter of the time;
// the longer chats never have one, to stay within the chat block.
func ask(rng *rand.Rand, kind string, phr int, v skillVals, prefix bool) Prompt {
	text := v.fill(phrasingsOf(kind)[phr])
	if prefix && rng.IntN(4) == 0 {
		text = pick(rng, questionPrefixes[1:]) + text
	}
	return Prompt{Kind: kind, Phrasing: phr, Messages: []data.Message{{Role: data.RoleUser, Content: text}}}
}

// heldOrNot draws, in eval mode, whether the item comes from a held-out
// combination (true, any phrasing) or a training one in a held-out
// phrasing (false); in train mode it is false.
func heldOrNot(rng *rand.Rand, m mode) bool { return m == modeEval && rng.IntN(2) == 0 }

// factsItem: a closed-book question about stamps or a ticket's price.
func (w *World) factsItem(rng *rand.Rand, m mode) Demo {
	if rng.IntN(3) == 0 {
		t := pick(rng, w.towns)
		pr := w.ext.price[t]
		p := ask(rng, KindPrice, w.phrasingFor(rng, KindPrice, m, false), skillVals{T: t}, true)
		p.Town, p.Answer = t, strconv.Itoa(pr)
		return w.answered(p)
	}
	// Stamps: a person whose held-out kind is the count is held out here
	// too.
	held := heldOrNot(rng, m)
	var cands []Person
	for _, per := range w.people {
		if (per.heldKind == KindCount) == held || (m == modeEval && !held) {
			cands = append(cands, per)
		}
	}
	if len(cands) == 0 {
		cands, held = w.people, false
	}
	per := pick(rng, cands)
	pro, _ := w.Profile(per.Name)
	p := ask(rng, KindStamps, w.phrasingFor(rng, KindStamps, m, held), valsOf(pro), true)
	p.Person, p.Answer = per.Name, strconv.Itoa(pro.Stamps)
	return w.answered(p)
}

// answered returns the demo of p with its canonical reply as the only step.
func (w *World) answered(p Prompt) Demo {
	return Demo{Prompt: p, Steps: []Step{{Text: w.SkillCanonical(p)}}}
}

// pairFor draws an ordered pair of distinct world people, held out or not
// as held says (any pair if none is left).
func (w *World) pairFor(rng *rand.Rand, held bool, sameTown int) (Profile, Profile) {
	n := len(w.people)
	if n < 2 {
		p, _ := w.Profile(w.people[0].Name)
		return p, p
	}
	var pairs [][2]int
	for i := range n {
		for j := range n {
			if i == j || w.ext.heldPair[[2]int{min(i, j), max(i, j)}] != held {
				continue
			}
			same := w.people[i].Town == w.people[j].Town
			if sameTown == 1 && !same || sameTown == 0 && same {
				continue
			}
			pairs = append(pairs, [2]int{i, j})
		}
	}
	if len(pairs) == 0 {
		i := rng.IntN(n)
		j := (i + 1 + rng.IntN(n-1)) % n
		pairs = [][2]int{{i, j}}
	}
	pr := pick(rng, pairs)
	a, _ := w.Profile(w.people[pr[0]].Name)
	b, _ := w.Profile(w.people[pr[1]].Name)
	return a, b
}

// calcItem: stamps of two people together, the difference, or the cost of
// some tickets; the demo calls the calculator.
func (w *World) calcItem(rng *rand.Rand, m mode) Demo {
	held := m == modeEval
	var p Prompt
	switch r := rng.IntN(3); {
	case r < 2 && len(w.people) > 1:
		a, b := w.pairFor(rng, held, -1)
		p = w.stampsCalc(rng, a, b, m, held)
	default:
		// Cost: (town i, k tickets) held out when (i+k+off)%4 == 0.
		var combos [][2]int
		for i := range w.towns {
			for k := 2; k <= MaxTickets; k++ {
				if ((i+k+w.ext.costOff)%4 == 0) == held {
					combos = append(combos, [2]int{i, k})
				}
			}
		}
		c := pick(rng, combos)
		t, k := w.towns[c[0]], c[1]
		pr := w.ext.price[t]
		p = ask(rng, KindCost, w.phrasingFor(rng, KindCost, m, held), skillVals{T: t, K: strconv.Itoa(k)}, false)
		p.Town, p.Expression, p.Answer = t, fmt.Sprintf("%d*%d", k, pr), strconv.Itoa(k*pr)
	}
	return w.calculated(p)
}

// stampsCalc builds a together or difference question about a and b.
func (w *World) stampsCalc(rng *rand.Rand, a, b Profile, m mode, held bool) Prompt {
	kind := KindTogether
	if rng.IntN(2) == 0 {
		kind = KindDifference
		if a.Stamps < b.Stamps {
			a, b = b, a
		}
	}
	v := skillVals{X: a.Name, Z: b.Name}
	p := ask(rng, kind, w.phrasingFor(rng, kind, m, held), v, false)
	p.Person, p.Other = a.Name, b.Name
	if kind == KindTogether {
		p.Expression, p.Answer = fmt.Sprintf("%d+%d", a.Stamps, b.Stamps), strconv.Itoa(a.Stamps+b.Stamps)
	} else {
		p.Expression, p.Answer = fmt.Sprintf("%d-%d", a.Stamps, b.Stamps), strconv.Itoa(a.Stamps-b.Stamps)
	}
	return p
}

// calculated returns the demo of a calculation: the calculator call, then
// the canonical reply.
func (w *World) calculated(p Prompt) Demo {
	return Demo{Prompt: p, Steps: w.SkillSteps(p)}
}

// unknownItem: a fact question about nobody. Training items use, a third
// each, the training names, syllable names (invented) and names shaped like
// real ones (searchDemoName: the training names are only twenty, and a model
// that refuses those may still answer for a real-looking name it has never
// seen); eval items the evaluation names.
func (w *World) unknownItem(rng *rand.Rand, m mode) Demo {
	var name string
	if m == modeEval {
		name = pick(rng, unknownEvalNames)
	} else {
		switch rng.IntN(3) {
		case 0:
			name = pick(rng, unknownTrainNames)
		case 1:
			name = invented(rng)
		default:
			name = searchDemoName(rng)
		}
	}
	kind := pick(rng, []string{KindHome, KindCount, KindJob, KindColour, KindStamps})
	o := pick(rng, objects)
	v := skillVals{X: name, P: o.many}
	p := ask(rng, kind, w.phrasingFor(rng, kind, m, true), v, true)
	p.Person = name
	d := Demo{Prompt: p, Steps: []Step{{Text: refusals[0]}}}
	if m == modeTrain {
		d.Steps[0].Text = pick(rng, refusals)
	}
	return d
}

// newsFor draws a news item, held out or not, of one of the changes.
func (w *World) newsFor(rng *rand.Rand, held bool, changes ...string) (NewsItem, bool) {
	var items []NewsItem
	for _, n := range w.ext.news {
		if n.Held == held && slices.Contains(changes, n.Change) {
			items = append(items, n)
		}
	}
	if len(items) == 0 {
		return NewsItem{}, false
	}
	return pick(rng, items), true
}

// newsItem: a question whose current answer is in the news.
func (w *World) newsItem(rng *rand.Rand, m mode) Demo {
	it, ok := w.newsFor(rng, m == modeEval, NewsMoved, NewsNewJob, NewsNewPerson)
	if !ok {
		it = w.ext.news[0]
	}
	cur, _ := w.Current(it.Person)
	kind := it.Kind
	if kind == "" {
		kind = pick(rng, []string{KindHome, KindJob, KindColour, KindStamps})
	}
	p := ask(rng, kind, w.phrasingFor(rng, kind, m, true), valsOf(cur), false)
	p.Person, p.Answer, p.Stale = cur.Name, factOf(cur, kind), it.Old
	p.Passages = []string{it.passageFor(kind)}
	return w.answered(p)
}

// factOf returns the answer to a fact question of kind about p.
func factOf(p Profile, kind string) string {
	if kind == KindStamps {
		return strconv.Itoa(p.Stamps)
	}
	return p.Fact(kind)
}

// searchCalcItem: a calculation with a new person's stamps, which only the
// news store holds, and those of a world person the news does not mention:
// search the new person, then calculate.
func (w *World) searchCalcItem(rng *rand.Rand, m mode) Demo {
	it, ok := w.newsFor(rng, m == modeEval, NewsNewPerson)
	if !ok {
		it, _ = w.newsFor(rng, false, NewsNewPerson)
	}
	fresh, _ := w.Current(it.Person)
	// The other is someone the news does not mention (if there is one).
	known, _ := w.Profile(pick(rng, w.quietPeople()).Name)
	a, b := fresh, known
	if rng.IntN(2) == 0 {
		a, b = b, a
	}
	p := w.stampsCalc(rng, a, b, m, true)
	p.Passages = []string{it.passageFor(KindStamps)}
	p.Skill = SkillSearchCalc
	return Demo{Prompt: p, Steps: w.SkillSteps(p)}
}

// multiHopItem: a question combining two facts, answered step by step if
// step is set.
func (w *World) multiHopItem(rng *rand.Rand, m mode, step bool) Demo {
	held := heldOrNot(rng, m)
	var p Prompt
	switch r := rng.IntN(4); {
	case r < 2 && len(w.people) < 2:
		return w.multiHopTicket(rng, m, held, step)
	case r < 2:
		var a, b Profile
		if r == 0 {
			a, b = w.pairFor(rng, held, rng.IntN(2)) // same-town pairs half of the time
			p = ask(rng, KindSameTown, w.phrasingFor(rng, KindSameTown, m, held), skillVals{X: a.Name, Z: b.Name}, false)
			p.Answer = "no"
			if a.Town == b.Town {
				p.Answer = "yes"
			}
			p.Reasoning = []string{valsOf(a).fill(stepHome), valsOf(b).fill(stepHome)}
		} else {
			a, b = w.pairFor(rng, held, -1)
			p = ask(rng, KindMore, w.phrasingFor(rng, KindMore, m, held), skillVals{X: a.Name, Z: b.Name}, false)
			p.Answer = a.Name
			if b.Stamps > a.Stamps {
				p.Answer = b.Name
			}
			p.Reasoning = []string{valsOf(a).fill(stepStamps), valsOf(b).fill(stepStamps)}
		}
		p.Person, p.Other = a.Name, b.Name
	case r == 2:
		// The person is unique by job and town; people whose held-out kind
		// is the colour are held out.
		var cands []Profile
		for _, per := range w.people {
			if w.uniqueJobTown(per) && (per.heldKind == KindColour) == held {
				pro, _ := w.Profile(per.Name)
				cands = append(cands, pro)
			}
		}
		if len(cands) == 0 {
			return w.multiHopTicket(rng, m, held, step)
		}
		per := pick(rng, cands)
		v := valsOf(per)
		p = ask(rng, KindColourOf, w.phrasingFor(rng, KindColourOf, m, held), v, false)
		p.Person, p.Town, p.Answer = per.Name, per.Town, per.Colour
		p.Reasoning = []string{v.fill(stepWho), v.fill(stepColour)}
	default:
		return w.multiHopTicket(rng, m, held, step)
	}
	return w.reasoned(p, step)
}

// multiHopTicket: what a ticket to a person's town costs; people whose
// held-out kind is the home are held out.
func (w *World) multiHopTicket(rng *rand.Rand, m mode, held, step bool) Demo {
	var cands []Person
	for _, per := range w.people {
		if (per.heldKind == KindHome) == held {
			cands = append(cands, per)
		}
	}
	if len(cands) == 0 {
		cands = w.people
	}
	per, _ := w.Profile(pick(rng, cands).Name)
	v := valsOf(per)
	v.M = w.ext.price[per.Town]
	p := ask(rng, KindTicketHome, w.phrasingFor(rng, KindTicketHome, m, held), v, false)
	p.Person, p.Town, p.Answer = per.Name, per.Town, strconv.Itoa(v.M)
	p.Reasoning = []string{v.fill(stepHome), v.fill(stepPrice)}
	return w.reasoned(p, step)
}

// reasoned returns the demo of a multi-hop prompt: the direct reply, or
// with step set the trigger in the question and the reasoning then the
// conclusion.
func (w *World) reasoned(p Prompt, step bool) Demo {
	if step {
		p = WithStepByStep(p)
	}
	return Demo{Prompt: p, Steps: w.SkillSteps(p)}
}

// uniqueJobTown reports whether per is the only one with their job in
// their town.
func (w *World) uniqueJobTown(per Person) bool {
	n := 0
	for _, q := range w.people {
		if q.Job == per.Job && q.Town == per.Town {
			n++
		}
	}
	return n == 1
}

// readingItem: a question about an invented person answered from the
// passage in front of it; half of the time a second passage (about
// someone else, or another fact of the same person) comes before or after.
func (w *World) readingItem(rng *rand.Rand, m mode) Demo {
	it, per := inventedNews(rng)
	kind := it.Kind
	if kind == "" {
		kind = pick(rng, []string{KindHome, KindJob, KindColour, KindStamps})
	}
	gold := it.passageFor(kind)
	p := ask(rng, kind, w.phrasingFor(rng, kind, m, false), valsOf(per), false)
	p.Person, p.Answer, p.Passages = per.Name, factOf(per, kind), []string{gold}
	if kind == it.Kind {
		p.Stale = it.Old
	}
	d := w.answered(p)
	if rng.IntN(2) == 0 {
		other, _ := inventedNews(rng)
		pool := append(slices.Clone(other.Passages), slices.DeleteFunc(slices.Clone(it.Passages), func(s string) bool { return s == gold })...)
		extra := pick(rng, pool)
		if len(extra)+len(gold)+len(p.User())+len(d.Reply()) <= maxReadingChat {
			if rng.IntN(2) == 0 {
				d.Passages = []string{extra, gold}
			} else {
				d.Passages = []string{gold, extra}
			}
		}
	}
	return d
}

// maxReadingChat is the most bytes of passages, question and reply of a
// reading demonstration with a second passage: invented names take about
// one token per letter, so this keeps the chat within the block of 96
// tokens of the recipe's tokenizer.
const maxReadingChat = 115

// inventedNews draws news about an invented person in an invented town: a
// move, a new job, or a new person. It returns the item and the person's
// facts after it.
func inventedNews(rng *rand.Rand) (NewsItem, Profile) {
	o := pick(rng, objects)
	per := Profile{Person: Person{Name: invented(rng), Town: inventedTown(rng), Count: 1 + rng.IntN(9), Object: o.many,
		Job: pick(rng, jobs), Colour: pick(rng, colours), obj: o}, Stamps: MinStamps + rng.IntN(MaxStamps-MinStamps+1)}
	v := valsOf(per)
	switch rng.IntN(4) {
	case 0:
		v.O = inventedTown(rng)
		return newsItem(NewsItem{Person: per.Name, Change: NewsMoved, Kind: KindHome, Old: v.O, New: per.Town},
			v.fill(pick(rng, movedForms))), per
	case 1:
		v.O = pickOther(rng, jobs, per.Job)
		return newsItem(NewsItem{Person: per.Name, Change: NewsNewJob, Kind: KindJob, Old: v.O, New: per.Job},
			v.fill(pick(rng, newJobForms))), per
	}
	var ss []string
	for _, f := range newPersonForms {
		ss = append(ss, v.fill(f))
	}
	return newsItem(NewsItem{Person: per.Name, Change: NewsNewPerson, New: per.Town}, ss...), per
}

// SkillCanonical returns the canonical reply to a prompt of the new skills
// (for other prompts, [World.Canonical]): the fact reply with the current
// or passage facts, the calculation's reply with its result, the refusal
// "i do not know that person.", or for [SkillMultiHop] the direct reply or,
// if p.StepByStep, the reasoning and its conclusion ("Anna lives in Oakton.
// Ben lives in Ashdale. so no, they do not."). It scores 100 with
// [World.Judge].
func (w *World) SkillCanonical(p Prompt) string {
	if p.Skill == SkillUnknown {
		return refusals[0]
	}
	v := skillVals{X: p.Person, Z: p.Other, T: p.Town}
	v.R, _ = strconv.Atoi(p.Answer)
	switch p.Kind {
	case KindStamps:
		v.S = v.R
		return v.fill(skillReplies[KindStamps])
	case KindHome, KindJob, KindColour, KindCount:
		// News and reading: the answer is the fact, the person may be new
		// or invented.
		per, ok := w.Current(p.Person)
		if !ok {
			per = Profile{Person: Person{Name: p.Person}}
		}
		f := factsOf(per.Person)
		switch p.Kind {
		case KindHome:
			f.town = p.Answer
		case KindJob:
			f.job = p.Answer
		case KindColour:
			f.colour = p.Answer
		}
		return fill(goodReplies[p.Kind][0], f)
	case KindPrice, KindTicketHome:
		v.M = v.R
		if p.StepByStep {
			return strings.Join(append(slices.Clone(p.Reasoning), v.fill(concludePrice)), " ")
		}
		return v.fill(skillReplies[KindPrice])
	case KindCost:
		v.K, _, _ = strings.Cut(p.Expression, "*")
		return v.fill(skillReplies[KindCost])
	case KindTogether, KindDifference:
		return v.fill(skillReplies[p.Kind])
	case KindSameTown:
		if per, ok := w.Profile(p.Person); ok {
			v.T = per.Town
		}
		switch {
		case p.StepByStep && p.Answer == "yes":
			return strings.Join(append(slices.Clone(p.Reasoning), sameYesStep), " ")
		case p.StepByStep:
			return strings.Join(append(slices.Clone(p.Reasoning), sameNoStep), " ")
		case p.Answer == "yes":
			return v.fill(sameYes)
		}
		return sameNo
	case KindMore:
		v.W = p.Answer
		if p.StepByStep {
			return strings.Join(append(slices.Clone(p.Reasoning), v.fill(concludeMore)), " ")
		}
		return v.fill(skillReplies[KindMore])
	case KindColourOf:
		per, _ := w.Profile(p.Person)
		v.J, v.C = per.Job, p.Answer
		if p.StepByStep {
			return strings.Join(append(slices.Clone(p.Reasoning), v.fill(concludeColor)), " ")
		}
		return v.fill(skillReplies[KindColourOf])
	}
	return w.Canonical(p)
}
