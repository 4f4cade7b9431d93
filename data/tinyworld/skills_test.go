package tinyworld

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
)

// userText returns a prompt's question without its prefix and trigger.
func userText(p Prompt) string {
	u := strings.TrimSuffix(p.User(), " "+StepTrigger)
	for _, pre := range questionPrefixes[1:] {
		u = strings.TrimPrefix(u, pre)
	}
	return u
}

// evalExpr evaluates "a+b", "a-b" or "a*b".
func evalExpr(t *testing.T, e string) int {
	m := regexp.MustCompile(`^(\d+)([-+*])(\d+)$`).FindStringSubmatch(e)
	require.NotNil(t, m, e)
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[3])
	switch m[2] {
	case "+":
		return a + b
	case "-":
		return a - b
	}
	return a * b
}

func TestSkillsDeterminism(t *testing.T) {
	a, b := New(Config{Seed: 3}), New(Config{Seed: 3})
	for _, sk := range Skills() {
		assert.Equal(t, a.SkillDemos(sk, 40), b.SkillDemos(sk, 40), sk)
		assert.Equal(t, a.SkillDemos(sk, 40)[:10], a.SkillDemos(sk, 10), "%s: demo i does not depend on n", sk)
		assert.Equal(t, a.SkillRLPrompts(sk, 30), b.SkillRLPrompts(sk, 30), sk)
		assert.Equal(t, a.SkillEvalPrompts(sk, 30), b.SkillEvalPrompts(sk, 30), sk)
		assert.Equal(t, a.SkillEvalPrompts(sk, 30)[:7], a.SkillEvalPrompts(sk, 7), sk)
		assert.NotEqual(t, a.SkillDemos(sk, 10), New(Config{Seed: 4}).SkillDemos(sk, 10), "%s: the seed matters", sk)
	}
	assert.Equal(t, a.SkillPretrainText(20_000), b.SkillPretrainText(20_000))
	assert.NotEqual(t, a.SkillPretrainText(20_000), New(Config{Seed: 4}).SkillPretrainText(20_000))
	assert.Equal(t, a.News(), b.News())
	assert.Panics(t, func() { a.SkillDemos("weather", 1) })
}

func TestSkillsWorld(t *testing.T) {
	w := New(Config{Seed: 5})
	seen := make(map[int]bool)
	for _, p := range w.People() {
		s, ok := w.Stamps(p.Name)
		require.True(t, ok)
		assert.True(t, s >= MinStamps && s <= MaxStamps, s)
		assert.False(t, seen[s], "stamps are distinct")
		seen[s] = true
		pro, _ := w.Profile(p.Name)
		assert.Equal(t, p, pro.Person)
		assert.Equal(t, s, pro.Stamps)
	}
	for _, town := range w.Towns() {
		pr, ok := w.TicketPrice(town)
		require.True(t, ok)
		assert.True(t, pr >= MinPrice && pr <= MaxPrice, pr)
	}
	_, ok := w.Stamps("Nobody")
	assert.False(t, ok)
	_, ok = w.TicketPrice("Nowhere")
	assert.False(t, ok)

	// The news: 4 moves, 4 new jobs, 6 new people for 24 people, half of
	// each held out; short passages that state the change.
	count := map[string]int{}
	held := map[string]int{}
	for _, n := range w.News() {
		count[n.Change]++
		if n.Held {
			held[n.Change]++
		}
		assert.Less(t, len(n.Text), 100, n.Text)
		assert.Equal(t, strings.Join(n.Passages, " "), n.Text)
		for _, p := range n.Passages {
			assert.Less(t, len(p), 50, p)
			assert.True(t, strings.HasPrefix(p, n.Person+" "), p)
		}
		assert.True(t, strings.HasPrefix(n.Text, n.Person+" "), n.Text)
		assert.Contains(t, n.Text, n.New)
		cur, ok := w.Current(n.Person)
		require.True(t, ok)
		old, known := w.Profile(n.Person)
		switch n.Change {
		case NewsMoved:
			assert.True(t, known)
			assert.Equal(t, old.Town, n.Old)
			assert.Equal(t, cur.Town, n.New)
			assert.NotEqual(t, n.Old, n.New)
		case NewsNewJob:
			assert.Equal(t, old.Job, n.Old)
			assert.Equal(t, cur.Job, n.New)
			assert.NotEqual(t, n.Old, n.New)
		case NewsNewPerson:
			assert.False(t, known, "a new person is not in the world")
			assert.Contains(t, newsNames, n.Person)
			assert.Contains(t, n.Text, strconv.Itoa(cur.Stamps))
			assert.Contains(t, n.Text, cur.Job)
			assert.Contains(t, n.Text, cur.Colour)
		}
	}
	assert.Equal(t, map[string]int{NewsMoved: 4, NewsNewJob: 4, NewsNewPerson: 6}, count)
	assert.Equal(t, map[string]int{NewsMoved: 2, NewsNewJob: 2, NewsNewPerson: 3}, held)
	assert.Len(t, w.NewsPassages(), 4+4+3*6)

	// A quarter of the pairs, about, are held out.
	n, h := 0, 0
	ps := w.People()
	for i := range ps {
		for j := i + 1; j < len(ps); j++ {
			n++
			if w.IsHeldPair(ps[i].Name, ps[j].Name) {
				h++
				assert.True(t, w.IsHeldPair(ps[j].Name, ps[i].Name), "symmetric")
			}
		}
	}
	assert.InDelta(t, 0.25, float64(h)/float64(n), 0.08)

	// Tiny and full worlds work.
	for _, people := range []int{1, 2, 3, 40} {
		w := New(Config{Seed: 9, People: people})
		for _, sk := range Skills() {
			for _, d := range w.SkillDemos(sk, 20) {
				assert.Equal(t, 100.0, w.Judge(d.Prompt, d.Reply(), true).Score, "%d people, %s: %q → %q", people, sk, d.User(), d.Reply())
			}
			for _, p := range w.SkillEvalPrompts(sk, 20) {
				assert.NotEmpty(t, p.User())
			}
		}
		assert.NotEmpty(t, w.SkillPretrainText(5000))
	}
}

// allSkillPrompts returns the demos' prompts, RL and eval prompts of every
// skill, and the step-by-step eval prompts.
func allSkillPrompts(w *World, n int) (train, eval []Prompt) {
	for _, sk := range Skills() {
		for _, d := range w.SkillDemos(sk, n) {
			train = append(train, d.Prompt)
		}
		train = append(train, w.SkillRLPrompts(sk, n)...)
		for _, p := range w.SkillEvalPrompts(sk, n) {
			eval = append(eval, p)
			if sk == SkillMultiHop {
				eval = append(eval, WithStepByStep(p))
			}
		}
	}
	return train, eval
}

func TestSkillsCanonical(t *testing.T) {
	w := New(Config{Seed: 6})
	for _, sk := range Skills() {
		for _, d := range w.SkillDemos(sk, 200) {
			require.Equal(t, sk, d.Skill)
			v := w.Judge(d.Prompt, d.Reply(), true)
			require.Equal(t, 100.0, v.Score, "%s: %q → %q %+v", sk, d.User(), d.Reply(), v)
			assert.False(t, v.Stale)
			assert.False(t, v.Hallucinated)
			assert.Equal(t, sk == SkillUnknown, v.Refused)
			if sk != SkillUnknown {
				assert.Equal(t, normValue(d.Answer), v.Answer)
			}
			assert.Equal(t, d.StepByStep, strings.HasSuffix(d.User(), " "+StepTrigger))
			assert.Equal(t, d.StepByStep, v.Reasoning != "", d.Reply())
			if d.StepByStep {
				assert.Equal(t, strings.Join(d.Reasoning, " "), v.Reasoning)
			}
			// The steps: calls with the right results, the text last.
			last := d.Steps[len(d.Steps)-1]
			assert.Empty(t, last.Tool)
			for i, s := range d.Steps[:len(d.Steps)-1] {
				switch {
				case d.Kind == KindMore:
					// Step by step: the facts, their difference, the conclusion.
					require.True(t, d.StepByStep)
					require.Len(t, d.Steps, 3)
					if i == 0 {
						assert.Equal(t, strings.Join(d.Reasoning, " "), s.Text)
						continue
					}
					nums := regexp.MustCompile(`\d+`).FindAllString(d.Steps[0].Text, -1)
					require.Len(t, nums, 2)
					assert.Equal(t, nums[0]+"-"+nums[1], s.Input)
					assert.Equal(t, strconv.Itoa(evalExpr(t, s.Input)), s.Output)
					assert.Equal(t, strings.HasPrefix(s.Output, "-"), d.Answer == d.Other, "the sign says who has more")
				case s.Tool == ToolCalculator:
					assert.Equal(t, d.Expression, s.Input)
					assert.Equal(t, d.Answer, s.Output)
					for _, operand := range regexp.MustCompile(`\d+`).FindAllString(s.Input, -1) {
						assert.Regexp(t, `\b`+operand+`\b`, s.Thought, "the thought states the operands")
					}
				case s.Tool == ToolSearch:
					assert.Equal(t, d.Passages, []string{s.Output})
					name, what, _ := strings.Cut(s.Input, " ")
					assert.Equal(t, "stamps", what)
					assert.True(t, strings.HasPrefix(s.Output, name+" has "), s.Output)
				default:
					t.Fatalf("unexpected step %v", s)
				}
			}
			switch sk {
			case SkillCalc, SkillSearchCalc:
				assert.Equal(t, strconv.Itoa(evalExpr(t, d.Expression)), d.Answer)
			case SkillNews:
				require.Len(t, d.Passages, 1)
				assert.Contains(t, d.Passages[0], d.Answer)
				assert.Contains(t, w.NewsPassages(), d.Passages[0])
			case SkillReading:
				require.NotEmpty(t, d.Passages)
				require.LessOrEqual(t, len(d.Passages), 2)
				gold := slices.ContainsFunc(d.Passages, func(s string) bool {
					return strings.HasPrefix(s, d.Person+" ") && strings.Contains(s, d.Answer)
				})
				assert.True(t, gold, "the answer's passage is there: %v", d.Passages)
			}
		}
	}
	// The direct-only ablation: the same questions without the trigger,
	// answered directly.
	nStep := 0
	for _, d := range w.SkillDemos(SkillMultiHop, 100) {
		dd := w.DirectDemo(d)
		assert.False(t, dd.StepByStep)
		assert.NotContains(t, dd.User(), StepTrigger)
		assert.Equal(t, 100.0, w.Judge(dd.Prompt, dd.Reply(), true).Score, dd.Reply())
		assert.Empty(t, w.Judge(dd.Prompt, dd.Reply(), true).Reasoning)
		if d.StepByStep {
			nStep++
			assert.Equal(t, d.User(), dd.User()+" "+StepTrigger, "the original demo keeps its trigger")
			assert.NotEqual(t, d.Reply(), dd.Reply())
		} else {
			assert.Equal(t, d, dd)
		}
	}
	assert.Equal(t, 50, nStep)
	_, eval := allSkillPrompts(w, 200)
	for _, p := range eval {
		c := w.SkillCanonical(p)
		v := w.Judge(p, c, true)
		require.Equal(t, 100.0, v.Score, "%s: %q → %q %+v", p.Skill, p.User(), c, v)
		assert.LessOrEqual(t, len(c), MaxConciseChars)
	}
}

func TestSkillsHeldOut(t *testing.T) {
	w := New(Config{Seed: 7})
	train, eval := allSkillPrompts(w, 250)
	trainQ := make(map[string]bool)
	for _, p := range train {
		trainQ[userText(p)] = true
		if p.Other != "" && p.Skill != SkillSearchCalc {
			assert.False(t, w.IsHeldPair(p.Person, p.Other), "%s: held pair in chat data: %q", p.Skill, p.User())
		}
		assert.NotContains(t, unknownEvalNames, p.Person)
		if p.Skill != SkillNews && p.Skill != SkillSearchCalc {
			continue
		}
		if n, ok := w.newsAbout(p.Person); ok {
			assert.False(t, n.Held, "held news item in chat data: %q", p.User())
		}
		if n, ok := w.newsAbout(p.Other); ok {
			assert.False(t, n.Held, "held news item in chat data: %q", p.User())
		}
	}
	for _, p := range eval {
		assert.False(t, trainQ[userText(p)], "%s: eval question in chat data: %q", p.Skill, p.User())
		switch p.Skill {
		case SkillCalc:
			if p.Other != "" {
				assert.True(t, w.IsHeldPair(p.Person, p.Other), p.User())
			}
		case SkillUnknown:
			assert.Contains(t, unknownEvalNames, p.Person)
		case SkillNews:
			n, ok := w.newsAbout(p.Person)
			assert.True(t, ok && n.Held, p.User())
		}
	}

	// The names of nobody kept for evaluation and the new people appear in
	// no pretraining text; held-out pairs are never asked there.
	txt := w.PretrainText() + w.SkillPretrainText(0)
	inText := make(map[string]bool)
	for _, wd := range words(txt) {
		inText[wd] = true
	}
	// (The names of nobody of the demonstrations never appear there
	// either.)
	for _, n := range slices.Concat(unknownEvalNames, newsNames, unknownTrainNames) {
		assert.False(t, inText[strings.ToLower(n)], n)
	}
	asked := make(map[string]bool)
	for _, m := range regexp.MustCompile(`(?:question: |asked: |if you ask )(.*?\?)`).FindAllStringSubmatch(txt, -1) {
		asked[strings.TrimSuffix(m[1], " "+StepTrigger)] = true
	}
	assert.Greater(t, len(asked), 1000)
	for _, p := range eval {
		if p.Skill == SkillCalc && p.Other != "" || p.Skill == SkillMultiHop && p.Other != "" && w.IsHeldPair(p.Person, p.Other) {
			assert.False(t, asked[userText(p)], "held-out pair asked in the pretraining text: %q", p.User())
		}
	}
}

func TestSkillPretrainText(t *testing.T) {
	w := New(Config{Seed: 8})
	txt := w.SkillPretrainText(0)
	assert.GreaterOrEqual(t, len(txt), DefaultSkillPretrainBytes)
	assert.Less(t, len(txt), DefaultSkillPretrainBytes+300)
	for _, p := range w.People() {
		pro, _ := w.Profile(p.Name)
		s := fmt.Sprintf("%s has %d stamps.", p.Name, pro.Stamps)
		assert.Contains(t, txt, s)
		assert.GreaterOrEqual(t, strings.Count(txt, p.Name), 30, p.Name)
		if w.uniqueJobTown(p) {
			assert.Contains(t, txt, fmt.Sprintf("the %s from %s is %s.", p.Job, p.Town, p.Name))
		}
	}
	for _, town := range w.Towns() {
		pr, _ := w.TicketPrice(town)
		assert.Contains(t, txt, fmt.Sprintf("a ticket to %s costs %d coins.", town, pr))
	}
	for _, s := range []string{
		"let's think step by step. answer: ", " so yes, they do.", " so no, they do not.",
		"answer: i do not know that person.", "news: ", " is new in ",
	} {
		assert.Contains(t, txt, s)
	}
	lines := strings.Split(strings.TrimSuffix(txt, "\n"), "\n")
	calc := regexp.MustCompile(`(\d+)([-+*])(\d+)=(\d+)\.`)
	nCalc := 0
	for _, l := range lines {
		assert.NotEmpty(t, l)
		assert.LessOrEqual(t, len(l), 256, l)
		for _, m := range calc.FindAllStringSubmatch(l, -1) {
			nCalc++
			assert.Equal(t, m[4], strconv.Itoa(evalExpr(t, m[1]+m[2]+m[3])), l)
		}
	}
	assert.Greater(t, nCalc, 200)
	// Every phrasing of every new kind is asked; with StrictPretrain, the
	// held-out ones are not.
	strict := New(Config{Seed: 8, StrictPretrain: true}).SkillPretrainText(100_000)
	for _, k := range skillKinds {
		for i, ph := range skillPhrasings[k] {
			re := regexp.QuoteMeta(ph)
			for _, slot := range []string{"X", "Z", "T", "J", "K"} {
				re = strings.ReplaceAll(re, `\{`+slot+`\}`, `[A-Za-z0-9]+`)
			}
			assert.Regexp(t, `(question: |asked: |ask )`+re, txt, "%s/%d", k, i)
			if i == w.heldPhrasing(k) {
				assert.NotRegexp(t, `(question: |asked: |ask )`+re, strict, "%s/%d in the strict text", k, i)
			}
		}
	}
}

func TestSkillCandidatesAndPreferences(t *testing.T) {
	w := New(Config{Seed: 10})
	for _, sk := range Skills() {
		for _, p := range append(w.SkillRLPrompts(sk, 60), w.SkillEvalPrompts(sk, 20)...) {
			cands := w.SkillCandidates(p, nil)
			require.Equal(t, cands, w.SkillCandidates(p, nil), "deterministic")
			require.GreaterOrEqual(t, len(cands), 4)
			verdict := func(steps []Step) Verdict { return w.Judge(p, Demo{Steps: steps}.Reply(), true) }
			assert.Equal(t, w.SkillSteps(p), cands[0])
			assert.Equal(t, 100.0, verdict(cands[0]).Score, "%s: %q", sk, p.User())
			var wrongPolite, stale, halluc bool
			for i, c := range cands {
				v := verdict(c)
				if i > 0 {
					assert.LessOrEqual(t, v.Score, verdict(cands[i-1]).Score)
				}
				if !v.Correct && v.Polite && v.Concise && v.Answer != "" {
					wrongPolite = true
				}
				stale = stale || v.Stale
				halluc = halluc || v.Hallucinated
				for _, s := range c {
					if s.Tool == ToolCalculator {
						assert.Equal(t, cands[0][len(cands[0])-2], s, "the call is always right")
					}
				}
			}
			switch sk {
			case SkillUnknown:
				assert.True(t, halluc, "a hallucinated candidate for %q", p.User())
			case SkillNews:
				assert.Equal(t, p.Stale != "", stale, "a stale candidate for %q", p.User())
			default:
				assert.True(t, wrongPolite, "%s: a wrong but polite candidate for %q: %v", sk, p.User(), cands)
			}
		}
		for _, r := range w.SkillPreferences(sk, 30) {
			require.GreaterOrEqual(t, len(r.Responses), 3, r.Source)
			prev := 101.0
			for _, steps := range r.Responses {
				s := w.Judge(r.Prompt, Demo{Steps: steps}.Reply(), true).Score
				require.Less(t, s, prev, "%s: strictly best first", r.Source)
				prev = s
			}
			assert.Equal(t, 100.0, w.Judge(r.Prompt, Demo{Steps: r.Responses[0]}.Reply(), true).Score)
		}
		assert.Equal(t, w.SkillPreferences(sk, 30)[:5], w.SkillPreferences(sk, 5))
		for _, r := range w.SkillPreferences(sk, 10) {
			chats := r.Chats(true)
			require.Len(t, chats, len(r.Responses))
			for i, c := range chats {
				require.NoError(t, data.ValidateConversation(c), "%v", c)
				assert.Equal(t, Demo{Prompt: r.Prompt, Steps: r.Responses[i]}.Chat(true), c)
				assert.Equal(t, len(r.Prompt.Passages) > 0 && sk != SkillSearchCalc, c[0].Role == data.RoleContext, "%v", c)
			}
		}
	}
	for _, n := range []string{"562", "1283", "100", "7", "990"} {
		m := miscopy(newRNG(), n)
		assert.NotEqual(t, n, m)
		assert.Len(t, m, len(n))
		if len(n) > 1 {
			assert.NotEqual(t, byte('0'), m[0], m)
		}
	}
}

func TestSkillsAlphabet(t *testing.T) {
	w := New(Config{Seed: 12})
	alpha := w.SkillsAlphabet()
	assert.Equal(t, alpha, New(Config{Seed: 3, People: 4}).SkillsAlphabet())
	rs := []rune(alpha)
	assert.True(t, slices.IsSorted(rs))
	assert.Equal(t, len(rs), len(slices.Compact(slices.Clone(rs))))
	for _, r := range w.Alphabet() {
		assert.Contains(t, alpha, string(r))
	}
	assert.NotContains(t, alpha, "{")
	in := make(map[rune]bool)
	for _, r := range rs {
		in[r] = true
	}
	cover := func(src, s string) {
		for _, r := range s {
			if !in[r] {
				t.Fatalf("%s: %q not in the alphabet (text %q)", src, r, s)
			}
		}
	}
	cover("skill text", w.SkillPretrainText(100_000))
	for _, n := range w.News() {
		cover("news", n.Text)
	}
	train, eval := allSkillPrompts(w, 100)
	for _, p := range append(train, eval...) {
		for _, m := range p.Messages {
			cover("prompt", m.Content)
		}
		for _, ps := range p.Passages {
			cover("passage", ps)
		}
		cover("answer", p.Answer+p.Stale+p.Expression)
		cover("text answer", w.TextAnswer(p))
		for _, steps := range w.SkillCandidates(p, nil) {
			for _, s := range steps {
				cover("step", s.Text+s.Tool+s.Input+s.Output+s.Thought)
			}
		}
	}
}

// TestReadingCurriculumOverridesMemory: about half the reading lines tell of a world person
// moving or taking a new job, and the answer follows the passage, not the pretraining text;
// the people of the news store among them too, never with the news's new town or job (which
// is held out or taught in SFT).
func TestReadingCurriculumOverridesMemory(t *testing.T) {
	w := New(Config{Seed: 1})
	news := map[string][]string{}
	for _, n := range w.News() {
		news[n.Person] = append(news[n.Person], n.New)
	}
	var reading, known, inNews int
	for _, line := range strings.Split(w.SkillPretrainText(0), "\n") {
		if !strings.HasPrefix(line, "news: ") || strings.Contains(line, "=") {
			continue // not a reading line, or a calculation with a number read (TestReadingCalcLines)
		}
		reading++
		name := strings.Fields(line)[1]
		pro, ok := w.Profile(name)
		if !ok {
			continue
		}
		known++
		answer := line[strings.Index(line, " answer: ")+len(" answer: "):]
		for _, v := range news[name] {
			inNews++
			require.NotContains(t, answer, v, "a counterfactual with the news store's new fact: %s", line)
		}
		require.NotContains(t, []string{pro.Name + " lives in " + pro.Town + ".", pro.Name + " is a " + pro.Job + "."}, answer, line)
		require.True(t, strings.Contains(line, "moved") || strings.Contains(line, "now") || strings.Contains(line, "left") || strings.Contains(line, "new job") || strings.Contains(line, "works as"), line)
	}
	require.Greater(t, reading, 300)
	require.InDelta(t, 0.5, float64(known)/float64(reading), 0.08, "%d of %d", known, reading)
	require.Greater(t, inNews, known/10, "counterfactuals about the news store's people")
}

// TestSearchDemoNames: three search-then-calculate demonstrations in four are about invented
// people, two thirds of them with names shaped like real ones (some with a cluster, as the
// held-out news people's "Bram" and "Cleo"), none of them a name of any table.
func TestSearchDemoNames(t *testing.T) {
	w := New(Config{Seed: 1})
	inNews := map[string]bool{}
	for _, n := range w.News() {
		inNews[n.Person] = true
	}
	demos := w.SkillDemos(SkillSearchCalc, 400)
	var invented, clusters int
	for _, d := range demos {
		name := d.Person
		if _, ok := w.Profile(name); ok {
			name = d.Other // the world person may come first
		}
		require.False(t, isTableName(name) && !inNews[name], "demo about %s: %s", name, d.User())
		if inNews[name] {
			continue
		}
		invented++
		for _, c := range []string{"Br", "Cl", "Dr", "Fl", "Gr", "Pr", "St", "Tr"} {
			if strings.HasPrefix(name, c) {
				clusters++
			}
		}
	}
	require.InDelta(t, 0.75, float64(invented)/float64(len(demos)), 0.01)
	require.Greater(t, clusters, invented/8, "%d of %d invented names start with a cluster", clusters, invented)
	for i := range 200 {
		name := searchDemoName(w.rng(99, i))
		require.False(t, isTableName(name), name)
		require.Regexp(t, `^[A-Z][a-z]{2,}$`, name)
	}
}

// TestReadingCalcLines: the pretraining text's calculations with a number read from a passage
// compute with the passage's number and the world person's stamps, about someone the world
// does not know and someone the news leaves alone.
func TestReadingCalcLines(t *testing.T) {
	w := New(Config{Seed: 1})
	inNews := map[string]bool{}
	for _, n := range w.News() {
		inNews[n.Person] = true
	}
	re := regexp.MustCompile(`^news: (\w+) has (\d+) stamps\. (?:question: |asked: |if you ask )(.*?) (?:answer: |i said: |the answer is: )(\d+)([-+])(\d+)=(\d+)\. `)
	n := 0
	for _, line := range strings.Split(w.SkillPretrainText(0), "\n") {
		if !strings.HasPrefix(line, "news: ") || !strings.Contains(line, "=") {
			continue
		}
		m := re.FindStringSubmatch(line)
		require.NotNil(t, m, line)
		n++
		name, read := m[1], m[2]
		_, known := w.Profile(name)
		require.False(t, known || isTableName(name), "a world or table name read: %s", line)
		require.Contains(t, m[3], name, line)
		var other string
		for _, p := range w.People() {
			if strings.Contains(m[3], p.Name) {
				other = p.Name
			}
		}
		require.NotEmpty(t, other, line)
		require.False(t, inNews[other], line)
		s, _ := w.Stamps(other)
		operands := []string{m[4], m[6]}
		require.ElementsMatch(t, []string{read, strconv.Itoa(s)}, operands, line)
		require.Equal(t, m[7], strconv.Itoa(evalExpr(t, m[4]+m[5]+m[6])), line)
	}
	require.Greater(t, n, 50)
}

// TestReasoningDrills: the drills' answers follow from their passages, step by step for even
// items (the steps are the passages) and directly for odd ones, as DirectDemo answers them
// too; their people are nobody the world or its tables know; their phrasings are the
// training ones; both answers of both kinds occur.
func TestReasoningDrills(t *testing.T) {
	w := New(Config{Seed: 3})
	drills := w.ReasoningDrills(400)
	require.Equal(t, drills[:10], w.ReasoningDrills(10))
	seen := map[string]int{}
	for i, d := range drills {
		require.Len(t, d.Passages, 2)
		_, known := w.Profile(d.Person)
		require.False(t, known || isTableName(d.Person) || isTableName(d.Other), d.User())
		require.NotEqual(t, w.heldPhrasing(d.Kind), d.Phrasing, d.User())
		require.Equal(t, i%2 == 0, d.StepByStep)
		var yes bool
		switch d.Kind {
		case KindSameTown:
			var a, b string
			_, err := fmt.Sscanf(d.Passages[0], d.Person+" lives in %s", &a)
			require.NoError(t, err)
			_, err = fmt.Sscanf(d.Passages[1], d.Other+" lives in %s", &b)
			require.NoError(t, err)
			yes = a == b
			require.Equal(t, map[bool]string{true: "yes", false: "no"}[yes], d.Answer)
		case KindMore:
			var a, b int
			_, err := fmt.Sscanf(d.Passages[0], d.Person+" has %d stamps.", &a)
			require.NoError(t, err)
			_, err = fmt.Sscanf(d.Passages[1], d.Other+" has %d stamps.", &b)
			require.NoError(t, err)
			require.NotEqual(t, a, b)
			yes = b > a
			require.Equal(t, map[bool]string{false: d.Person, true: d.Other}[yes], d.Answer)
		default:
			t.Fatalf("drill %d of kind %s", i, d.Kind)
		}
		seen[fmt.Sprint(d.Kind, yes)]++
		direct := w.DirectDemo(d).Steps[0].Text
		switch {
		case d.Kind == KindMore:
			require.Equal(t, d.Answer+" has more stamps.", direct)
		case yes:
			require.Equal(t, "yes, they both live in "+d.Town+".", direct)
		default:
			require.Equal(t, "no, they do not.", direct)
		}
		if d.StepByStep {
			require.True(t, strings.HasPrefix(d.Steps[0].Text, strings.Join(d.Passages, " ")+" so "), d.Steps[0].Text)
			require.Contains(t, d.User(), StepTrigger)
		} else {
			require.Equal(t, direct, d.Steps[0].Text)
		}
	}
	require.Len(t, seen, 4, seen)
	for k, n := range seen {
		require.Greater(t, n, 50, k)
	}
}

func TestInventedSearchCalcRLPrompts(t *testing.T) {
	w := New(Config{Seed: 1})
	ps := w.InventedSearchCalcRLPrompts(400)
	require.Len(t, ps, 400)
	require.Equal(t, ps[:50], w.InventedSearchCalcRLPrompts(50), "prompt i is the same for every n ≥ i+1")
	require.NotEqual(t, ps[:50], New(Config{Seed: 2}).InventedSearchCalcRLPrompts(50), "another world, other prompts")
	news := strings.Join(w.NewsPassages(), " ")
	seen := map[string]bool{}
	for i, p := range ps {
		require.Equal(t, SkillSearchCalc, p.Skill)
		require.Len(t, p.Passages, 1, "prompt %d", i)
		// The invented person is the one the world does not know; the other is a quiet world person.
		fresh := p.Person
		if _, known := w.Profile(fresh); known {
			fresh = p.Other
		}
		_, known := w.Profile(fresh)
		require.False(t, known, "prompt %d: %q is invented", i, fresh)
		require.False(t, isTableName(fresh), "prompt %d: %q is no name of the tables", i, fresh)
		require.False(t, seen[fresh], "prompt %d: %q drawn twice", i, fresh)
		seen[fresh] = true
		require.True(t, strings.HasPrefix(p.Passages[0], fresh+" "), "prompt %d: the passage %q is about %s", i, p.Passages[0], fresh)
		require.NotContains(t, news, p.Passages[0], "prompt %d: no search of the news store finds it", i)
		require.Contains(t, p.User(), fresh)
		// The canonical turn searches the person, calculates and is right.
		steps := w.SkillSteps(p)
		require.Equal(t, ToolSearch, steps[0].Tool, "prompt %d", i)
		require.Equal(t, fresh+" stamps", steps[0].Input)
		require.Equal(t, p.Passages[0], steps[0].Output)
		require.Equal(t, ToolCalculator, steps[1].Tool)
		require.Equal(t, p.Expression, steps[1].Input)
		v := w.Judge(p, Demo{Prompt: p, Steps: steps}.Reply(), true)
		require.True(t, v.Correct, "prompt %d: %v", i, steps)
	}
}

func TestInventedNewsRLPrompts(t *testing.T) {
	w := New(Config{Seed: 1})
	ps := w.InventedNewsRLPrompts(400)
	require.Len(t, ps, 400)
	require.Equal(t, ps[:50], w.InventedNewsRLPrompts(50), "prompt i is the same for every n ≥ i+1")
	require.NotEqual(t, ps[:50], New(Config{Seed: 2}).InventedNewsRLPrompts(50), "another world, other prompts")
	news := strings.Join(w.NewsPassages(), " ")
	seen, kinds := map[string]bool{}, map[string]int{}
	for i, p := range ps {
		require.Equal(t, SkillReading, p.Skill)
		_, known := w.Profile(p.Person)
		require.False(t, known, "prompt %d: %q is invented", i, p.Person)
		require.False(t, isTableName(p.Person), "prompt %d: %q is no name of the tables", i, p.Person)
		require.False(t, seen[p.Person], "prompt %d: %q drawn twice", i, p.Person)
		seen[p.Person] = true
		kinds[p.Kind]++
		require.Len(t, p.Passages, 1, "prompt %d", i)
		require.True(t, strings.HasPrefix(p.Passages[0], p.Person+" "), "prompt %d: the passage %q is about %s", i, p.Passages[0], p.Person)
		require.Contains(t, p.Passages[0], p.Answer, "prompt %d: the passage answers it", i)
		require.NotContains(t, news, p.Passages[0], "prompt %d", i)
		require.Contains(t, p.User(), p.Person)
		require.NotEqual(t, w.HeldPhrasing(p.Kind), p.Phrasing, "prompt %d: a training phrasing", i)
		d := Demo{Prompt: p, Steps: w.SkillSteps(p)}
		chat := d.Chat(true)
		require.Equal(t, data.RoleContext, chat[0].Role, "prompt %d: the passage is the context turn", i)
		require.Equal(t, p.Passages[0], chat[0].Content)
		require.True(t, w.Judge(p, d.Reply(), true).Correct, "prompt %d: the canonical reply %q", i, d.Reply())
		require.False(t, w.Judge(p, "I do not know.", true).Correct, "prompt %d", i)
	}
	require.Len(t, kinds, 4, "every fact kind: %v", kinds)

	// Names to avoid are avoided, and the rest of the draw goes on as before.
	var avoid []string
	for _, p := range w.InventedSearchCalcRLPrompts(500) {
		avoid = append(avoid, p.Person, p.Other)
	}
	shared := 0
	for _, p := range ps {
		if slices.Contains(avoid, p.Person) {
			shared++
		}
	}
	require.NotZero(t, shared, "without avoid, some names are the search-then-calculate prompts'")
	apart := w.InventedNewsRLPrompts(400, avoid...)
	require.Len(t, apart, 400)
	for i, p := range apart {
		require.NotContains(t, avoid, p.Person, "prompt %d", i)
	}
	require.Equal(t, apart[:50], w.InventedNewsRLPrompts(50, avoid...))
}
