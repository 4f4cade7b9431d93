package tinyworld

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Answer categories of the new kinds (beyond the lexicon's).
const (
	catYesNo = 100 + iota
)

// answerCat returns the category of the answer to a question kind.
func answerCat(kind string) int {
	switch kind {
	case KindHome:
		return catTown
	case KindJob:
		return catJob
	case KindColour, KindColourOf:
		return catColour
	case KindSameTown:
		return catYesNo
	case KindMore:
		return catName
	}
	return catNumber
}

// skillLexicon is the lexicon plus the names of the news store and of
// nobody, so that the judge sees them as names.
func skillLexicon() lexicon {
	lex := newLexicon()
	for _, ns := range [][]string{newsNames, unknownTrainNames, unknownEvalNames} {
		for _, n := range ns {
			l := strings.ToLower(n)
			lex[l] = entry{catName, l}
		}
	}
	return lex
}

// skillLex is the lexicon of the new skills' judge (the same for every
// world).
var skillLex = skillLexicon()

// isRefusal reports whether the words ws say the reply does not know.
func isRefusal(ws []string) bool { return hasAny(ws, nil, refusalPhrases) }

// conclusionRE finds where a conclusion opens: "so" at the start of the
// reply or of a sentence, or after a comma.
var conclusionRE = regexp.MustCompile(`(?i)(^|[.!?,;:]\s*)so\b`)

// splitConclusion splits a reply into its reasoning and its conclusion,
// the part from the last "so" that opens a sentence or follows a comma;
// ok is false (and the whole reply the conclusion) if there is none.
func splitConclusion(reply string) (reasoning, conclusion string, ok bool) {
	locs := conclusionRE.FindAllStringSubmatchIndex(reply, -1)
	if len(locs) == 0 {
		return "", reply, false
	}
	at := locs[len(locs)-1][3] // end of the separator group: where "so" starts
	return strings.TrimSpace(strings.TrimRight(strings.TrimSpace(reply[:at]), ",;:")), strings.TrimSpace(reply[at:]), true
}

// sentences splits text at . ! ? and newlines.
func sentences(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool { return r == '.' || r == '!' || r == '?' || r == '\n' })
}

// judgeSkill scores a reply to a prompt of the new skills, with the points
// of [World.Judge]:
//
// Correct, for [SkillUnknown]: the reply refuses (it says "do not know",
// "never heard", "no idea", "not sure", ...) and states no fact: no town,
// number, job or colour (Hallucinated is set when it states one). For the
// other skills: the reply's final answer is Prompt.Answer, it does not
// refuse, and no sentence about one known person contradicts their facts
// ("Anna has 348 stamps.") nor a ticket sentence a town's price. The final
// answer is taken from the conclusion (from the last "so" that opens a
// sentence or follows a comma: "... so no, they do not.") or else from the
// last sentence that has a word of the answer's category; it is the last
// such word there (the first, for a name: "Anna has more stamps than
// Ben."). The facts are those of the pretraining text, except for
// [SkillNews] and [SkillSearchCalc], which expect the facts after the news
// ([World.Current]); [SkillReading] checks the answer only. Stale is set
// when the final answer is Prompt.Stale.
//
// Concise: as for the fact questions, with four sentences allowed, and for
// a step-by-step prompt (Prompt.StepByStep) [MaxConciseChars] characters; a
// sentence is also relevant if it holds a word of the question or its
// passages, or yes or no.
func (w *World) judgeSkill(p Prompt, reply string, ended bool) Verdict {
	ws := words(reply)
	v := Verdict{
		Polite:  len(ws) > 0 && !isRude(ws),
		Ended:   ended,
		Refused: isRefusal(ws),
	}
	v.Concise = len(ws) > 0 && w.skillConcise(p, reply)
	reasoning, conclusion, split := splitConclusion(reply)
	if split {
		v.Reasoning = reasoning
	}
	if p.Skill == SkillUnknown {
		v.Hallucinated = statesFact(ws)
		v.Correct = v.Refused && !v.Hallucinated
	} else {
		cat := answerCat(p.Kind)
		if !split {
			conclusion = ""
			for _, s := range slices.Backward(sentences(reply)) {
				if w.answerOf(p, s, cat) != "" {
					conclusion = s
					break
				}
			}
		}
		v.Answer = w.answerOf(p, conclusion, cat)
		want := normValue(p.Answer)
		v.Correct = v.Answer != "" && v.Answer == want && !v.Refused && w.consistent(p, reply)
		v.Stale = p.Stale != "" && v.Answer == normValue(p.Stale)
	}
	if v.Correct {
		v.Score += CorrectPoints
	}
	if v.Polite {
		v.Score += PolitePoints
	}
	if v.Concise {
		v.Score += ConcisePoints
	}
	if !ended {
		v.Score *= UnendedFactor
	}
	return v
}

// normValue normalises an answer: lower case, a count word as digits.
func normValue(s string) string {
	ws := words(s)
	if len(ws) != 1 {
		return strings.Join(ws, " ")
	}
	if e, ok := skillLex.lookup(ws[0]); ok && e.cat == catNumber {
		return e.value
	}
	return ws[0]
}

// answerOf returns the answer of category cat that text gives: the last
// word of that category (the first for a name), normalised; "" if none. A
// word is of the category by the lexicon, or if it is the prompt's answer
// or stale answer (invented towns of the reading passages).
func (w *World) answerOf(p Prompt, text string, cat int) string {
	want, stale := normValue(p.Answer), normValue(p.Stale)
	got := ""
	for _, wd := range words(text) {
		val := ""
		switch e, ok := skillLex.lookup(wd); {
		case cat == catYesNo:
			if wd == "yes" || wd == "no" {
				val = wd
			}
		case ok && e.cat == cat:
			val = e.value
		case wd == want || wd == stale:
			val = wd
		}
		if val == "" {
			continue
		}
		if cat == catName {
			return val
		}
		got = val
	}
	return got
}

// statesFact reports whether the words ws state a fact: a town, a number,
// a job or a colour.
func statesFact(ws []string) bool {
	for _, wd := range ws {
		if e, ok := skillLex.lookup(wd); ok && e.cat != catName && e.cat != catObject {
			return true
		}
	}
	return false
}

// truthFor returns the facts the judge holds a named person to for p: after
// the news for the retrieval skills, the pretraining text's otherwise;
// false for invented people and nobody.
func (w *World) truthFor(p Prompt, name string) (Profile, bool) {
	switch p.Skill {
	case SkillReading, SkillUnknown:
		return Profile{}, false
	case SkillNews, SkillSearchCalc:
		return w.Current(name)
	}
	return w.Profile(name)
}

// consistent reports whether no sentence of reply contradicts the facts:
// a sentence that names exactly one known person may only state that
// person's town, job, colour and numbers (count and stamps); a sentence
// with no person, one town, the word "ticket" and one number states that
// town's price.
func (w *World) consistent(p Prompt, reply string) bool {
	for _, s := range sentences(reply) {
		ws := words(s)
		var who []Profile
		var towns, nums []string
		ticket := false
		for _, wd := range ws {
			if wd == "ticket" {
				ticket = true
			}
			e, ok := skillLex.lookup(wd)
			if !ok {
				continue
			}
			switch e.cat {
			case catName:
				if per, ok := w.truthFor(p, wd); ok && !slices.ContainsFunc(who, func(q Profile) bool { return q.Name == per.Name }) {
					who = append(who, per)
				}
			case catTown:
				towns = append(towns, wd)
			case catNumber:
				nums = append(nums, e.value)
			}
		}
		if len(who) == 1 {
			per := who[0]
			for _, wd := range ws {
				e, ok := skillLex.lookup(wd)
				if !ok {
					continue
				}
				switch {
				case e.cat == catTown && e.value != strings.ToLower(per.Town),
					e.cat == catJob && e.value != per.Job,
					e.cat == catColour && e.value != per.Colour,
					e.cat == catNumber && e.value != strconv.Itoa(per.Count) && e.value != strconv.Itoa(per.Stamps):
					return false
				}
			}
		}
		if len(who) == 0 && ticket && len(towns) == 1 && len(nums) == 1 {
			for t, pr := range w.ext.price {
				if strings.ToLower(t) == towns[0] && strconv.Itoa(pr) != nums[0] {
					return false
				}
			}
		}
	}
	return true
}

// skillConcise is the concision rule of the new skills (see judgeSkill).
func (w *World) skillConcise(p Prompt, reply string) bool {
	if len(reply) > MaxConciseChars {
		return false
	}
	limit := ConciseChars
	if p.StepByStep {
		limit = MaxConciseChars
	}
	// Relevant besides the lexicon: the answers, and the proper names of
	// the question and passages (invented people and towns).
	known := map[string]bool{"yes": true, "no": true}
	for _, wd := range words(p.Answer + " " + p.Stale) {
		known[wd] = true
	}
	texts := slices.Clone(p.Passages)
	for _, m := range p.Messages {
		texts = append(texts, m.Content)
	}
	for _, t := range texts {
		for _, f := range strings.Fields(t) {
			if f[0] >= 'A' && f[0] <= 'Z' {
				for _, wd := range words(f) {
					known[wd] = true
				}
			}
		}
	}
	n, chars := 0, 0
	for _, s := range sentences(reply) {
		ws := words(s)
		if len(ws) == 0 || isRude(ws) {
			continue
		}
		n++
		chars += len(strings.TrimSpace(s)) + 1
		if w.relevant(ws) || slices.ContainsFunc(ws, func(wd string) bool { return known[wd] || isFactWord(wd) }) {
			continue
		}
		return false
	}
	return n <= maxSentences+1 && chars <= limit
}

// isFactWord reports whether wd is a fact word of the skills' lexicon.
func isFactWord(wd string) bool {
	_, ok := skillLex.lookup(wd)
	return ok
}
