package tinyworld

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/tinychat-go/tinychat/data"
)

// Skills ([Prompt.Skill]) of the world's extension, each answered a
// different way. The fact and small-talk prompts of the original world have
// Skill "".
const (
	// SkillFacts: closed-book questions about the new quantities
	// ([KindStamps], [KindPrice]), answered from memory.
	SkillFacts = "facts"
	// SkillCalc: calculations over known quantities ([KindTogether],
	// [KindDifference], [KindCost]), answered with the calculator.
	SkillCalc = "calc"
	// SkillUnknown: a fact question about a person who does not exist;
	// the correct reply is a refusal that states no fact.
	SkillUnknown = "unknown"
	// SkillNews: a fact question whose current answer is only in the news
	// store (a person who moved or changed job, or a new person), answered
	// from a passage; closed-book, the answer is stale (or a refusal, for a
	// new person).
	SkillNews = "news"
	// SkillSearchCalc: a calculation with a new person's stamps, which are
	// only in the news store: search, then calculate.
	SkillSearchCalc = "search-calc"
	// SkillMultiHop: questions that combine two facts ([KindSameTown],
	// [KindMore], [KindColourOf], [KindTicketHome]), answered directly or,
	// after [StepTrigger], step by step.
	SkillMultiHop = "multihop"
	// SkillReading: a question about an invented person answered from a
	// passage in front of it (the reading curriculum).
	SkillReading = "reading"
)

// Skills returns the skills in a fixed order.
func Skills() []string {
	return []string{SkillFacts, SkillCalc, SkillUnknown, SkillNews, SkillSearchCalc, SkillMultiHop, SkillReading}
}

// Question kinds of the new skills ([Prompt.Kind]). [SkillUnknown],
// [SkillNews] and [SkillReading] ask the fact kinds ([KindHome],
// [KindCount], [KindJob], [KindColour]) and [KindStamps].
const (
	// KindStamps asks how many stamps a person has (digits, "347").
	KindStamps = "stamps"
	// KindPrice asks what a ticket to a town costs ("28", in coins).
	KindPrice = "price"
	// KindTogether asks how many stamps two people have together.
	KindTogether = "together"
	// KindDifference asks how many more stamps one person has than another.
	KindDifference = "difference"
	// KindCost asks what some tickets to a town cost.
	KindCost = "cost"
	// KindSameTown asks whether two people live in the same town ("yes" or
	// "no").
	KindSameTown = "same-town"
	// KindMore asks who of two people has more stamps (a name).
	KindMore = "more"
	// KindColourOf asks the favourite colour of the person with a job in a
	// town ("the singer from Oakton").
	KindColourOf = "colour-of"
	// KindTicketHome asks what a ticket to a person's town costs.
	KindTicketHome = "ticket-home"
)

// Tools named in demonstration steps ([Step.Tool]).
const (
	// ToolCalculator evaluates an arithmetic expression ("347+215" →
	// "562"); the name of the tools package's calculator.
	ToolCalculator = "calc"
	// ToolSearch searches the news store with a query ("Otto stamps") and
	// returns the best passage; the name of the tools package's search.
	ToolSearch = "search"
)

// Quantity ranges of the extension.
const (
	// MinStamps and MaxStamps bound the stamps a person has.
	MinStamps, MaxStamps = 100, 999
	// MinPrice and MaxPrice bound a ticket's price in coins.
	MinPrice, MaxPrice = 11, 99
	// MaxTickets is the most tickets a cost question asks about (at least
	// 2).
	MaxTickets = 9
)

// Kinds of news ([NewsItem.Change]).
const (
	NewsMoved     = "moved"
	NewsNewJob    = "new-job"
	NewsNewPerson = "new-person"
)

// Step is one piece of an assistant turn: text the assistant writes, or a
// tool call with its result. The chat format decides how a call and its
// result are rendered; the model writes Tool and Input, the runtime
// supplies Output.
type Step struct {
	// Text is what the assistant writes ("" for a call).
	Text string
	// Tool is the tool called, [ToolCalculator] or [ToolSearch]; "" for
	// text.
	Tool string
	// Input is the call's argument: an expression ("347+215") or a
	// search query (a name and what is wanted: "Otto stamps").
	Input string
	// Output is the tool's result: the calculator's value ("562") or the
	// passage a perfect retriever returns first (a search with one result).
	Output string
	// Thought is the reasoning before a call, for ReAct traces ("i need
	// Otto's stamps.", "Otto has 187 stamps, Anna has 347. i add them.");
	// it is neither part of the reply nor of [Demo.Chat].
	Thought string
}

// Demo is a demonstration: a prompt and the assistant turn that answers
// it, as steps.
type Demo struct {
	Prompt
	Steps []Step
}

// Chat returns d as a conversation in the chat format of package data:
// the prompt's messages, with its passages as a context turn
// (data.ContextMessage) before the last user turn if withPassages is set
// and the skill does not search for them ([SkillSearchCalc]), then the
// steps as assistant text, tool calls ("calc 347+215", data.RoleToolCall)
// and their results (data.RoleToolResult).
func (d Demo) Chat(withPassages bool) []data.Message {
	msgs := slices.Clone(d.Prompt.Messages)
	searched := d.Skill == SkillSearchCalc || slices.ContainsFunc(d.Steps, func(s Step) bool { return s.Tool == ToolSearch })
	if withPassages && len(d.Passages) > 0 && !searched && len(msgs) > 0 {
		msgs = slices.Insert(msgs, len(msgs)-1, data.ContextMessage(d.Passages...))
	}
	for _, s := range d.Steps {
		if s.Tool == "" {
			msgs = append(msgs, data.Message{Role: data.RoleAssistant, Content: s.Text})
			continue
		}
		msgs = append(msgs,
			data.Message{Role: data.RoleToolCall, Content: s.Tool + " " + s.Input},
			data.Message{Role: data.RoleToolResult, Content: s.Output})
	}
	return msgs
}

// Reply returns the text the assistant writes in d, tool calls and results
// left out: what [World.Judge] scores.
func (d Demo) Reply() string {
	var parts []string
	for _, s := range d.Steps {
		if s.Tool == "" && s.Text != "" {
			parts = append(parts, s.Text)
		}
	}
	return strings.Join(parts, " ")
}

// NewsItem is one document of the news store, written after the
// pretraining text.
type NewsItem struct {
	// Person is who the news is about.
	Person string
	// Change is [NewsMoved], [NewsNewJob] or [NewsNewPerson].
	Change string
	// Kind is the fact kind whose answer changed: [KindHome] for a move,
	// [KindJob] for a new job, "" for a new person (every fact is new).
	Kind string
	// Old and New are the fact before and after (Old is "" for a new
	// person, New their town).
	Old, New string
	// Text is the document (under 100 bytes): its passages joined by
	// spaces.
	Text string
	// Passages are the document split into passages of one sentence
	// (under 50 bytes): one for a move or a new job, three for a new person
	// (their town; their job and colour; their stamps).
	Passages []string
	// Held marks the items held out of all chat data (their questions are
	// in [World.SkillEvalPrompts] only).
	Held bool
}

// Profile is a person's facts including the extension's quantities.
type Profile struct {
	Person
	// Stamps is how many stamps they have ([MinStamps] to [MaxStamps]).
	Stamps int
}

// ext is the world's extension, drawn from its own random stream so that
// the original world and datasets stay as they were.
type ext struct {
	stamps   []int          // per person, in the world's order
	price    map[string]int // town → ticket price
	heldPair map[[2]int]bool
	heldPhr  map[string]int // new kind → held-out phrasing
	costOff  int            // cost questions (town i, k tickets) are held out when (i+k+costOff)%4 == 0
	news     []NewsItem
	current  map[string]Profile // lower-case name → facts after the news
	newPeop  []Profile          // the new people, in news order
}

// Random streams of the extension.
const (
	streamExt uint64 = 0x7801 + iota
	streamSkillText
	streamSkillDemo
	streamSkillRL
	streamSkillEval
	streamSkillPref
	streamDrill
	streamSkillRLInvented
	streamSkillRLInventedNews
)

// newExt draws the extension of w.
func newExt(w *World) *ext {
	rng := w.rng(streamExt, 0)
	e := &ext{price: make(map[string]int), heldPair: make(map[[2]int]bool), heldPhr: make(map[string]int),
		current: make(map[string]Profile)}
	used := make(map[int]bool)
	for range w.people {
		s := MinStamps + rng.IntN(MaxStamps-MinStamps+1)
		for used[s] { // distinct, so that "who has more" always has an answer
			s = MinStamps + rng.IntN(MaxStamps-MinStamps+1)
		}
		used[s] = true
		e.stamps = append(e.stamps, s)
	}
	for _, t := range w.towns {
		e.price[t] = MinPrice + rng.IntN(MaxPrice-MinPrice+1)
	}
	n := len(w.people)
	for i := range n {
		for j := i + 1; j < n; j++ {
			if rng.IntN(4) == 0 {
				e.heldPair[[2]int{i, j}] = true
			}
		}
	}
	e.costOff = rng.IntN(4)
	for _, k := range skillKinds {
		e.heldPhr[k] = rng.IntN(len(skillPhrasings[k]))
	}
	for i, p := range w.people {
		e.current[strings.ToLower(p.Name)] = Profile{Person: p, Stamps: e.stamps[i]}
	}
	// The news: a sixth of the people moved, a sixth changed job (at
	// least one each), and new people; every other item is held out.
	perm := rng.Perm(n)
	k := max(1, n/6)
	if n < 2 {
		k = 0
	}
	var moved, changed []NewsItem
	for _, i := range perm[:k] {
		p := w.people[i]
		to := pickOther(rng, w.towns, p.Town)
		cur := e.current[strings.ToLower(p.Name)]
		cur.Town = to
		e.current[strings.ToLower(p.Name)] = cur
		f := skillVals{X: p.Name, O: p.Town, T: to}
		moved = append(moved, newsItem(NewsItem{Person: p.Name, Change: NewsMoved, Kind: KindHome, Old: p.Town, New: to},
			f.fill(pick(rng, movedForms))))
	}
	for _, i := range perm[k : 2*k] {
		p := w.people[i]
		to := pickOther(rng, jobs, p.Job)
		cur := e.current[strings.ToLower(p.Name)]
		cur.Job = to
		e.current[strings.ToLower(p.Name)] = cur
		f := skillVals{X: p.Name, O: p.Job, J: to}
		changed = append(changed, newsItem(NewsItem{Person: p.Name, Change: NewsNewJob, Kind: KindJob, Old: p.Job, New: to},
			f.fill(pick(rng, newJobForms))))
	}
	var fresh []NewsItem
	nn := slices.Clone(newsNames)
	rng.Shuffle(len(nn), func(a, b int) { nn[a], nn[b] = nn[b], nn[a] })
	for _, name := range nn[:min(len(nn), max(2, n/4))] {
		s := MinStamps + rng.IntN(MaxStamps-MinStamps+1)
		for used[s] {
			s = MinStamps + rng.IntN(MaxStamps-MinStamps+1)
		}
		used[s] = true
		o := objects[rng.IntN(len(objects))]
		p := Profile{Person: Person{Name: name, Town: pick(rng, w.towns), Count: 1 + rng.IntN(9), Object: o.many,
			Job: pick(rng, jobs), Colour: pick(rng, colours), obj: o}, Stamps: s}
		e.current[strings.ToLower(name)] = p
		e.newPeop = append(e.newPeop, p)
		f := valsOf(p)
		var ps []string
		for _, form := range newPersonForms {
			ps = append(ps, f.fill(form))
		}
		fresh = append(fresh, newsItem(NewsItem{Person: name, Change: NewsNewPerson, New: p.Town}, ps...))
	}
	for _, group := range [][]NewsItem{moved, changed, fresh} {
		for i := range group {
			group[i].Held = i%2 == 1
		}
		e.news = append(e.news, group...)
	}
	rng.Shuffle(len(e.news), func(a, b int) { e.news[a], e.news[b] = e.news[b], e.news[a] })
	return e
}

// newsItem returns n with its passages (the sentences) and text.
func newsItem(n NewsItem, sentences ...string) NewsItem {
	n.Passages = sentences
	n.Text = strings.Join(n.Passages, " ")
	return n
}

// plainText is how the pretraining text writes the passages of n (in the
// reading curriculum): each after "news: ", as a chat's context turn holds
// them after its role token.
func plainText(n NewsItem) string { return "news: " + strings.Join(n.Passages, " news: ") }

// passageFor returns the passage of n that answers a question of kind.
func (n NewsItem) passageFor(kind string) string {
	if len(n.Passages) == len(newPersonForms) {
		switch kind {
		case KindJob, KindColour:
			return n.Passages[1]
		case KindStamps:
			return n.Passages[2]
		}
	}
	return n.Passages[0]
}

// skillKinds are the new question kinds with phrasings.
var skillKinds = []string{KindStamps, KindPrice, KindTogether, KindDifference, KindCost,
	KindSameTown, KindMore, KindColourOf, KindTicketHome}

// Stamps returns how many stamps the named person has in the pretraining
// text (world people only).
func (w *World) Stamps(name string) (int, bool) {
	i, ok := w.byName[strings.ToLower(name)]
	if !ok {
		return 0, false
	}
	return w.ext.stamps[i], true
}

// TicketPrice returns what a ticket to the town costs, in coins (0 and
// false for a town not in the world).
func (w *World) TicketPrice(town string) (int, bool) {
	p, ok := w.ext.price[town]
	return p, ok
}

// Profile returns the named world person's facts as the pretraining text
// states them.
func (w *World) Profile(name string) (Profile, bool) {
	i, ok := w.byName[strings.ToLower(name)]
	if !ok {
		return Profile{}, false
	}
	return Profile{Person: w.people[i], Stamps: w.ext.stamps[i]}, true
}

// Current returns the named person's facts after the news: a world
// person's (moved or with a new job if the news says so) or a new person's.
func (w *World) Current(name string) (Profile, bool) {
	p, ok := w.ext.current[strings.ToLower(name)]
	return p, ok
}

// News returns the news store (a copy), in a seeded order. With the
// default 24 people: 4 moves, 4 job changes, 6 new people; half of each
// kind held out ([NewsItem.Held]).
func (w *World) News() []NewsItem { return slices.Clone(w.ext.news) }

// NewsPassages returns the passages of every news item, in news order:
// what a retriever indexes.
func (w *World) NewsPassages() []string {
	var out []string
	for _, n := range w.ext.news {
		out = append(out, n.Passages...)
	}
	return out
}

// newsAbout returns the news item about the named person.
func (w *World) newsAbout(name string) (NewsItem, bool) {
	for _, n := range w.ext.news {
		if strings.EqualFold(n.Person, name) {
			return n, true
		}
	}
	return NewsItem{}, false
}

// IsHeldPair reports whether questions about the two named world people
// together (calculation and multi-hop) are held out of all chat data.
func (w *World) IsHeldPair(a, b string) bool {
	i, ok1 := w.byName[strings.ToLower(a)]
	j, ok2 := w.byName[strings.ToLower(b)]
	if !ok1 || !ok2 {
		return false
	}
	return w.ext.heldPair[[2]int{min(i, j), max(i, j)}]
}

// UnknownNames returns the names of nobody: those used in the chat data's
// refusal demonstrations and, separately, those kept for evaluation only.
func UnknownNames() (train, eval []string) {
	return slices.Clone(unknownTrainNames), slices.Clone(unknownEvalNames)
}

// skillVals are the values a skill template is filled with.
type skillVals struct {
	X, Z, T, U, J, C, O, W, K, Y, P string
	N, S, M, R                      int
	E, A                            string
}

// valsOf returns the values of p's facts.
func valsOf(p Profile) skillVals {
	f := factsOf(p.Person)
	noun := f.obj.many
	if f.count == 1 {
		noun = f.obj.one
	}
	return skillVals{X: p.Name, T: p.Town, J: p.Job, C: p.Colour, N: p.Count, S: p.Stamps, Y: noun, P: p.Object}
}

// fill replaces the placeholders of tmpl.
func (v skillVals) fill(tmpl string) string {
	return fillPlaceholders(tmpl, func(letter byte) (string, bool) {
		switch letter {
		case 'X':
			return v.X, true
		case 'Z':
			return v.Z, true
		case 'T':
			return v.T, true
		case 'U':
			return v.U, true
		case 'J':
			return v.J, true
		case 'C':
			return v.C, true
		case 'O':
			return v.O, true
		case 'W':
			return v.W, true
		case 'K':
			return v.K, true
		case 'Y':
			return v.Y, true
		case 'P':
			return v.P, true
		case 'N':
			if v.N >= 0 && v.N < len(countWords) {
				return countWords[v.N], true
			}
			return "", true
		case 'S':
			return strconv.Itoa(v.S), true
		case 'M':
			return strconv.Itoa(v.M), true
		case 'R':
			return strconv.Itoa(v.R), true
		case 'E':
			return v.E, true
		case 'A':
			return v.A, true
		}
		return "", false
	})
}

// phrasingsOf returns the phrasings of any question kind.
func phrasingsOf(kind string) []string {
	if p, ok := skillPhrasings[kind]; ok {
		return p
	}
	return phrasings[kind]
}

// heldPhrasing returns the held-out phrasing of any question kind.
func (w *World) heldPhrasing(kind string) int {
	if i, ok := w.ext.heldPhr[kind]; ok {
		return i
	}
	return w.HeldPhrasing(kind)
}

// skillTrainPhrasing draws a phrasing of kind that is not held out.
func (w *World) skillTrainPhrasing(rng *rand.Rand, kind string) int {
	n := len(phrasingsOf(kind))
	i := rng.IntN(n - 1)
	if i >= w.heldPhrasing(kind) {
		i++
	}
	return i
}

// baseLex is the lexicon of the tables, for checks that need no world.
var baseLex = newLexicon()

// invented draws an invented name, never a name or word of any table.
func invented(rng *rand.Rand) string {
	for {
		s := strings.ToUpper(pick(rng, inventOnsets)) + pick(rng, inventVowels) + pick(rng, inventOnsets) + pick(rng, inventVowels)
		if rng.IntN(2) == 0 {
			s += pick(rng, inventFinals)
		}
		if !isTableName(s) {
			return s
		}
	}
}

// inventedTown draws an invented town name.
func inventedTown(rng *rand.Rand) string {
	for {
		s := strings.ToUpper(pick(rng, inventOnsets)) + pick(rng, inventVowels) + pick(rng, inventFinals) + pick(rng, inventSuffix)
		if !slices.Contains(towns, s) {
			return s
		}
	}
}

// isTableName reports whether s is a name, town or word of any table
// (case-insensitive), which an invented name must not be.
func isTableName(s string) bool {
	l := strings.ToLower(s)
	for _, ns := range [][]string{names, newsNames, unknownTrainNames, unknownEvalNames, towns} {
		for _, n := range ns {
			if strings.ToLower(n) == l {
				return true
			}
		}
	}
	_, ok := baseLex[l]
	return ok
}

// String describes a step for logs and tests.
func (s Step) String() string {
	if s.Tool == "" {
		return s.Text
	}
	return fmt.Sprintf("[%s %s → %s]", s.Tool, s.Input, s.Output)
}
