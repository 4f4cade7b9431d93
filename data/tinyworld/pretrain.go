package tinyworld

import (
	"math/rand/v2"
	"strings"
)

// PretrainText returns the pretraining corpus, about [Config.PretrainBytes]
// bytes of simple English, one short paragraph per line. It opens with a
// profile of every person in the canonical forms ("Anna lives in Oakton.
// Anna is a baker. Anna has three cats. Anna likes blue.") and who lives in
// each town, then mixes at random: profiles in varied forms and order,
// single facts in many forms, question-and-answer lines in every phrasing
// ("question: where does Anna live? answer: Anna lives in Oakton.", "a
// friend asked: ... i said: ..."), a few of them two exchanges long and
// ending with a thank-you, greetings and small talk, lists of the people of
// a town, and a few everyday sentences (the rambling vocabulary). With
// [Config.StrictPretrain] the question lines skip held-out combinations and
// phrasings. Deterministic.
func (w *World) PretrainText() string {
	rng := w.rng(streamPretrain, 0)
	var b strings.Builder
	b.Grow(w.cfg.PretrainBytes + 256)
	line := func(s string) {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	for _, per := range w.people {
		parts := make([]string, len(factKinds))
		for i, k := range factKinds {
			parts[i] = fill(goodReplies[k][0], factsOf(per))
		}
		line(strings.Join(parts, " "))
	}
	for _, t := range w.towns {
		if l := w.townLine(rng, t); l != "" {
			line(l)
		}
	}
	for b.Len() < w.cfg.PretrainBytes {
		per := pick(rng, w.people)
		switch r := rng.Float64(); {
		case r < 0.10:
			line(w.profile(rng, per))
		case r < 0.40:
			k := pick(rng, factKinds)
			line(fill(pick(rng, factForms[k]), factsOf(per)))
		case r < 0.75:
			q, a, greet := w.qa(rng, per)
			form := pick(rng, qaForms)
			if greet {
				form = qaForms[0]
			}
			line(fillQA(form, q, a))
		case r < 0.83:
			q1, a1, _ := w.qa(rng, per)
			q2 := question(KindThanks, w.pretrainPhrasing(rng, KindThanks), per)
			line("question: " + q1 + " answer: " + a1 + " question: " + q2 + " answer: " + w.core(rng, KindThanks, per, false))
		case r < 0.90:
			line(w.townLine(rng, per.Town))
		case r < 0.97:
			if s := pick(rng, smallTalk); !w.cfg.StrictPretrain || !w.asksHeldSmallTalk(s) {
				line(s)
			}
		default:
			line(pick(rng, rambles) + " " + pick(rng, rambles))
		}
	}
	return b.String()
}

// profile states all of per's facts in random forms and order.
func (w *World) profile(rng *rand.Rand, per Person) string {
	parts := make([]string, len(factKinds))
	for i, k := range factKinds {
		parts[i] = fill(pick(rng, factForms[k]), factsOf(per))
	}
	rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	return strings.Join(parts, " ")
}

// townLine lists the people of town t ("" if nobody lives there, which
// happens when there are fewer people than towns).
func (w *World) townLine(rng *rand.Rand, t string) string {
	var ns []string
	for _, p := range w.people {
		if p.Town == t {
			ns = append(ns, p.Name)
		}
	}
	if len(ns) == 0 {
		return ""
	}
	rng.Shuffle(len(ns), func(i, j int) { ns[i], ns[j] = ns[j], ns[i] })
	list := ns[len(ns)-1]
	if len(ns) > 1 {
		list = strings.Join(ns[:len(ns)-1], listSep) + listAnd + list
	}
	return strings.NewReplacer("{T}", t, "{L}", list).Replace(pick(rng, townForms))
}

// pretrainPhrasing draws a phrasing of kind for the pretraining text: any
// phrasing, or with StrictPretrain any but the held-out one.
func (w *World) pretrainPhrasing(rng *rand.Rand, kind string) int {
	if w.cfg.StrictPretrain {
		return w.trainPhrasing(rng, kind)
	}
	return rng.IntN(len(phrasings[kind]))
}

// qa draws a question about per (or, one time in ten, a greeting, which
// greet reports) and a good answer.
func (w *World) qa(rng *rand.Rand, per Person) (q, a string, greet bool) {
	if rng.IntN(10) == 0 {
		return question(KindGreet, w.pretrainPhrasing(rng, KindGreet), per), w.core(rng, KindGreet, per, false), true
	}
	kinds := factKinds
	if w.cfg.StrictPretrain {
		kinds = trainKinds(per)
	}
	k := pick(rng, kinds)
	q = question(k, w.pretrainPhrasing(rng, k), per)
	if rng.IntN(5) == 0 {
		q = pick(rng, questionPrefixes[1:]) + q
	}
	return q, w.core(rng, k, per, false), false
}

// fillQA fills a question-and-answer form.
func fillQA(form, q, a string) string {
	return strings.NewReplacer("{Q}", q, "{A}", a).Replace(form)
}

// asksHeldSmallTalk reports whether a small-talk line has a friend say the
// held-out greeting or thank-you.
func (w *World) asksHeldSmallTalk(s string) bool {
	for _, k := range []string{KindGreet, KindThanks} {
		if strings.Contains(s, "friend said: "+phrasings[k][w.heldPhr[k]]) {
			return true
		}
	}
	return false
}
