package tinyworld

import (
	"math/rand/v2"
	"slices"
	"strings"
)

// Question kinds ([Prompt.Kind]).
const (
	// KindHome asks where a person lives; the answer is a town.
	KindHome = "home"
	// KindCount asks how many of their object a person has; the answer is a
	// count word ("three").
	KindCount = "count"
	// KindJob asks for a person's job.
	KindJob = "job"
	// KindColour asks for a person's favourite colour.
	KindColour = "colour"
	// KindGreet is a greeting ("hello!"); the right reply greets back.
	KindGreet = "greet"
	// KindThanks thanks the assistant after an answer; the right reply is
	// "you are welcome" or similar.
	KindThanks = "thanks"
)

var (
	factKinds = []string{KindHome, KindCount, KindJob, KindColour}
	allKinds  = []string{KindHome, KindCount, KindJob, KindColour, KindGreet, KindThanks}
)

// FactKinds returns the question kinds about a person: [KindHome],
// [KindCount], [KindJob], [KindColour].
func FactKinds() []string { return slices.Clone(factKinds) }

// Kinds returns all question kinds: the fact kinds, then [KindGreet] and
// [KindThanks].
func Kinds() []string { return slices.Clone(allKinds) }

// Defaults of [Config].
const (
	DefaultPeople        = 24
	DefaultTowns         = 6
	DefaultWrongRate     = 0.12
	DefaultRudeRate      = 0.25
	DefaultRambleRate    = 0.25
	DefaultTwoTurnRate   = 0.15
	DefaultPretrainBytes = 300_000
)

// Config sets up a world. Zero fields take their defaults.
type Config struct {
	// Seed determines the world and every dataset drawn from it.
	Seed uint64
	// People is the number of people, default 24, at most 40 (the number
	// of names); at least 1.
	People int
	// Towns is the number of towns people live in, default 6, between 2
	// and 10.
	Towns int
	// WrongRate, RudeRate and RambleRate are the rates at which an SFT
	// demonstration reply states a wrong fact (for small talk: the wrong
	// kind of reply), is rude, or rambles (one or two irrelevant
	// sentences), drawn independently per reply. Zero means the default
	// (0.12, 0.25, 0.25); a negative rate means 0.
	WrongRate, RudeRate, RambleRate float64
	// TwoTurnRate is the share of SFT conversations with two user turns
	// (a greeting first, a thank-you after, or a second question); zero
	// means the default 0.15, negative means 0. Every tenth conversation
	// is small talk on its own regardless.
	TwoTurnRate float64
	// PretrainBytes is the approximate size of [World.PretrainText]
	// (default 300000). The text always contains at least one profile of
	// every person, however small the size.
	PretrainBytes int
	// StrictPretrain keeps the held-out combinations and phrasings out of
	// the question-and-answer lines of the pretraining text too; the facts
	// themselves are still stated there. By default the pretraining text
	// asks every question in every phrasing, as it only teaches what the
	// model knows and the question forms, not the chat format.
	StrictPretrain bool
}

// Person is one person of the world and their facts.
type Person struct {
	Name string
	// Town is where they live.
	Town string
	// Count is how many of Object they have, 1 to 9.
	Count int
	// Object is the plural noun of what they have ("cats").
	Object string
	// Job is their job ("baker").
	Job string
	// Colour is their favourite colour.
	Colour string

	obj      object
	heldKind string
}

// Fact returns the answer to a fact question of the given kind about p: the
// town, the count word, the job or the colour; "" for other kinds.
func (p Person) Fact(kind string) string {
	switch kind {
	case KindHome:
		return p.Town
	case KindCount:
		return countWords[p.Count]
	case KindJob:
		return p.Job
	case KindColour:
		return p.Colour
	}
	return ""
}

// World is a generated world. It is immutable after [New] and safe for
// concurrent use.
type World struct {
	cfg      Config
	people   []Person
	byName   map[string]int // lower-case name → index
	towns    []string
	heldPhr  map[string]int
	alphabet string
	lex      lexicon
	ext      *ext // the new skills' facts and news (skills.go)
}

// Random stream tags, one per dataset, so that the datasets are independent
// and each is a prefix-stable function of its index.
const (
	streamWorld uint64 = 0x7701 + iota
	streamPretrain
	streamSFT
	streamRL
	streamEval
	streamPref
)

// New builds the world of cfg (see [Config] for the defaults).
func New(cfg Config) *World {
	cfg = withDefaults(cfg)
	w := &World{cfg: cfg, byName: make(map[string]int), heldPhr: make(map[string]int)}
	rng := w.rng(streamWorld, 0)

	ns := slices.Clone(names)
	rng.Shuffle(len(ns), func(i, j int) { ns[i], ns[j] = ns[j], ns[i] })
	ts := slices.Clone(towns)
	rng.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
	w.towns = ts[:cfg.Towns]

	for i := range cfg.People {
		o := objects[rng.IntN(len(objects))]
		p := Person{
			Name:   ns[i],
			Town:   w.towns[i%len(w.towns)], // every town has people
			Count:  1 + rng.IntN(9),
			Object: o.many,
			Job:    jobs[rng.IntN(len(jobs))],
			Colour: colours[rng.IntN(len(colours))],
			obj:    o,
		}
		w.people = append(w.people, p)
	}
	// Shuffle the towns over people (the round-robin above only guarantees
	// that every town is used).
	rng.Shuffle(len(w.people), func(i, j int) { w.people[i].Town, w.people[j].Town = w.people[j].Town, w.people[i].Town })
	// Hold out one fact kind per person, balanced over the kinds.
	perm := rng.Perm(len(w.people))
	off := rng.IntN(len(factKinds))
	for j, i := range perm {
		w.people[i].heldKind = factKinds[(j+off)%len(factKinds)]
	}
	for i, p := range w.people {
		w.byName[strings.ToLower(p.Name)] = i
	}
	for _, k := range allKinds {
		w.heldPhr[k] = rng.IntN(len(phrasings[k]))
	}
	w.alphabet = computeAlphabet()
	w.lex = newLexicon()
	w.ext = newExt(w)
	return w
}

// withDefaults fills in and clamps the fields of cfg.
func withDefaults(cfg Config) Config {
	if cfg.People == 0 {
		cfg.People = DefaultPeople
	}
	cfg.People = min(max(cfg.People, 1), len(names))
	if cfg.Towns == 0 {
		cfg.Towns = DefaultTowns
	}
	cfg.Towns = min(max(cfg.Towns, 2), len(towns))
	rate := func(r *float64, def float64) {
		switch {
		case *r == 0:
			*r = def
		case *r < 0:
			*r = 0
		case *r > 1:
			*r = 1
		}
	}
	rate(&cfg.WrongRate, DefaultWrongRate)
	rate(&cfg.RudeRate, DefaultRudeRate)
	rate(&cfg.RambleRate, DefaultRambleRate)
	rate(&cfg.TwoTurnRate, DefaultTwoTurnRate)
	if cfg.PretrainBytes <= 0 {
		cfg.PretrainBytes = DefaultPretrainBytes
	}
	return cfg
}

// rng returns the random generator of item i of a stream.
func (w *World) rng(stream uint64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(w.cfg.Seed^(stream*0x9e3779b97f4a7c15), uint64(i)))
}

// Config returns the world's configuration with the defaults filled in.
func (w *World) Config() Config { return w.cfg }

// People returns the people of the world (a copy), in the world's order.
func (w *World) People() []Person { return slices.Clone(w.people) }

// Towns returns the towns people live in (a copy).
func (w *World) Towns() []string { return slices.Clone(w.towns) }

// Person returns the person with the given name (case-insensitive).
func (w *World) Person(name string) (Person, bool) {
	i, ok := w.byName[strings.ToLower(name)]
	if !ok {
		return Person{}, false
	}
	return w.people[i], true
}

// HeldKind returns the fact kind held out of all chat data for the named
// person ("" for an unknown name).
func (w *World) HeldKind(name string) string {
	p, ok := w.Person(name)
	if !ok {
		return ""
	}
	return p.heldKind
}

// HeldPhrasing returns the index of the phrasing of kind held out of all
// chat data (-1 for an unknown kind).
func (w *World) HeldPhrasing(kind string) int {
	i, ok := w.heldPhr[kind]
	if !ok {
		return -1
	}
	return i
}

// Phrasings returns the number of phrasings of a question kind.
func Phrasings(kind string) int { return len(phrasings[kind]) }

// IsHeldOut reports whether a prompt of this kind, person and phrasing is
// held out of the chat data: its phrasing is the kind's held-out phrasing,
// or it asks the person's held-out fact kind.
func (w *World) IsHeldOut(kind, person string, phrasing int) bool {
	if phrasing == w.HeldPhrasing(kind) {
		return true
	}
	return slices.Contains(factKinds, kind) && w.HeldKind(person) == kind
}

// Alphabet returns every character the original datasets can contain (the
// pretraining text, every message, candidate and canonical reply), sorted
// by code point. It is the same for every seed. The new skills' texts also
// hold digits and arithmetic; see [World.SkillsAlphabet].
func (w *World) Alphabet() string { return w.alphabet }

// computeAlphabet collects the characters of every table the texts are
// built from, without the template placeholders, plus the newline.
func computeAlphabet() string {
	var all []string
	all = append(all, names...)
	all = append(all, towns...)
	all = append(all, jobs...)
	all = append(all, colours...)
	all = append(all, countWords...)
	for _, o := range objects {
		all = append(all, o.one, o.many)
	}
	for _, m := range []map[string][]string{phrasings, goodReplies, factForms} {
		for _, v := range m {
			all = append(all, v...)
		}
	}
	all = append(all, questionPrefixes...)
	all = append(all, factRudePrefixes...)
	all = append(all, rudePrefixes...)
	all = append(all, rudeSuffixes...)
	all = append(all, rambles...)
	all = append(all, qaForms...)
	all = append(all, smallTalk...)
	all = append(all, townForms...)
	all = append(all, idk, dismissive, listSep, listAnd, "\n ")
	seen := make(map[rune]bool)
	for _, s := range all {
		for _, r := range stripPlaceholders(s) {
			seen[r] = true
		}
	}
	rs := make([]rune, 0, len(seen))
	for r := range seen {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	return string(rs)
}

// placeholders are the template slots.
var placeholders = []string{"{X}", "{T}", "{N}", "{Y}", "{P}", "{J}", "{C}", "{Q}", "{A}", "{L}"}

// stripPlaceholders removes the template slots from s.
func stripPlaceholders(s string) string {
	for _, p := range placeholders {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}
