package tinyworld

import (
	"math/rand/v2"
	"strings"
)

// Separators of name lists in the pretraining text.
const (
	listSep = ", "
	listAnd = " and "
)

// facts are the values a template is filled with; a reply with a wrong fact
// is the person's facts with one value replaced.
type facts struct {
	name, town, job, colour string
	count                   int
	obj                     object
}

// factsOf returns p's true facts.
func factsOf(p Person) facts {
	return facts{name: p.Name, town: p.Town, job: p.Job, colour: p.Colour, count: p.Count, obj: p.obj}
}

// fill replaces the placeholders of tmpl with f.
func fill(tmpl string, f facts) string {
	return fillPlaceholders(tmpl, func(letter byte) (string, bool) {
		switch letter {
		case 'X':
			return f.name, true
		case 'T':
			return f.town, true
		case 'N':
			if f.count >= 0 && f.count < len(countWords) {
				return countWords[f.count], true
			}
			return "", true
		case 'Y':
			if f.count == 1 {
				return f.obj.one, true
			}
			return f.obj.many, true
		case 'P':
			return f.obj.many, true
		case 'J':
			return f.job, true
		case 'C':
			return f.colour, true
		}
		return "", false
	})
}

// fillPlaceholders returns tmpl with every placeholder "{L}" (one letter in braces) for which
// value(L) says ok replaced by its value, left to right, the values not scanned again — what
// strings.NewReplacer over those placeholders gives, without building a replacer for each
// text (the world fills millions of templates; a replacer per call was most of the memory
// its generation allocated).
func fillPlaceholders(tmpl string, value func(letter byte) (string, bool)) string {
	if strings.IndexByte(tmpl, '{') < 0 {
		return tmpl
	}
	var b strings.Builder
	b.Grow(len(tmpl) + 16)
	for i := 0; i < len(tmpl); {
		if tmpl[i] == '{' && i+2 < len(tmpl) && tmpl[i+2] == '}' {
			if v, ok := value(tmpl[i+1]); ok {
				b.WriteString(v)
				i += 3
				continue
			}
		}
		b.WriteByte(tmpl[i])
		i++
	}
	return b.String()
}

// question returns the text of phrasing i of kind about p (for small talk
// p is ignored).
func question(kind string, i int, p Person) string {
	return fill(phrasings[kind][i], factsOf(p))
}

// pick returns a random element of xs.
func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// pickOther returns a random element of xs other than not (xs must hold
// another value).
func pickOther(rng *rand.Rand, xs []string, not string) string {
	for {
		if x := pick(rng, xs); x != not {
			return x
		}
	}
}

// wrongFacts returns p's facts with the value asked by kind replaced by a
// different one of the same sort.
func (w *World) wrongFacts(rng *rand.Rand, p Person, kind string) facts {
	f := factsOf(p)
	switch kind {
	case KindHome:
		f.town = pickOther(rng, w.towns, p.Town)
	case KindCount:
		c := 1 + rng.IntN(8)
		if c >= p.Count {
			c++
		}
		f.count = c
	case KindJob:
		f.job = pickOther(rng, jobs, p.Job)
	case KindColour:
		f.colour = pickOther(rng, colours, p.Colour)
	}
	return f
}

// quality says how a reply is to be flawed.
type quality struct{ wrong, rude, ramble bool }

// core returns the plain reply of kind about p: correct and polite and
// concise, or with a wrong fact (for small talk: the other small-talk reply).
func (w *World) core(rng *rand.Rand, kind string, p Person, wrong bool) string {
	switch kind {
	case KindGreet, KindThanks:
		k := kind
		if wrong {
			k = KindThanks
			if kind == KindThanks {
				k = KindGreet
			}
		}
		return pick(rng, goodReplies[k])
	}
	f := factsOf(p)
	if wrong {
		f = w.wrongFacts(rng, p, kind)
	}
	return fill(pick(rng, goodReplies[kind]), f)
}

// reply returns a reply of kind about p with the given flaws. Rudeness is
// applied to the core reply first and rambling around it, so that the
// rambling sentences never carry a rude marker.
func (w *World) reply(rng *rand.Rand, kind string, p Person, q quality) string {
	s := w.core(rng, kind, p, q.wrong)
	if q.rude {
		s = rudify(rng, kind, s)
	}
	if q.ramble {
		s = ramble(rng, s, !q.rude)
	}
	return s
}

// rudify makes s rude with an opening or a closing.
func rudify(rng *rand.Rand, kind string, s string) string {
	if rng.IntN(2) == 0 {
		s = strings.TrimPrefix(s, "sure! ") // not "ugh. sure! ..."
		prefixes := rudePrefixes
		if kind != KindGreet && kind != KindThanks {
			prefixes = append(append([]string(nil), factRudePrefixes...), rudePrefixes...)
		}
		return pick(rng, prefixes) + s
	}
	return s + pick(rng, rudeSuffixes)
}

// ramble adds an irrelevant sentence, mostly after s; if two is set, a
// quarter of the time two of them.
func ramble(rng *rand.Rand, s string, two bool) string {
	a := pick(rng, rambles)
	extra := a
	if two && rng.IntN(4) == 0 {
		b := pick(rng, rambles)
		if b != a {
			extra += " " + b
		}
	}
	if rng.IntN(10) < 7 {
		return s + " " + extra
	}
	return extra + " " + s
}

// Canonical returns the canonical correct, polite and concise reply to p
// (the first good template): "Anna lives in Oakton.", "hello! how can i
// help you?". It scores 100 with [World.Judge].
func (w *World) Canonical(p Prompt) string {
	switch p.Kind {
	case KindGreet, KindThanks:
		return goodReplies[p.Kind][0]
	}
	per, ok := w.Person(p.Person)
	if !ok {
		return idk
	}
	return fill(goodReplies[p.Kind][0], factsOf(per))
}
