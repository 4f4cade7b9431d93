package tinyworld

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/tinychat-go/tinychat/data"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// judgeCase is a hand-made reply and what the judge must say about it.
type judgeCase struct {
	p       Prompt
	reply   string
	correct bool
	answer  string // the parsed final answer ("-" to skip the check)
}

func runJudgeCases(t *testing.T, w *World, cases []judgeCase) {
	t.Helper()
	for _, c := range cases {
		v := w.Judge(c.p, c.reply, true)
		assert.Equal(t, c.correct, v.Correct, "%s/%s: %q (%+v)", c.p.Skill, c.p.Kind, c.reply, v)
		if c.answer != "-" {
			assert.Equal(t, c.answer, v.Answer, "%s/%s: %q", c.p.Skill, c.p.Kind, c.reply)
		}
		if !c.correct {
			assert.Less(t, v.Score, 50.0, c.reply)
		}
	}
}

func TestJudgeUnknownAndRefusals(t *testing.T) {
	w := New(Config{Seed: 5})
	per := w.People()[0]
	town := w.Towns()[0]
	nobody := Prompt{Skill: SkillUnknown, Kind: KindHome, Person: "Adam", Messages: userTurn("where does Adam live?")}
	cases := []struct {
		reply                    string
		correct, refused, halluc bool
	}{
		{"i do not know that person.", true, true, false},
		{"sorry, i do not know anyone by that name.", true, true, false},
		{"I don't know who that is.", true, true, false},
		{"i have never heard of Adam.", true, true, false},
		{"Adam lives in " + town + ".", false, false, true},
		{"i do not know, maybe " + town + ".", false, true, true},
		{"i do not know. Adam has 3 cats.", false, true, true},
		{"Adam is a " + per.Job + ".", false, false, true},
		{"Adam is very nice.", false, false, false},
		{"", false, false, false},
	}
	for _, c := range cases {
		v := w.Judge(nobody, c.reply, true)
		assert.Equal(t, c.correct, v.Correct, c.reply)
		assert.Equal(t, c.refused, v.Refused, c.reply)
		assert.Equal(t, c.halluc, v.Hallucinated, c.reply)
	}
	assert.Equal(t, 100.0, w.Judge(nobody, "i do not know that person.", true).Score)
	assert.Equal(t, 80.0, w.Judge(nobody, "ugh, i do not know that person.", true).Score)

	// A refusal about a known person is a false refusal, for the
	// original fact questions too.
	fact := w.prompt(KindHome, per, 0, "", nil)
	for _, r := range []string{"i do not know.", "i do not know that person.", "no idea, sorry."} {
		v := w.Judge(fact, r, true)
		assert.True(t, v.Refused, r)
		assert.False(t, v.Correct, r)
	}
	assert.False(t, w.Judge(fact, w.Canonical(fact), true).Refused)
	assert.False(t, w.Judge(fact, w.Canonical(fact)+" as if you did not know.", true).Refused, "not a refusal")
	stamps := w.SkillEvalPrompts(SkillFacts, 1)[0]
	v := w.Judge(stamps, "i do not know that person.", true)
	assert.True(t, v.Refused)
	assert.False(t, v.Correct)
}

// userTurn is a one-turn conversation.
func userTurn(s string) []data.Message { return []data.Message{{Role: data.RoleUser, Content: s}} }

// newRNG is a fixed generator for drawing other values.
func newRNG() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

func TestJudgeCalc(t *testing.T) {
	w := New(Config{Seed: 5})
	a, _ := w.Profile(w.People()[0].Name)
	b, _ := w.Profile(w.People()[1].Name)
	if a.Stamps < b.Stamps {
		a, b = b, a
	}
	sum, diff := strconv.Itoa(a.Stamps+b.Stamps), strconv.Itoa(a.Stamps-b.Stamps)
	sa, sb := strconv.Itoa(a.Stamps), strconv.Itoa(b.Stamps)
	off := strconv.Itoa(a.Stamps + b.Stamps + 1)
	together := Prompt{Skill: SkillCalc, Kind: KindTogether, Person: a.Name, Other: b.Name, Answer: sum,
		Expression: sa + "+" + sb, Messages: userTurn(fmt.Sprintf("how many stamps do %s and %s have together?", a.Name, b.Name))}
	difference := together
	difference.Kind, difference.Answer, difference.Expression = KindDifference, diff, sa+"-"+sb
	town := w.Towns()[0]
	price, _ := w.TicketPrice(town)
	cost := Prompt{Skill: SkillCalc, Kind: KindCost, Town: town, Answer: strconv.Itoa(3 * price),
		Expression: "3*" + strconv.Itoa(price), Messages: userTurn("what do 3 tickets to " + town + " cost?")}
	cases := []judgeCase{
		{together, w.SkillCanonical(together), true, sum},
		{together, sum + ".", true, sum},
		{together, "they have " + sum + " stamps.", true, sum},
		{together, a.Name + " and " + b.Name + " have " + off + " stamps together.", false, off},
		{together, sa + "+" + sb + "=" + sum + ". " + a.Name + " and " + b.Name + " have " + sum + " stamps together.", true, sum},
		{together, a.Name + " has " + sa + " stamps and " + b.Name + " has " + sb + ", so together " + sum + ".", true, sum},
		// The right total after a wrong operand: the reasoning contradicts
		// the facts.
		{together, a.Name + " has " + strconv.Itoa(a.Stamps+1) + " stamps. " + b.Name + " has " + sb + " stamps. so " + sum + ".", false, sum},
		{together, a.Name + " and " + b.Name + " have many stamps.", false, ""},
		{together, "i do not know.", false, ""},
		{difference, w.SkillCanonical(difference), true, diff},
		{difference, a.Name + " has " + sum + " more stamps than " + b.Name + ".", false, sum},
		{cost, w.SkillCanonical(cost), true, strconv.Itoa(3 * price)},
		{cost, strconv.Itoa(3*price) + " coins.", true, strconv.Itoa(3 * price)},
		{cost, "3 tickets to " + town + " cost " + strconv.Itoa(3*price+10) + " coins.", false, strconv.Itoa(3*price + 10)},
		{cost, "3 tickets to " + town + " cost 3 coins.", false, "3"},
		{cost, "a ticket to " + town + " costs " + strconv.Itoa(price+1) + " coins. so " + strconv.Itoa(3*price) + ".", false, strconv.Itoa(3 * price)},
	}
	runJudgeCases(t, w, cases)
	assert.Equal(t, 100.0, w.Judge(together, w.SkillCanonical(together), true).Score)
	assert.Equal(t, 10.0, w.Judge(together, w.SkillCanonical(together), false).Score)
	assert.Equal(t, 80.0, w.Judge(together, w.SkillCanonical(together)+" the weather is nice today.", true).Score)
}

func TestJudgeMultiHop(t *testing.T) {
	w := New(Config{Seed: 5})
	var a, b, c Profile
	ps := w.People()
	// a and b live in different towns, c in a's.
	a, _ = w.Profile(ps[0].Name)
	for _, p := range ps[1:] {
		pro, _ := w.Profile(p.Name)
		if pro.Town != a.Town && b.Name == "" {
			b = pro
		}
		if pro.Town == a.Town && c.Name == "" {
			c = pro
		}
	}
	require.NotEmpty(t, b.Name)
	require.NotEmpty(t, c.Name)
	same := func(x, y Profile, step bool) Prompt {
		ans := "no"
		if x.Town == y.Town {
			ans = "yes"
		}
		p := Prompt{Skill: SkillMultiHop, Kind: KindSameTown, Person: x.Name, Other: y.Name, Answer: ans,
			Messages:  userTurn("do " + x.Name + " and " + y.Name + " live in the same town?"),
			Reasoning: []string{x.Name + " lives in " + x.Town + ".", y.Name + " lives in " + y.Town + "."}}
		if step {
			p = WithStepByStep(p)
		}
		return p
	}
	ab, abStep, ac := same(a, b, false), same(a, b, true), same(a, c, true)
	lives := func(x Profile, town string) string { return x.Name + " lives in " + town + ". " }
	more := Prompt{Skill: SkillMultiHop, Kind: KindMore, Person: a.Name, Other: b.Name, Answer: a.Name,
		Messages: userTurn("who has more stamps, " + a.Name + " or " + b.Name + "?")}
	if b.Stamps > a.Stamps {
		more.Answer = b.Name
	}
	win, lose := more.Answer, a.Name
	if win == a.Name {
		lose = b.Name
	}
	lower := func(s string) string { return normValue(s) }
	cases := []judgeCase{
		{ab, "no, they do not.", true, "no"},
		{ab, "no.", true, "no"},
		{ab, "yes, they do.", false, "yes"},
		{abStep, w.SkillCanonical(abStep), true, "no"},
		{abStep, lives(a, a.Town) + lives(b, b.Town) + "so no, they do not.", true, "no"},
		{abStep, lives(a, b.Town) + lives(b, b.Town) + "so no, they do not.", false, "no"},
		{abStep, lives(a, a.Town) + lives(b, b.Town) + "so yes, they do.", false, "yes"},
		{abStep, lives(a, a.Town) + lives(b, b.Town), false, ""},
		{ac, lives(a, a.Town) + lives(c, c.Town) + "so yes, they do.", true, "yes"},
		{ac, "yes, they both live in " + a.Town + ".", true, "yes"},
		{more, win + " has more stamps.", true, lower(win)},
		{more, win + " has more stamps than " + lose + ".", true, lower(win)},
		{more, lose + " has more stamps.", false, lower(lose)},
		{more, "hmm, " + lose + " or " + win + ". so " + win + " has more.", true, lower(win)},
		{more, "i do not know.", false, ""},
	}
	runJudgeCases(t, w, cases)

	// The reasoning is separated from the conclusion.
	v := w.Judge(abStep, w.SkillCanonical(abStep), true)
	assert.Equal(t, lives(a, a.Town)+b.Name+" lives in "+b.Town+".", v.Reasoning)
	assert.Empty(t, w.Judge(ab, "no, they do not.", true).Reasoning)
	// A step-by-step reply may be longer than a direct one.
	long := lives(a, a.Town) + lives(b, b.Town) + "so no, they do not."
	if len(long) > ConciseChars {
		assert.True(t, w.Judge(abStep, long, true).Concise)
		assert.False(t, w.Judge(ab, long, true).Concise)
	}

	// Colour of the person with a job in a town, and a ticket to a
	// person's town, from generated prompts.
	for _, p := range w.SkillEvalPrompts(SkillMultiHop, 60) {
		pro, _ := w.Profile(p.Person)
		switch p.Kind {
		case KindColourOf:
			other := pickOther(newRNG(), colours, pro.Colour)
			runJudgeCases(t, w, []judgeCase{
				{p, "the " + pro.Job + " from " + pro.Town + " likes " + pro.Colour + ".", true, pro.Colour},
				{p, pro.Colour + ".", true, pro.Colour},
				{p, "the " + pro.Job + " from " + pro.Town + " is " + pro.Name + ". " + pro.Name + " likes " + other + ". so " + other + ".", false, other},
				{p, "the " + pro.Job + " from " + pro.Town + " is " + pro.Name + ". " + pro.Name + " likes " + other + ". so " + pro.Colour + ".", false, pro.Colour},
			})
		case KindTicketHome:
			price, _ := w.TicketPrice(pro.Town)
			ps := strconv.Itoa(price)
			runJudgeCases(t, w, []judgeCase{
				{p, ps + " coins.", true, ps},
				{p, lives(pro, pro.Town) + "a ticket to " + pro.Town + " costs " + ps + " coins. so " + ps + " coins.", true, ps},
				{p, lives(pro, pro.Town) + "a ticket to " + pro.Town + " costs " + strconv.Itoa(price+1) + " coins. so " + ps + " coins.", false, ps},
			})
		}
	}
}

func TestJudgeNewsAndReading(t *testing.T) {
	w := New(Config{Seed: 5})
	var moved, fresh NewsItem
	for _, n := range w.News() {
		switch n.Change {
		case NewsMoved:
			moved = n
		case NewsNewPerson:
			fresh = n
		}
	}
	home := Prompt{Skill: SkillNews, Kind: KindHome, Person: moved.Person, Answer: moved.New, Stale: moved.Old,
		Passages: []string{moved.Text}, Messages: userTurn("where does " + moved.Person + " live?")}
	cases := []struct {
		reply          string
		correct, stale bool
	}{
		{moved.Person + " lives in " + moved.New + ".", true, false},
		{moved.New + ".", true, false},
		{moved.Person + " lives in " + moved.Old + ".", false, true},
		// Strict: naming the old town in the same sentence contradicts
		// the current fact, as in the fact questions.
		{moved.Person + " moved from " + moved.Old + " to " + moved.New + ".", false, false},
		{"i do not know that person.", false, false},
	}
	for _, c := range cases {
		v := w.Judge(home, c.reply, true)
		assert.Equal(t, c.correct, v.Correct, c.reply)
		assert.Equal(t, c.stale, v.Stale, c.reply)
	}
	cur, _ := w.Current(fresh.Person)
	job := Prompt{Skill: SkillNews, Kind: KindJob, Person: fresh.Person, Answer: cur.Job, Passages: []string{fresh.Text},
		Messages: userTurn("what is " + fresh.Person + "'s job?")}
	runJudgeCases(t, w, []judgeCase{
		{job, fresh.Person + " is a " + cur.Job + ".", true, cur.Job},
		{job, fresh.Person + " is a " + pickOther(newRNG(), jobs, cur.Job) + ".", false, "-"},
		{job, fresh.Person + " is a " + cur.Job + " and lives in " + cur.Town + ".", true, cur.Job},
	})
	v := w.Judge(job, "i do not know that person.", true)
	assert.True(t, v.Refused)
	assert.False(t, v.Stale, "a new person has no stale answer")

	// Reading: invented people and towns, checked against the answer.
	read := Prompt{Skill: SkillReading, Kind: KindHome, Person: "Tesi", Answer: "Nasdale", Stale: "Nanby",
		Passages: []string{"news: Tesi moved from Nanby to Nasdale."}, Messages: userTurn("where does Tesi live?")}
	runJudgeCases(t, w, []judgeCase{
		{read, "Tesi lives in Nasdale.", true, "nasdale"},
		{read, "Tesi lives in Nanby.", false, "nanby"},
		{read, "Tesi lives in " + w.Towns()[0] + ".", false, normValue(w.Towns()[0])},
		{read, "Tesi lives somewhere.", false, ""},
	})
	assert.True(t, w.Judge(read, "Tesi lives in Nanby.", true).Stale)
	assert.Equal(t, 100.0, w.Judge(read, "Tesi lives in Nasdale.", true).Score, "invented names are relevant words")
}

func TestSplitConclusion(t *testing.T) {
	for _, c := range []struct {
		in, reasoning, conclusion string
		ok                        bool
	}{
		{"a b. c d. so no, they do not.", "a b. c d.", "so no, they do not.", true},
		{"x has 3, so 5.", "x has 3", "so 5.", true},
		{"So yes.", "", "So yes.", true},
		{"so. so it is.", "so.", "so it is.", true},
		{"no, they do not.", "", "no, they do not.", false},
		{"i like it also so much.", "", "i like it also so much.", false},
	} {
		r, concl, ok := splitConclusion(c.in)
		assert.Equal(t, c.reasoning, r, c.in)
		assert.Equal(t, c.conclusion, concl, c.in)
		assert.Equal(t, c.ok, ok, c.in)
	}
}

// FuzzJudgeSkill: the judge never panics on a reply and keeps its score in
// range, for every skill.
func FuzzJudgeSkill(f *testing.F) {
	for _, s := range []string{"", "so", "no, they do not.", "Anna has 1,2,3 stamps. so 99999999999999999999.", "i do not know", "\x00 so ."} {
		f.Add(s)
	}
	w := New(Config{Seed: 1})
	var ps []Prompt
	for _, sk := range Skills() {
		ps = append(ps, w.SkillEvalPrompts(sk, 3)...)
	}
	ps = append(ps, WithStepByStep(w.SkillEvalPrompts(SkillMultiHop, 1)[0]))
	f.Fuzz(func(t *testing.T, reply string) {
		for _, p := range ps {
			v := w.Judge(p, reply, true)
			if v.Score < 0 || v.Score > 100 {
				t.Fatalf("score %v for %q", v.Score, reply)
			}
			if v.Correct && v.Refused && p.Skill != SkillUnknown {
				t.Fatalf("correct and refused: %q", reply)
			}
		}
	})
}
