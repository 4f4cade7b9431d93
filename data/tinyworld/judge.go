package tinyworld

import (
	"strconv"
	"strings"
	"unicode"
)

// Judge rubric constants.
const (
	// CorrectPoints, PolitePoints and ConcisePoints add up to a score of
	// 100. Correctness outweighs the rest together, so every correct
	// reply outscores every incorrect one.
	CorrectPoints = 60
	PolitePoints  = 20
	ConcisePoints = 20
	// UnendedFactor scales the score of a reply that did not end with
	// <|end|> (at most 10).
	UnendedFactor = 0.1
	// ConciseChars is the most characters the relevant (non-rude)
	// sentences of a concise reply may have in total.
	ConciseChars = 64
	// MaxConciseChars is the most characters a concise reply may have in
	// all, rude parts included.
	MaxConciseChars = 100
	// maxSentences is the most relevant sentences of a concise reply.
	maxSentences = 3
	// shortSentence is the longest sentence (in letters and digits) that
	// counts as relevant without a fact or polite word ("of course!").
	shortSentence = 12
)

// Verdict is the judge's assessment of one reply.
type Verdict struct {
	// Score is 0 to 100 (see [World.Judge]).
	Score float64
	// Correct: the reply gives the right fact and no conflicting one (for
	// small talk: the right kind of reply).
	Correct bool
	// Polite: the reply is not empty and has no rude marker.
	Polite bool
	// Concise: the reply is not empty, short and has no irrelevant
	// sentence.
	Concise bool
	// Ended: the reply was closed with <|end|>.
	Ended bool

	// Refused: the reply says it does not know ("i do not know that
	// person.", "i do not know."), for every kind of prompt: on a question
	// about a known person this is a false refusal.
	Refused bool
	// The fields below are set for the new skills' prompts only
	// (Prompt.Skill not empty; see skills_judge.go).

	// Hallucinated: a [SkillUnknown] reply states a fact (a town, number,
	// job or colour) about a person who does not exist.
	Hallucinated bool
	// Stale: the reply's answer is the closed-book fact Prompt.Stale.
	Stale bool
	// Answer is the final answer parsed from the reply, normalised (a
	// lower-case town, name, job or colour, a number in digits, "yes" or
	// "no"); "" if none.
	Answer string
	// Reasoning is the text of a step-by-step reply before its
	// conclusion (the last part opening with "so"); "" if none.
	Reasoning string
}

// Judge scores reply, the text the model wrote before <|end|>, as an answer
// to p; ended says whether the model closed it with <|end|> (see
// data.ParseReply). Matching is on whole words, case-insensitive, and
// ignores punctuation. The score is
//
//	60 if Correct + 20 if Polite + 20 if Concise,  times 0.1 unless ended
//
// so the canonical reply ([World.Canonical]) scores 100, a correct but rude
// or rambling one 80, rude and rambling 60, a wrong but polite and concise
// one 40, and a reply without <|end|> at most 10.
//
// Prompts of the new skills (Prompt.Skill not empty) get the same points
// by these rules; a turn with tool calls is judged on the text it wrote,
// calls and results left out ([Demo.Reply]). [SkillUnknown]: correct if the reply refuses ("do not
// know", "never heard", "no idea", "not sure", ...) and states no town,
// number, job or colour (else Hallucinated, if it states one). The others:
// the final answer (Verdict.Answer) is read from the conclusion, the part
// from the last "so" that opens a sentence or follows a comma ("... so no,
// they do not."), or else from the last sentence with a word of the
// answer's category (its last such word; its first, for a name); correct if
// it is Prompt.Answer, the reply does not refuse, and no sentence about one
// known person contradicts their facts (those after the news for
// [SkillNews] and [SkillSearchCalc]; [SkillReading] checks the answer only)
// nor a ticket sentence a town's price. Stale: the answer is Prompt.Stale.
// Concise as below, with four sentences allowed, [MaxConciseChars]
// characters for a step-by-step prompt, and also relevant: a sentence with
// yes, no, the answer or a proper name of the question or its passages.
// Refused is set for every prompt: on a known person it is a false refusal.
//
// Correct, for a fact question: the reply names the answer (the town, the
// count as a word or digits, the job or the colour) and states nothing that
// contradicts the person's facts: no other town, number, job, colour or
// object, and no other person's name. "Anna lives in Oakton, not Riverby."
// is not correct. For a greeting: the reply greets (hello, hi, hey, good
// morning, nice to meet ...) and does not say "you are welcome"; for a
// thank-you: it says welcome, glad, pleasure, anytime or no problem and does
// not greet.
//
// Polite: not empty, and no rude word (ugh, obviously, whatever, duh,
// stupid, dumb, annoying) or phrase (go away, stop asking, as if, leave me
// alone, do not bother, everyone knows).
//
// Concise: not empty and at most [MaxConciseChars] characters; of its
// sentences (split at . ! ? and newlines), those without a rude marker (the
// rudeness is already counted) are at most three, at most [ConciseChars]
// characters together, and each is relevant: it has a fact word (a name,
// town, number, object, job or colour), a polite word (hello, sure, help,
// welcome, ...) or at most 12 letters ("of course!").
func (w *World) Judge(p Prompt, reply string, ended bool) Verdict {
	if p.Skill != "" {
		return w.judgeSkill(p, reply, ended)
	}
	ws := words(reply)
	v := Verdict{
		Correct: w.correct(p, ws),
		Polite:  len(ws) > 0 && !isRude(ws),
		Concise: len(ws) > 0 && w.concise(reply),
		Ended:   ended,
		Refused: isRefusal(ws),
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

// Word categories of the lexicon.
const (
	catName = iota
	catTown
	catNumber
	catObject
	catJob
	catColour
)

// entry is a fact word: its category and its canonical value (lower-case
// name or town, count in digits, object plural, job, colour).
type entry struct {
	cat   int
	value string
}

// lexicon maps every fact word of the tables (all of them, not only the
// world's) to its entry.
type lexicon map[string]entry

// newLexicon builds the lexicon.
func newLexicon() lexicon {
	lex := make(lexicon)
	for _, n := range names {
		lex[strings.ToLower(n)] = entry{catName, strings.ToLower(n)}
	}
	for _, t := range towns {
		lex[strings.ToLower(t)] = entry{catTown, strings.ToLower(t)}
	}
	for i, c := range countWords {
		lex[c] = entry{catNumber, strconv.Itoa(i)}
	}
	for _, o := range objects {
		lex[o.one] = entry{catObject, o.many}
		lex[o.many] = entry{catObject, o.many}
	}
	for _, j := range jobs {
		lex[j] = entry{catJob, j}
	}
	for _, c := range colours {
		lex[c] = entry{catColour, c}
	}
	return lex
}

// lookup returns the entry of a normalised word; numbers in digits are
// numbers.
func (lex lexicon) lookup(word string) (entry, bool) {
	if e, ok := lex[word]; ok {
		return e, true
	}
	if n, err := strconv.Atoi(word); err == nil {
		return entry{catNumber, strconv.Itoa(n)}, true
	}
	return entry{}, false
}

// kindCat is the lexicon category of a fact kind's answer.
var kindCat = map[string]int{KindHome: catTown, KindCount: catNumber, KindJob: catJob, KindColour: catColour}

// correct reports whether the words ws of a reply answer p correctly.
func (w *World) correct(p Prompt, ws []string) bool {
	switch p.Kind {
	case KindGreet:
		return hasAny(ws, greetWords, greetPhrases) && !hasAny(ws, thanksWords, thanksPhrases)
	case KindThanks:
		return hasAny(ws, thanksWords, thanksPhrases) && !hasAny(ws, greetWords, greetPhrases)
	}
	cat, ok := kindCat[p.Kind]
	if !ok {
		return false
	}
	per, ok := w.Person(p.Person)
	if !ok {
		// Unknown person: only the answer can be checked.
		ans := words(p.Answer)
		return len(ans) > 0 && hasAny(ws, nil, []string{strings.Join(ans, " ")})
	}
	truth := map[int]string{
		catName:   strings.ToLower(per.Name),
		catTown:   strings.ToLower(per.Town),
		catNumber: strconv.Itoa(per.Count),
		catObject: per.Object,
		catJob:    per.Job,
		catColour: per.Colour,
	}
	answered := false
	for _, wd := range ws {
		e, ok := w.lex.lookup(wd)
		if !ok {
			continue
		}
		if e.value != truth[e.cat] {
			return false
		}
		if e.cat == cat {
			answered = true
		}
	}
	return answered
}

// isRude reports whether the words ws hold a rude marker.
func isRude(ws []string) bool { return hasAny(ws, rudeWords, rudePhrases) }

// concise reports whether reply is concise (see [World.Judge]).
func (w *World) concise(reply string) bool {
	if len(reply) > MaxConciseChars {
		return false
	}
	sentences := strings.FieldsFunc(reply, func(r rune) bool {
		return r == '.' || r == '!' || r == '?' || r == '\n'
	})
	n, chars := 0, 0
	for _, s := range sentences {
		ws := words(s)
		if len(ws) == 0 || isRude(ws) {
			continue
		}
		n++
		chars += len(strings.TrimSpace(s)) + 1
		if !w.relevant(ws) {
			return false
		}
	}
	return n <= maxSentences && chars <= ConciseChars
}

// relevant reports whether a sentence (its words ws) belongs in a concise
// reply: it has a fact or polite word or is very short.
func (w *World) relevant(ws []string) bool {
	letters := 0
	for _, wd := range ws {
		if _, ok := w.lex.lookup(wd); ok {
			return true
		}
		letters += len(wd)
	}
	return letters <= shortSentence || hasAny(ws, politeWords, nil)
}

// words normalises s to its lower-case words: maximal runs of letters and
// digits (so "Anna's" gives "anna", "s").
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// hasAny reports whether ws contains one of the words or, as consecutive
// words, one of the phrases.
func hasAny(ws []string, single []string, phrases []string) bool {
	for _, wd := range ws {
		for _, s := range single {
			if wd == s {
				return true
			}
		}
	}
	if len(phrases) == 0 {
		return false
	}
	joined := " " + strings.Join(ws, " ") + " "
	for _, p := range phrases {
		if strings.Contains(joined, " "+p+" ") {
			return true
		}
	}
	return false
}
