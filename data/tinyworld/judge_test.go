package tinyworld

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// judgePrompts returns a mix of training and held-out prompts of every kind.
func judgePrompts(w *World) []Prompt {
	return append(w.RLPrompts(300), w.EvalPrompts(300)...)
}

func TestJudgeCanonicalAndTemplates(t *testing.T) {
	w := New(Config{Seed: 1})
	for _, p := range judgePrompts(w) {
		c := w.Canonical(p)
		v := w.Judge(p, c, true)
		require.Equal(t, Verdict{Score: 100, Correct: true, Polite: true, Concise: true, Ended: true}, v, "%q → %q", p.User(), c)
		assert.LessOrEqual(t, len(c), 60)

		// Every good template is perfect too, whatever the person.
		per, _ := w.Person(p.Person)
		for _, tmpl := range goodReplies[p.Kind] {
			r := fill(tmpl, factsOf(per))
			assert.Equal(t, 100.0, w.Judge(p, r, true).Score, r)
			assert.LessOrEqual(t, len(r), 60, r)
		}

		nv := w.Judge(p, c, false)
		assert.LessOrEqual(t, nv.Score, 10.0)
		assert.False(t, nv.Ended)
		assert.True(t, nv.Correct)
	}
}

func TestJudgeOrdering(t *testing.T) {
	w := New(Config{Seed: 2})
	rng := rand.New(rand.NewPCG(3, 4))
	for _, p := range judgePrompts(w) {
		per, _ := w.Person(p.Person)
		good := w.Judge(p, w.reply(rng, p.Kind, per, quality{}), true)
		wrong := w.Judge(p, w.reply(rng, p.Kind, per, quality{wrong: true}), true)
		rude := w.Judge(p, w.reply(rng, p.Kind, per, quality{rude: true}), true)
		rambling := w.Judge(p, w.reply(rng, p.Kind, per, quality{ramble: true}), true)
		both := w.Judge(p, w.reply(rng, p.Kind, per, quality{rude: true, ramble: true}), true)

		assert.Equal(t, 100.0, good.Score)
		assert.Less(t, wrong.Score, 50.0)
		assert.False(t, wrong.Correct)
		assert.True(t, wrong.Polite)
		assert.True(t, wrong.Concise, "wrong but polite and concise")
		assert.Less(t, rude.Score, good.Score)
		assert.True(t, rude.Correct)
		assert.False(t, rude.Polite)
		assert.Less(t, rambling.Score, good.Score)
		assert.True(t, rambling.Correct)
		assert.False(t, rambling.Concise)
		assert.Less(t, both.Score, rude.Score)
		assert.Greater(t, both.Score, wrong.Score, "every correct reply beats every wrong one")

		assert.Equal(t, 40.0, w.Judge(p, idk, true).Score)
		assert.Equal(t, 20.0, w.Judge(p, dismissive, true).Score)
		assert.Zero(t, w.Judge(p, "", true).Score)
		assert.Zero(t, w.Judge(p, "   ", true).Score)
	}
}

func TestJudgeFacts(t *testing.T) {
	w := New(Config{Seed: 5})
	per := w.People()[0]
	other := w.People()[1]
	otherTown := pickOther(rand.New(rand.NewPCG(1, 1)), w.Towns(), per.Town)
	ask := func(kind string) Prompt {
		return w.prompt(kind, per, 0, "", nil)
	}
	home, count, job, colour := ask(KindHome), ask(KindCount), ask(KindJob), ask(KindColour)
	n := countWords[per.Count]
	wrongN := countWords[per.Count%9+1]
	otherJob := pickOther(rand.New(rand.NewPCG(2, 2)), jobs, per.Job)
	otherColour := pickOther(rand.New(rand.NewPCG(3, 3)), colours, per.Colour)
	var otherObj string
	for _, o := range objects {
		if o.many != per.Object {
			otherObj = o.many
			break
		}
	}

	cases := []struct {
		p       Prompt
		reply   string
		correct bool
	}{
		{home, per.Name + " lives in " + per.Town + ".", true},
		{home, strings.ToUpper(per.Name + " LIVES IN " + per.Town), true},
		{home, "  " + strings.ToLower(per.Town) + "!!! ", true},
		{home, "in " + per.Town + ", i think...", true},
		{home, per.Name + " lives in " + otherTown + ".", false},
		{home, per.Name + " lives in " + per.Town + ", not " + otherTown + ".", false},
		{home, per.Name + " lives in " + per.Town + " or " + otherTown + ".", false},
		{home, other.Name + " lives in " + per.Town + ".", false},
		{home, per.Name + " lives somewhere.", false},
		{home, per.Name + " lives in " + per.Town + " and is a " + per.Job + ".", true},
		{home, per.Name + " lives in " + per.Town + " and is a " + otherJob + ".", false},
		{count, per.Name + " has " + n + " " + per.Object + ".", true},
		{count, per.Name + " has " + strconv.Itoa(per.Count) + " " + per.Object + ".", true},
		{count, per.Name + " has " + wrongN + " " + per.Object + ".", false},
		{count, per.Name + " has " + n + " or " + wrongN + " " + per.Object + ".", false},
		{count, per.Name + " has " + n + " " + otherObj + ".", false},
		{count, per.Name + " has 12 " + per.Object + ".", false},
		{job, per.Name + " is a " + per.Job + ".", true},
		{job, per.Name + " is a " + otherJob + ".", false},
		{job, per.Name + " is a " + per.Job + " and a " + otherJob + ".", false},
		{colour, per.Name + "'s favourite colour is " + per.Colour + ".", true},
		{colour, per.Name + " likes " + otherColour + ".", false},
		{colour, per.Name + " likes " + per.Colour + " and " + otherColour + ".", false},
	}
	for _, c := range cases {
		v := w.Judge(c.p, c.reply, true)
		assert.Equal(t, c.correct, v.Correct, "%s: %q", c.p.Kind, c.reply)
		if !c.correct {
			assert.Less(t, v.Score, 50.0, c.reply)
		}
	}

	// An unknown person: only the answer is checked.
	p := Prompt{Kind: KindHome, Person: "Nobody", Answer: "Oakton"}
	assert.True(t, w.Judge(p, "oakton.", true).Correct)
	assert.False(t, w.Judge(p, "riverby.", true).Correct)
	// An unknown kind is never correct.
	assert.False(t, w.Judge(Prompt{Kind: "weather"}, "sunny.", true).Correct)
}

func TestJudgeSmallTalk(t *testing.T) {
	w := New(Config{Seed: 6})
	greet := w.prompt(KindGreet, Person{}, 0, "", nil)
	thanks := w.RLPrompts(20)[19]
	require.Equal(t, KindThanks, thanks.Kind)
	cases := []struct {
		p       Prompt
		reply   string
		correct bool
	}{
		{greet, "hello!", true},
		{greet, "Hi there. How can I help?", true},
		{greet, "good morning! what would you like to know?", true},
		{greet, "you are welcome!", false},
		{greet, "hello, you are welcome.", false},
		{greet, "the weather is nice today.", false},
		{thanks, "you are welcome!", true},
		{thanks, "No problem!", true},
		{thanks, "glad i could help.", true},
		{thanks, "hello! how can i help you?", false},
		{thanks, "ok.", false},
	}
	for _, c := range cases {
		assert.Equal(t, c.correct, w.Judge(c.p, c.reply, true).Correct, "%s: %q", c.p.Kind, c.reply)
	}
}

func TestJudgePoliteConcise(t *testing.T) {
	w := New(Config{Seed: 7})
	per := w.People()[0]
	p := w.prompt(KindHome, per, 0, "", nil)
	fact := per.Name + " lives in " + per.Town + "."
	cases := []struct {
		reply           string
		polite, concise bool
	}{
		{fact, true, true},
		{"sure! " + fact, true, true},
		{"of course! " + fact + " hope that helps.", true, true},
		{"Ugh, obviously " + fact, false, true},
		{"WHATEVER. " + fact, false, true},
		{fact + " Now go away!", false, true},
		{fact + " the weather is nice today.", true, false},
		{"the weather is nice today. " + fact, true, false},
		{"Ugh. " + fact + " the bus was late again.", false, false},
		{fact + " my cousin builds tiny boxes for fun.", true, false},
		{fact + " " + fact + " " + fact + " " + fact, true, false},
		{strings.Repeat("ugh ", 30) + fact, false, false},
	}
	for _, c := range cases {
		v := w.Judge(p, c.reply, true)
		assert.Equal(t, c.polite, v.Polite, "polite %q", c.reply)
		assert.Equal(t, c.concise, v.Concise, "concise %q", c.reply)
		assert.True(t, v.Correct, c.reply)
	}
}

func TestCandidates(t *testing.T) {
	w := New(Config{Seed: 8})
	rng := rand.New(rand.NewPCG(9, 9))
	for _, p := range judgePrompts(w) {
		cs := w.Candidates(p, rng)
		require.GreaterOrEqual(t, len(cs), 8)
		seen := make(map[string]bool)
		prev := 101.0
		var haveWrongPolite, haveRude, haveRamble bool
		for _, c := range cs {
			require.NotEmpty(t, c)
			require.False(t, seen[c], "duplicate candidate %q", c)
			seen[c] = true
			v := w.Judge(p, c, true)
			require.LessOrEqual(t, v.Score, prev, "candidates sorted best first")
			prev = v.Score
			if !v.Correct && v.Polite && v.Concise && c != idk {
				haveWrongPolite = true
			}
			if v.Correct && !v.Polite && v.Concise {
				haveRude = true
			}
			if v.Correct && v.Polite && !v.Concise {
				haveRamble = true
			}
		}
		assert.Equal(t, 100.0, w.Judge(p, cs[0], true).Score)
		assert.True(t, haveWrongPolite, "a wrong but polite candidate")
		assert.True(t, haveRude, "a correct but rude candidate")
		assert.True(t, haveRamble, "a correct but rambling candidate")
	}
	// An unknown person gets only the generic candidates.
	cs := w.Candidates(Prompt{Kind: KindHome, Person: "Nobody", Answer: "Oakton"}, nil)
	assert.ElementsMatch(t, []string{idk, dismissive}, cs)
}
