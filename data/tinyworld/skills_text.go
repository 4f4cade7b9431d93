package tinyworld

import (
	"math/rand/v2"
	"strings"

	"github.com/tinychat-go/tinychat/data"
)

// DefaultSkillPretrainBytes is the default size of
// [World.SkillPretrainText].
const DefaultSkillPretrainBytes = 200_000

// SkillPretrainText returns the new skills' pretraining text, about size
// bytes (default [DefaultSkillPretrainBytes] if size ≤ 0), one short
// paragraph per line, to be added to [World.PretrainText] (which stays as
// it was). It opens with everyone's stamps and every town's ticket price in
// the canonical forms, then mixes at random:
//
//   - the new facts in varied forms ("Anna collects stamps and has 347 of
//     them.", "the price of a ticket to Oakton is 28 coins.");
//   - closed-book questions about them in every phrasing ("question: how
//     many stamps does Anna have? answer: Anna has 347 stamps.");
//   - calculations, the expression with its value then the reply
//     ("question: what do 3 tickets to Oakton cost? answer: 3*28=84. 3
//     tickets to Oakton cost 84 coins.");
//   - multi-hop questions, half of them with [StepTrigger] and the
//     reasoning ("... answer: Anna lives in Oakton. Ben lives in Ashdale. so
//     no, they do not."; who has more stamps with the difference between
//     the two: "Hal has 434 stamps. Fay has 623 stamps. 434-623=-189. so Fay
//     has more.", as [World.SkillSteps] calls the calculator);
//   - who is the only one of a job in a town ("the baker from Oakton is
//     Anna."), the facts that the colour-of question's first step recalls;
//   - calculations with a number read from a passage: an invented person's
//     stamps in the news's form, then a together or difference question about
//     them and a world person ("news: Brena has 347 stamps. question: how many
//     stamps do Brena and Ben have together? answer: 347+281=628. they have
//     628 stamps."), the work after a search for someone the model does not
//     know;
//   - refusals about invented names ("question: where does Tovi live?
//     answer: i do not know that person.");
//   - the reading curriculum: a news-like passage about an invented person
//     (or two) and a question answered from it ("news: Kelan moved from
//     Dunford to Vosby. question: where does Kelan live? answer: Kelan lives
//     in Vosby."), so that only reading the passage gives the answer, or
//     about a world person moving or taking a job that no other text states
//     (never the news store's own change), so that the passage overrides
//     memory.
//
// Question lines ask only what the chat data may ask (no held-out person
// pair, and no stamps or multi-hop question about a person held out of
// them; see [World.SkillEvalPrompts]), in every phrasing unless
// [Config.StrictPretrain]. The news store, the new
// people and the names of nobody of the chat data and evaluation never
// appear. Deterministic.
func (w *World) SkillPretrainText(size int) string {
	if size <= 0 {
		size = DefaultSkillPretrainBytes
	}
	rng := w.rng(streamSkillText, 0)
	var b strings.Builder
	b.Grow(size + 512)
	line := func(s string) {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	for _, per := range w.people {
		pro, _ := w.Profile(per.Name)
		line(valsOf(pro).fill(stampForms[0]))
	}
	for _, t := range w.towns {
		line(skillVals{T: t, M: w.ext.price[t]}.fill(priceForms[0]))
	}
	qa := func(q, a string) { line(fillQA(pick(rng, qaForms), q, a)) }
	unique := w.uniquePeople()
	for _, per := range unique {
		line(valsOf(per).fill(whoForms[0]))
	}
	for b.Len() < size {
		switch r := rng.Float64(); {
		case r < 0.10:
			pro, _ := w.Profile(pick(rng, w.people).Name)
			line(valsOf(pro).fill(pick(rng, stampForms)))
		case r < 0.15:
			t := pick(rng, w.towns)
			line(skillVals{T: t, M: w.ext.price[t]}.fill(pick(rng, priceForms)))
		case r < 0.18 && len(unique) > 0:
			line(valsOf(pick(rng, unique)).fill(pick(rng, whoForms)))
		case r < 0.29:
			d := w.factsItem(rng, modeTrain)
			w.textPhrasing(rng, &d)
			qa(d.User(), d.Steps[0].Text)
		case r < 0.42:
			d := w.calcItem(rng, modeTrain)
			w.textPhrasing(rng, &d)
			qa(d.User(), w.TextAnswer(d.Prompt))
		case r < 0.56:
			d := w.multiHopItem(rng, modeTrain, rng.IntN(2) == 0)
			w.textPhrasing(rng, &d)
			qa(d.User(), plainSteps(d.Steps))
		case r < 0.66:
			kind := pick(rng, []string{KindHome, KindCount, KindJob, KindColour, KindStamps})
			v := skillVals{X: invented(rng), P: pick(rng, objects).many}
			qa(v.fill(phrasingsOf(kind)[w.textPhrasingIndex(rng, kind)]), pick(rng, refusals))
		case r < 0.70:
			line(w.readingCalcLine(rng))
		default:
			line(w.readingLine(rng))
		}
	}
	return b.String()
}

// textPhrasingIndex draws a phrasing of kind for the pretraining text: any,
// or with StrictPretrain a training one.
func (w *World) textPhrasingIndex(rng *rand.Rand, kind string) int {
	if w.cfg.StrictPretrain {
		return w.skillTrainPhrasing(rng, kind)
	}
	return rng.IntN(len(phrasingsOf(kind)))
}

// textPhrasing re-asks d's question in a phrasing drawn for the
// pretraining text (the demo generators draw training phrasings only).
func (w *World) textPhrasing(rng *rand.Rand, d *Demo) {
	phr := w.textPhrasingIndex(rng, d.Kind)
	v := skillVals{X: d.Person, Z: d.Other, T: d.Town}
	switch d.Kind {
	case KindCost:
		v.K, _, _ = strings.Cut(d.Expression, "*")
	case KindColourOf:
		per, _ := w.Profile(d.Person)
		v.J = per.Job
	}
	text := v.fill(phrasingsOf(d.Kind)[phr])
	if d.StepByStep {
		text += " " + StepTrigger
	}
	d.Phrasing = phr
	d.Messages = []data.Message{{Role: data.RoleUser, Content: text}}
}

// readingLine is one line of the reading curriculum: the news about an
// invented person, or half the time a move or a new job of a world person
// that the pretraining text does not state (counterfactualNews), a third of the time with
// news about an invented person before or after it (if the line stays under
// maxReadingLine bytes), and a question about the first with its answer.
func (w *World) readingLine(rng *rand.Rand) string {
	it, per := inventedNews(rng)
	if rng.IntN(2) == 0 {
		if known, pro, ok := w.counterfactualNews(rng); ok {
			it, per = known, pro
		}
	}
	kind := it.Kind
	if kind == "" {
		kind = pick(rng, []string{KindHome, KindJob, KindColour, KindStamps})
	}
	p := Prompt{Kind: kind, Person: per.Name, Answer: factOf(per, kind), Skill: SkillReading}
	q := valsOf(per).fill(phrasingsOf(kind)[w.textPhrasingIndex(rng, kind)])
	qa := " question: " + q + " answer: " + w.SkillCanonical(p)
	passage := plainText(it)
	if rng.IntN(3) == 0 {
		other, _ := inventedNews(rng)
		both := passage + " " + plainText(other)
		if rng.IntN(2) == 0 {
			both = plainText(other) + " " + passage
		}
		if len(both)+len(qa) <= maxReadingLine {
			passage = both
		}
	}
	return passage + qa
}

// counterfactualNews is a reading line's news about a world person: a move to another town or
// a new job, so that the answer read from the passage differs from the one the pretraining
// text states. It teaches that a passage in front of a question overrides memory, which the
// news questions need, for every person: when only the people the news store leaves alone had
// such lines, a model with a token per name learned to read the passage for them and to recall
// the stale fact for the news store's people, none of whom ever had a passage in front of a
// question (docs/tinyworld-skills.md). For a person of the news store the new town or job is
// never the news's, so the text says nothing the held-out news holds. ok is false when the
// world has no two towns.
func (w *World) counterfactualNews(rng *rand.Rand) (NewsItem, Profile, bool) {
	if len(w.people) == 0 || len(w.towns) < 3 {
		return NewsItem{}, Profile{}, false
	}
	pro, _ := w.Profile(pick(rng, w.people).Name)
	news := map[string]string{} // the news store's new town or job of this person, by kind
	for _, n := range w.ext.news {
		if n.Person == pro.Name {
			news[n.Kind] = n.New
		}
	}
	other := func(xs []string, old, avoid string) string {
		for {
			if x := pickOther(rng, xs, old); x != avoid {
				return x
			}
		}
	}
	if rng.IntN(2) == 0 {
		old := pro.Town
		pro.Town = other(w.towns, old, news[KindHome])
		v := valsOf(pro)
		v.O = old
		return newsItem(NewsItem{Person: pro.Name, Change: NewsMoved, Kind: KindHome, Old: old, New: pro.Town},
			v.fill(pick(rng, movedForms))), pro, true
	}
	old := pro.Job
	pro.Job = other(jobs, old, news[KindJob])
	v := valsOf(pro)
	v.O = old
	return newsItem(NewsItem{Person: pro.Name, Change: NewsNewJob, Kind: KindJob, Old: old, New: pro.Job},
		v.fill(pick(rng, newJobForms))), pro, true
}

// maxReadingLine is the longest reading line with two people's news (about
// 90 tokens of the recipe's tokenizer, so that a line fits a block).
const maxReadingLine = 180

// atoi converts digits to an int (0 if not a number).
func atoi(s string) int {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0
		}
		n = n*10 + int(r-'0')
	}
	return n
}

// uniquePeople are the world's people who are the only one of their job in their town, in the
// world's order, with their stamps.
func (w *World) uniquePeople() []Profile {
	var out []Profile
	for _, per := range w.people {
		if w.uniqueJobTown(per) {
			pro, _ := w.Profile(per.Name)
			out = append(out, pro)
		}
	}
	return out
}

// readingCalcLine is a line of calculations with a number read from a passage: an invented
// person's stamps as the news store states a new person's (the search tool's result), then a
// together or difference question about them and a world person the news leaves alone, in
// any phrasing the text may use, answered with the expression and its value.
func (w *World) readingCalcLine(rng *rand.Rand) string {
	fresh, p := w.inventedStampsCalc(rng)
	d := Demo{Prompt: p}
	w.textPhrasing(rng, &d)
	return "news: " + valsOf(fresh).fill(newPersonForms[2]) + " question: " + d.User() + " answer: " + w.TextAnswer(d.Prompt)
}

// plainSteps writes an assistant turn as the pretraining text does: its
// text, with a calculation as "623-776=-153." in its place.
func plainSteps(steps []Step) string {
	var parts []string
	for _, s := range steps {
		switch {
		case s.Tool == ToolCalculator:
			parts = append(parts, s.Input+"="+s.Output+".")
		case s.Tool == "":
			parts = append(parts, s.Text)
		}
	}
	return strings.Join(parts, " ")
}
