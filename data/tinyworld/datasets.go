package tinyworld

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"

	"github.com/tinychat-go/tinychat/data"
)

// Prompt is a question with what the judge needs to score a reply.
type Prompt struct {
	// Messages is the conversation so far; it ends with the user turn to
	// answer (a [KindThanks] prompt has a question and its answer before
	// the thank-you).
	Messages []data.Message
	// Kind is the question kind, one of [Kinds].
	Kind string
	// Person is the name of the person asked about; for [KindThanks] the
	// person of the question answered before; "" for [KindGreet].
	Person string
	// Answer is the correct fact ("Oakton", "three", "baker", "blue"), or
	// for small talk the gist of the right reply ("hello", "you are
	// welcome").
	Answer string
	// Phrasing is the index of the phrasing of Kind the last user turn
	// uses.
	Phrasing int

	// The fields below are set by the new skills' datasets only (see
	// skills.go); they are zero for the fact and small-talk prompts.

	// Skill is how the prompt is to be answered, one of [Skills]; "" for
	// the original kinds.
	Skill string
	// Other is the second person of a two-person question, or the world
	// person of a search-then-calculate question.
	Other string
	// Town is the town a question names (a ticket's destination, the town
	// of "the singer from Oakton").
	Town string
	// Expression is the calculator expression whose value is Answer
	// ("347+215").
	Expression string
	// Stale is the closed-book answer of a [SkillNews] question about a
	// moved person or one with a new job: the fact the pretraining text
	// states ("" for a new person, whom a closed-book model does not know).
	Stale string
	// Passages are the passages that hold the answer: the news item for
	// [SkillNews] and [SkillSearchCalc], the reading passage for
	// [SkillReading]. A retrieval-augmented prompt puts them (or what a
	// retriever finds) in front of the question.
	Passages []string
	// Reasoning holds the sentences of the step-by-step answer before its
	// conclusion ([SkillMultiHop]).
	Reasoning []string
	// StepByStep is set when the last user turn ends with [StepTrigger]:
	// the expected reply reasons step by step.
	StepByStep bool
}

// User returns the text of the last user turn.
func (p Prompt) User() string {
	if len(p.Messages) == 0 {
		return ""
	}
	return p.Messages[len(p.Messages)-1].Content
}

// prompt builds a prompt of kind about per with phrasing phr, the question
// prefix pre (fact kinds only) and the messages before, ctx.
func (w *World) prompt(kind string, per Person, phr int, pre string, ctx []data.Message) Prompt {
	text := question(kind, phr, per)
	p := Prompt{Kind: kind, Person: per.Name, Answer: per.Fact(kind), Phrasing: phr}
	switch kind {
	case KindGreet:
		p.Person, p.Answer = "", "hello"
	case KindThanks:
		p.Answer = "you are welcome"
	default:
		text = pre + text
	}
	p.Messages = append(slices.Clone(ctx), data.Message{Role: data.RoleUser, Content: text})
	return p
}

// trainPhrasing draws a phrasing of kind that is not held out.
func (w *World) trainPhrasing(rng *rand.Rand, kind string) int {
	n := len(phrasings[kind])
	i := rng.IntN(n - 1)
	if i >= w.heldPhr[kind] {
		i++
	}
	return i
}

// trainKinds returns the fact kinds per may be asked about in chat data.
func trainKinds(per Person) []string {
	ks := make([]string, 0, len(factKinds)-1)
	for _, k := range factKinds {
		if k != per.heldKind {
			ks = append(ks, k)
		}
	}
	return ks
}

// prefix draws a question prefix: none half of the time.
func prefix(rng *rand.Rand) string {
	if rng.IntN(2) == 0 {
		return ""
	}
	return pick(rng, questionPrefixes[1:])
}

// trainQuestion draws a training prompt (not held out) about per, of one
// of kinds, after ctx.
func (w *World) trainQuestion(rng *rand.Rand, per Person, kinds []string, ctx []data.Message) Prompt {
	kind := pick(rng, kinds)
	return w.prompt(kind, per, w.trainPhrasing(rng, kind), prefix(rng), ctx)
}

// turn is one assistant turn of an SFT conversation, with the prompt it
// answers and the flaws it was drawn with.
type turn struct {
	prompt Prompt
	q      quality
	reply  string
}

// flaws draws the imperfections of one demonstration reply.
func (w *World) flaws(rng *rand.Rand) quality {
	return quality{
		wrong:  rng.Float64() < w.cfg.WrongRate,
		rude:   rng.Float64() < w.cfg.RudeRate,
		ramble: rng.Float64() < w.cfg.RambleRate,
	}
}

// isSmallTalkSlot reports whether item i of a dataset is small talk on its
// own (every tenth); the others cycle through the people in order.
func isSmallTalkSlot(i int) bool { return i%10 == 9 }

// personSlot returns the person of the non-small-talk item i.
func (w *World) personSlot(i int) Person {
	c := i - (i+1)/10
	return w.people[c%len(w.people)]
}

// sft builds SFT conversation i with its assistant turns.
func (w *World) sft(i int) (data.Conversation, []turn) {
	rng := w.rng(streamSFT, i)
	var msgs []data.Message
	var turns []turn
	answer := func(p Prompt) {
		q := w.flaws(rng)
		per, _ := w.Person(p.Person)
		r := w.reply(rng, p.Kind, per, q)
		turns = append(turns, turn{prompt: p, q: q, reply: r})
		msgs = append(p.Messages, data.Message{Role: data.RoleAssistant, Content: r})
	}
	greet := func() {
		answer(w.prompt(KindGreet, Person{}, w.trainPhrasing(rng, KindGreet), "", msgs))
	}
	thanks := func(per Person) {
		answer(w.prompt(KindThanks, per, w.trainPhrasing(rng, KindThanks), "", msgs))
	}
	switch {
	case isSmallTalkSlot(i) && (i/10)%2 == 0:
		greet()
	case isSmallTalkSlot(i):
		per := pick(rng, w.people)
		answer(w.trainQuestion(rng, per, trainKinds(per), nil))
		thanks(per)
	default:
		per := w.personSlot(i)
		kinds := trainKinds(per)
		if rng.Float64() >= w.cfg.TwoTurnRate {
			answer(w.trainQuestion(rng, per, kinds, nil))
			break
		}
		switch rng.IntN(3) {
		case 0:
			greet()
			answer(w.trainQuestion(rng, per, kinds, msgs))
		case 1:
			answer(w.trainQuestion(rng, per, kinds, nil))
			thanks(per)
		default:
			first := w.trainQuestion(rng, per, kinds, nil)
			answer(first)
			rest := slices.DeleteFunc(slices.Clone(kinds), func(k string) bool { return k == first.Kind })
			answer(w.trainQuestion(rng, per, rest, msgs))
		}
	}
	return data.Conversation{Source: fmt.Sprintf("tinyworld:sft:%d", i), Messages: msgs}, turns
}

// SFTConversations returns n demonstration dialogues, Source
// "tinyworld:sft:i". Every tenth is small talk (a greeting, or a question
// followed by a thank-you); the others ask about the people in turn (so
// every person appears once n ≥ 1.2 × people), a share [Config.TwoTurnRate]
// with a second user turn. Every assistant reply is independently wrong,
// rude and rambling at the configured rates. No held-out combination or
// phrasing appears. Conversation i is the same for every n ≥ i+1.
func (w *World) SFTConversations(n int) []data.Conversation {
	out := make([]data.Conversation, n)
	for i := range out {
		out[i], _ = w.sft(i)
	}
	return out
}

// trainPrompt builds training prompt i of a stream: small talk every tenth,
// otherwise a question about the people in turn (one in ten after a
// greeting exchange).
func (w *World) trainPrompt(stream uint64, i int) Prompt {
	rng := w.rng(stream, i)
	switch {
	case isSmallTalkSlot(i) && (i/10)%2 == 0:
		return w.prompt(KindGreet, Person{}, w.trainPhrasing(rng, KindGreet), "", nil)
	case isSmallTalkSlot(i):
		per := pick(rng, w.people)
		q := w.trainQuestion(rng, per, trainKinds(per), nil)
		ctx := append(q.Messages, data.Message{Role: data.RoleAssistant, Content: w.core(rng, q.Kind, per, false)})
		return w.prompt(KindThanks, per, w.trainPhrasing(rng, KindThanks), "", ctx)
	}
	per := w.personSlot(i)
	var ctx []data.Message
	if rng.IntN(10) == 0 {
		ctx = []data.Message{
			{Role: data.RoleUser, Content: question(KindGreet, w.trainPhrasing(rng, KindGreet), per)},
			{Role: data.RoleAssistant, Content: w.core(rng, KindGreet, per, false)},
		}
	}
	return w.trainQuestion(rng, per, trainKinds(per), ctx)
}

// RLPrompts returns n prompts for RL (training combinations and phrasings
// only): every tenth is small talk, the others ask about the people in turn
// (every person appears once n ≥ 1.2 × people). Prompt i is the same for
// every n ≥ i+1.
func (w *World) RLPrompts(n int) []Prompt {
	out := make([]Prompt, n)
	for i := range out {
		out[i] = w.trainPrompt(streamRL, i)
	}
	return out
}

// evalItem is a held-out (kind, person, phrasing) triple.
type evalItem struct {
	kind   string
	person int
	phr    int
}

// evalItems returns the held-out triples in a seeded order: for every
// person, their held-out kind in every phrasing and the other fact kinds in
// the held-out phrasing; then the held-out greeting and thank-you.
func (w *World) evalItems() []evalItem {
	var items []evalItem
	for i, per := range w.people {
		for _, k := range factKinds {
			if k == per.heldKind {
				for phr := range phrasings[k] {
					items = append(items, evalItem{k, i, phr})
				}
			} else {
				items = append(items, evalItem{k, i, w.heldPhr[k]})
			}
		}
	}
	items = append(items, evalItem{KindGreet, -1, w.heldPhr[KindGreet]}, evalItem{KindThanks, -1, w.heldPhr[KindThanks]})
	rng := w.rng(streamEval, 0)
	rng.Shuffle(len(items), func(a, b int) { items[a], items[b] = items[b], items[a] })
	return items
}

// EvalPrompts returns n held-out prompts: each asks a person's held-out
// fact kind, or uses a kind's held-out phrasing, so that neither its last
// user turn nor any earlier one occurs in the chat training data. There are
// about 9 distinct held-out questions per person (about 220 for 24
// people); the first round gives each once without a prefix, later rounds
// repeat them with question prefixes ("hi! ", "excuse me, ", ...), which
// gives about 1300 distinct prompts before exact repeats. A thank-you prompt
// follows a held-out question and its canonical answer. Deterministic;
// prompt i is the same for every n ≥ i+1.
func (w *World) EvalPrompts(n int) []Prompt {
	items := w.evalItems()
	out := make([]Prompt, n)
	for k := range out {
		j, r := k%len(items), k/len(items)
		it := items[j]
		pre := ""
		if r > 0 {
			pre = questionPrefixes[1+(r-1+j)%(len(questionPrefixes)-1)]
		}
		switch it.kind {
		case KindGreet:
			out[k] = w.prompt(KindGreet, Person{}, it.phr, "", nil)
		case KindThanks:
			per := w.people[(j+r)%len(w.people)]
			q := w.prompt(per.heldKind, per, r%len(phrasings[per.heldKind]), pre, nil)
			ctx := append(q.Messages, data.Message{Role: data.RoleAssistant, Content: w.Canonical(q)})
			out[k] = w.prompt(KindThanks, per, it.phr, "", ctx)
		default:
			out[k] = w.prompt(it.kind, w.people[it.person], it.phr, pre, nil)
		}
	}
	return out
}

// Candidates returns templated replies to p of varied quality for
// preference data, distinct and sorted best first by [World.Judge] score
// (ties keep this order): correct+polite+concise, correct+rude,
// correct+rambling, correct+rude+rambling, wrong+polite (+concise),
// wrong+rude, wrong+rambling, wrong+rude+rambling, "i do not know." and
// "whatever.". For small talk "wrong" is the other small-talk reply. rng
// picks the templates and wrong values; nil means a generator seeded by the
// world's seed and the prompt's text. Pass
// only training prompts ([World.RLPrompts]) to keep preference data free of
// held-out prompts.
func (w *World) Candidates(p Prompt, rng *rand.Rand) []string {
	if rng == nil {
		h := fnv.New64a()
		for _, m := range p.Messages {
			h.Write([]byte(m.Content))
		}
		rng = w.rng(streamPref, int(h.Sum64()>>1))
	}
	per, ok := w.Person(p.Person)
	var out []string
	if ok || p.Kind == KindGreet || p.Kind == KindThanks {
		for _, wrong := range []bool{false, true} {
			for _, q := range []quality{{}, {rude: true}, {ramble: true}, {rude: true, ramble: true}} {
				q.wrong = wrong
				out = append(out, w.reply(rng, p.Kind, per, q))
			}
		}
	}
	out = append(out, idk, dismissive)
	seen := make(map[string]bool)
	out = slices.DeleteFunc(out, func(s string) bool {
		dup := seen[s]
		seen[s] = true
		return dup
	})
	score := make(map[string]float64, len(out))
	for _, s := range out {
		score[s] = w.Judge(p, s, true).Score
	}
	slices.SortStableFunc(out, func(a, b string) int { return cmp.Compare(score[b], score[a]) })
	return out
}

// Preferences returns n K-wise rankings for reward modelling or DPO, Source
// "tinyworld:pref:i": training prompts drawn like [World.RLPrompts] (from
// an independent stream) with one [World.Candidates] reply per distinct
// judge score, best first, so that no two responses of a ranking tie. K is
// 4 to 6 (scores 100, 80, 60, 40, 20, 0).
func (w *World) Preferences(n int) []data.Ranking {
	out := make([]data.Ranking, n)
	for i := range out {
		p := w.trainPrompt(streamPref, i)
		rng := w.rng(streamPref, 1<<30+i)
		cands := w.Candidates(p, rng)
		var resp []string
		for len(cands) > 0 {
			s := w.Judge(p, cands[0], true).Score
			end := 1
			for end < len(cands) && w.Judge(p, cands[end], true).Score == s {
				end++
			}
			resp = append(resp, cands[rng.IntN(end)])
			cands = cands[end:]
		}
		out[i] = data.Ranking{Source: fmt.Sprintf("tinyworld:pref:%d", i), Prompt: p.Messages, Responses: resp}
	}
	return out
}
