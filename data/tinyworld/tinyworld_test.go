package tinyworld

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
)

// userTexts returns the contents of the user turns of msgs.
func userTexts(msgs []data.Message) []string {
	var out []string
	for _, m := range msgs {
		if m.Role == data.RoleUser {
			out = append(out, m.Content)
		}
	}
	return out
}

func TestDeterminism(t *testing.T) {
	cfg := Config{Seed: 42, PretrainBytes: 50_000}
	a, b := New(cfg), New(cfg)
	assert.Equal(t, a.People(), b.People())
	assert.Equal(t, a.PretrainText(), b.PretrainText())
	assert.Equal(t, a.SFTConversations(300), b.SFTConversations(300))
	assert.Equal(t, a.RLPrompts(300), b.RLPrompts(300))
	assert.Equal(t, a.EvalPrompts(600), b.EvalPrompts(600))
	assert.Equal(t, a.Preferences(50), b.Preferences(50))
	p := a.RLPrompts(1)[0]
	assert.Equal(t, a.Candidates(p, rand.New(rand.NewPCG(1, 2))), b.Candidates(p, rand.New(rand.NewPCG(1, 2))))
	assert.Equal(t, a.Candidates(p, nil), b.Candidates(p, nil))

	// Prefix stability: item i does not depend on n.
	assert.Equal(t, a.SFTConversations(300)[:40], a.SFTConversations(40))
	assert.Equal(t, a.RLPrompts(300)[:40], a.RLPrompts(40))
	assert.Equal(t, a.EvalPrompts(600)[:40], a.EvalPrompts(40))

	c := New(Config{Seed: 43, PretrainBytes: 50_000})
	assert.NotEqual(t, a.PretrainText(), c.PretrainText())
	assert.NotEqual(t, a.SFTConversations(50), c.SFTConversations(50))
	assert.NotEqual(t, a.People(), c.People())
}

func TestConfigDefaults(t *testing.T) {
	w := New(Config{})
	cfg := w.Config()
	assert.Equal(t, DefaultPeople, cfg.People)
	assert.Equal(t, DefaultTowns, cfg.Towns)
	assert.Equal(t, DefaultWrongRate, cfg.WrongRate)
	assert.Equal(t, DefaultRudeRate, cfg.RudeRate)
	assert.Equal(t, DefaultRambleRate, cfg.RambleRate)
	assert.Equal(t, DefaultTwoTurnRate, cfg.TwoTurnRate)
	assert.Equal(t, DefaultPretrainBytes, cfg.PretrainBytes)
	assert.Len(t, w.People(), DefaultPeople)
	assert.Len(t, w.Towns(), DefaultTowns)

	cfg = New(Config{People: 1000, Towns: 1, WrongRate: -1, RudeRate: -0.5, RambleRate: 2, TwoTurnRate: -1}).Config()
	assert.Equal(t, len(names), cfg.People)
	assert.Equal(t, 2, cfg.Towns)
	assert.Zero(t, cfg.WrongRate)
	assert.Zero(t, cfg.RudeRate)
	assert.Equal(t, 1.0, cfg.RambleRate)
	assert.Zero(t, cfg.TwoTurnRate)
}

func TestWorld(t *testing.T) {
	w := New(Config{Seed: 3})
	seen := make(map[string]bool)
	heldCount := make(map[string]int)
	townUsed := make(map[string]bool)
	for _, p := range w.People() {
		assert.False(t, seen[p.Name], "duplicate name %s", p.Name)
		seen[p.Name] = true
		assert.Contains(t, w.Towns(), p.Town)
		townUsed[p.Town] = true
		assert.GreaterOrEqual(t, p.Count, 1)
		assert.LessOrEqual(t, p.Count, 9)
		assert.Contains(t, factKinds, w.HeldKind(p.Name))
		heldCount[w.HeldKind(p.Name)]++
		got, ok := w.Person(strings.ToUpper(p.Name))
		require.True(t, ok)
		assert.Equal(t, p, got)
	}
	assert.Len(t, townUsed, len(w.Towns()), "every town has people")
	for _, k := range factKinds {
		assert.Equal(t, DefaultPeople/len(factKinds), heldCount[k], "held-out kinds are balanced")
	}
	for _, k := range allKinds {
		assert.GreaterOrEqual(t, w.HeldPhrasing(k), 0)
		assert.Less(t, w.HeldPhrasing(k), Phrasings(k))
	}
	assert.Equal(t, -1, w.HeldPhrasing("nope"))
	assert.Equal(t, "", w.HeldKind("Nobody"))
}

func TestSFTRates(t *testing.T) {
	cases := []struct {
		name                string
		cfg                 Config
		wrong, rude, ramble float64
	}{
		{"defaults", Config{Seed: 7}, DefaultWrongRate, DefaultRudeRate, DefaultRambleRate},
		{"custom", Config{Seed: 8, WrongRate: 0.5, RudeRate: -1, RambleRate: 1}, 0.5, 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := New(tc.cfg)
			const n = 5000
			var turns, wrong, rude, ramble, twoTurn int
			for i := range n {
				conv, ts := w.sft(i)
				require.NoError(t, data.ValidateConversation(conv.Messages), conv.Source)
				if len(ts) > 1 {
					twoTurn++
				}
				for _, tr := range ts {
					turns++
					if tr.q.wrong {
						wrong++
					}
					if tr.q.rude {
						rude++
					}
					if tr.q.ramble {
						ramble++
					}
					// The judge sees exactly the flaws the reply was drawn with.
					v := w.Judge(tr.prompt, tr.reply, true)
					require.Equal(t, !tr.q.wrong, v.Correct, "%s: %q", conv.Source, tr.reply)
					require.Equal(t, !tr.q.rude, v.Polite, "%s: %q", conv.Source, tr.reply)
					require.Equal(t, !tr.q.ramble, v.Concise, "%s: %q", conv.Source, tr.reply)
				}
			}
			const tol = 0.025
			f := float64(turns)
			assert.InDelta(t, tc.wrong, float64(wrong)/f, tol)
			assert.InDelta(t, tc.rude, float64(rude)/f, tol)
			assert.InDelta(t, tc.ramble, float64(ramble)/f, tol)
			// Every tenth is small talk; of the rest, TwoTurnRate have two
			// turns, plus the small-talk thank-yous.
			want := 0.9*w.Config().TwoTurnRate + 0.05
			assert.InDelta(t, want, float64(twoTurn)/n, tol)
		})
	}
}

func TestSFTShape(t *testing.T) {
	w := New(Config{Seed: 11})
	convs := w.SFTConversations(400)
	for i, c := range convs {
		assert.Equal(t, "tinyworld:sft:"+strconv.Itoa(i), c.Source)
		require.NoError(t, data.ValidateConversation(c.Messages))
		assert.LessOrEqual(t, len(c.Messages), 4)
		total := 0
		for _, m := range c.Messages {
			assert.NotEqual(t, data.RoleSystem, m.Role)
			assert.LessOrEqual(t, len(m.Content), 120, m.Content)
			total += len(m.Content)
		}
		// Fits a block of 256 characters with the special tokens.
		assert.LessOrEqual(t, total+1+2*len(c.Messages), 256)
	}
	// With no flaws every reply is short.
	clean := New(Config{Seed: 11, WrongRate: -1, RudeRate: -1, RambleRate: -1})
	for _, c := range clean.SFTConversations(400) {
		for _, m := range c.Messages {
			if m.Role == data.RoleAssistant {
				assert.LessOrEqual(t, len(m.Content), 60, m.Content)
			}
		}
	}
}

func TestCoverage(t *testing.T) {
	w := New(Config{Seed: 5})
	n := DefaultPeople*12/10 + 1
	inSFT := make(map[string]bool)
	for i := range n {
		_, ts := w.sft(i)
		for _, tr := range ts {
			inSFT[tr.prompt.Person] = true
			if tr.prompt.Person != "" {
				assert.Contains(t, tr.prompt.User()+tr.prompt.Messages[0].Content, tr.prompt.Person)
			}
		}
	}
	inRL := make(map[string]bool)
	for _, p := range w.RLPrompts(n) {
		inRL[p.Person] = true
	}
	inEval := make(map[string]bool)
	for _, p := range w.EvalPrompts(500) {
		inEval[p.Person] = true
	}
	for _, p := range w.People() {
		assert.True(t, inSFT[p.Name], "%s in SFT", p.Name)
		assert.True(t, inRL[p.Name], "%s in RL", p.Name)
		assert.True(t, inEval[p.Name], "%s in eval", p.Name)
	}

	// Every training combination appears in a modest SFT set.
	combos := make(map[[2]string]bool)
	kinds := make(map[string]bool)
	for i := range 2000 {
		_, ts := w.sft(i)
		for _, tr := range ts {
			combos[[2]string{tr.prompt.Person, tr.prompt.Kind}] = true
			kinds[tr.prompt.Kind] = true
		}
	}
	for _, p := range w.People() {
		for _, k := range factKinds {
			if k != w.HeldKind(p.Name) {
				assert.True(t, combos[[2]string{p.Name, k}], "%s/%s in SFT", p.Name, k)
			}
		}
	}
	for _, k := range allKinds {
		assert.True(t, kinds[k], "kind %s in SFT", k)
	}
}

func TestHeldOut(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		w := New(Config{Seed: seed})
		train := make(map[string]bool)
		checkTrain := func(src string, p Prompt) {
			require.False(t, w.IsHeldOut(p.Kind, p.Person, p.Phrasing), "%s: %+v is held out", src, p)
		}
		for i := range 3000 {
			conv, ts := w.sft(i)
			for _, s := range userTexts(conv.Messages) {
				train[s] = true
			}
			for _, tr := range ts {
				checkTrain(conv.Source, tr.prompt)
			}
		}
		for _, p := range w.RLPrompts(3000) {
			checkTrain("rl", p)
			for _, s := range userTexts(p.Messages) {
				train[s] = true
			}
		}
		for i, r := range w.Preferences(1000) {
			checkTrain("pref", w.trainPrompt(streamPref, i))
			for _, s := range userTexts(r.Prompt) {
				train[s] = true
			}
		}

		eval := w.EvalPrompts(1500)
		distinct := make(map[string]bool)
		for _, p := range eval {
			require.NoError(t, data.ValidatePrompt(p.Messages))
			require.True(t, w.IsHeldOut(p.Kind, p.Person, p.Phrasing), "%+v", p)
			for _, s := range userTexts(p.Messages) {
				require.False(t, train[s], "eval user text %q occurs in training data", s)
			}
			distinct[p.User()+"|"+p.Messages[0].Content] = true
		}
		assert.Greater(t, len(distinct), 1000, "distinct eval prompts")

		// Eval covers both kinds of holdout and every kind.
		var byCombo, byPhrasing int
		kinds := make(map[string]int)
		for _, p := range eval[:500] {
			kinds[p.Kind]++
			if slices.Contains(factKinds, p.Kind) && w.HeldKind(p.Person) == p.Kind {
				byCombo++
			}
			if p.Phrasing == w.HeldPhrasing(p.Kind) {
				byPhrasing++
			}
		}
		assert.Greater(t, byCombo, 200)
		assert.Greater(t, byPhrasing, 100)
		for _, k := range allKinds {
			assert.Positive(t, kinds[k], "kind %s in eval", k)
		}
	}
}

func TestPromptsShape(t *testing.T) {
	w := New(Config{Seed: 9})
	check := func(p Prompt) {
		require.NoError(t, data.ValidatePrompt(p.Messages))
		require.Contains(t, allKinds, p.Kind)
		require.GreaterOrEqual(t, p.Phrasing, 0)
		require.Less(t, p.Phrasing, Phrasings(p.Kind))
		switch p.Kind {
		case KindGreet:
			assert.Empty(t, p.Person)
			assert.Equal(t, "hello", p.Answer)
		case KindThanks:
			assert.Equal(t, "you are welcome", p.Answer)
			assert.Len(t, p.Messages, 3)
			per, ok := w.Person(p.Person)
			require.True(t, ok)
			assert.Contains(t, p.Messages[0].Content, per.Name)
		default:
			per, ok := w.Person(p.Person)
			require.True(t, ok)
			assert.Equal(t, per.Fact(p.Kind), p.Answer)
			assert.Contains(t, p.User(), per.Name)
		}
	}
	for _, p := range w.RLPrompts(500) {
		check(p)
	}
	for _, p := range w.EvalPrompts(500) {
		check(p)
	}
	for _, r := range w.Preferences(200) {
		require.NoError(t, data.ValidatePrompt(r.Prompt))
		require.GreaterOrEqual(t, len(r.Responses), 4)
		assert.Len(t, r.Pairs(), len(r.Responses)*(len(r.Responses)-1)/2)
		seen := make(map[string]bool)
		for _, s := range r.Responses {
			assert.NotEmpty(t, s)
			assert.False(t, seen[s], "repeated response")
			seen[s] = true
		}
	}
}

func TestPreferencesStrictlyRanked(t *testing.T) {
	w := New(Config{Seed: 12})
	for i, r := range w.Preferences(300) {
		p := w.trainPrompt(streamPref, i)
		require.Equal(t, p.Messages, r.Prompt)
		prev := 101.0
		for _, s := range r.Responses {
			sc := w.Judge(p, s, true).Score
			require.Less(t, sc, prev, "%s: responses strictly best first", r.Source)
			prev = sc
		}
		assert.Equal(t, 100.0, w.Judge(p, r.Responses[0], true).Score)
	}
}

func TestAlphabet(t *testing.T) {
	w := New(Config{Seed: 21, People: 40})
	alpha := w.Alphabet()
	assert.Equal(t, alpha, New(Config{Seed: 99, People: 3}).Alphabet(), "alphabet is seed- and size-independent")
	rs := []rune(alpha)
	assert.True(t, slices.IsSorted(rs))
	assert.Equal(t, len(rs), len(slices.Compact(slices.Clone(rs))))
	assert.Less(t, len(rs), 64)
	assert.Contains(t, alpha, "\n")
	assert.NotContains(t, alpha, "{")
	assert.NotContains(t, alpha, "<")

	in := make(map[rune]bool)
	for _, r := range rs {
		in[r] = true
	}
	used := make(map[rune]bool)
	cover := func(src, s string) {
		for _, r := range s {
			used[r] = true
			if !in[r] {
				t.Fatalf("%s: %q not in the alphabet (text %q)", src, r, s)
			}
		}
	}
	cover("pretrain", w.PretrainText())
	strict := New(Config{Seed: 21, People: 40, StrictPretrain: true, PretrainBytes: 50_000})
	cover("pretrain strict", strict.PretrainText())
	for _, c := range w.SFTConversations(2000) {
		for _, m := range c.Messages {
			cover(c.Source, m.Content)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, ps := range [][]Prompt{w.RLPrompts(1000), w.EvalPrompts(1500)} {
		for _, p := range ps {
			for _, m := range p.Messages {
				cover("prompt", m.Content)
			}
			cover("answer", p.Answer)
			cover("canonical", w.Canonical(p))
			for _, c := range w.Candidates(p, rng) {
				cover("candidate", c)
			}
		}
	}
	for _, r := range w.Preferences(300) {
		for _, s := range r.Responses {
			cover(r.Source, s)
		}
	}
	// Nearly every character of the alphabet is actually used.
	assert.GreaterOrEqual(t, len(used), len(rs)-3)
}

func TestPretrainText(t *testing.T) {
	w := New(Config{Seed: 4})
	txt := w.PretrainText()
	assert.GreaterOrEqual(t, len(txt), DefaultPretrainBytes)
	assert.Less(t, len(txt), DefaultPretrainBytes+300)
	assert.True(t, strings.HasSuffix(txt, "\n"))
	for _, p := range w.People() {
		f := factsOf(p)
		assert.GreaterOrEqual(t, strings.Count(txt, p.Name), 100, "%s is mentioned often", p.Name)
		for _, k := range factKinds {
			s := fill(goodReplies[k][0], f)
			assert.True(t, strings.Contains(txt, s), "fact %q in the text", s)
			// Every question kind is asked about everyone, in most phrasings.
			asked := 0
			for i := range Phrasings(k) {
				if strings.Contains(txt, question(k, i, p)+" ") {
					asked++
				}
			}
			assert.GreaterOrEqual(t, asked, Phrasings(k)-2, "%s/%s asked in Q/A lines", p.Name, k)
		}
	}
	for _, l := range strings.Split(strings.TrimSuffix(txt, "\n"), "\n") {
		assert.NotEmpty(t, l)
		assert.LessOrEqual(t, len(l), 256, l)
	}
	for _, s := range []string{"question: hello! answer: ", "you are welcome", "the people of "} {
		assert.True(t, strings.Contains(txt, s), s)
	}

	// A tiny size still states every fact.
	tiny := New(Config{Seed: 4, PretrainBytes: 10})
	small := tiny.PretrainText()
	for _, p := range tiny.People() {
		s := fill(goodReplies[KindHome][0], factsOf(p))
		assert.True(t, strings.Contains(small, s), s)
	}
	assert.Less(t, len(small), 3000)

	// Held-out questions: asked in the default text, never with
	// StrictPretrain (whose text still states every fact).
	var inDefault int
	for _, p := range w.EvalPrompts(230) {
		if strings.Contains(txt, p.User()) {
			inDefault++
		}
	}
	assert.Greater(t, inDefault, 150)
	for seed := range uint64(8) {
		strict := New(Config{Seed: seed, StrictPretrain: true, PretrainBytes: 60_000})
		stxt := strict.PretrainText()
		for _, p := range strict.EvalPrompts(230) {
			u := p.User()
			for _, frame := range [][2]string{
				{"question: ", " answer:"}, {"friend asked: ", " i said:"},
				{"friend said: ", " i said:"}, {"if you ask ", " the answer"},
			} {
				asked := frame[0] + u + frame[1]
				assert.False(t, strings.Contains(stxt, asked), "strict text (seed %d) asks %q", seed, asked)
			}
			if p.Kind != KindGreet && p.Kind != KindThanks {
				assert.False(t, strings.Contains(stxt, u+" "), "strict text (seed %d) has %q", seed, u)
			}
		}
		for _, p := range strict.People() {
			for _, k := range factKinds {
				s := fill(goodReplies[k][0], factsOf(p))
				assert.True(t, strings.Contains(stxt, s), "fact %q stays in the strict text", s)
			}
		}
	}
}

func TestVocabulary(t *testing.T) {
	lex := newLexicon()
	// Fact words are distinct across categories.
	n := len(names) + len(towns) + len(countWords) + 2*len(objects) + len(jobs) + len(colours)
	assert.Len(t, lex, n)
	// Templates hold no fact words, politeness and rudeness words are
	// neither facts nor each other.
	var tmpls []string
	for _, m := range []map[string][]string{phrasings, goodReplies, factForms} {
		for _, v := range m {
			tmpls = append(tmpls, v...)
		}
	}
	tmpls = append(tmpls, questionPrefixes...)
	tmpls = append(tmpls, factRudePrefixes...)
	tmpls = append(tmpls, rudePrefixes...)
	tmpls = append(tmpls, rudeSuffixes...)
	tmpls = append(tmpls, rambles...)
	tmpls = append(tmpls, qaForms...)
	tmpls = append(tmpls, smallTalk...)
	tmpls = append(tmpls, townForms...)
	tmpls = append(tmpls, idk, dismissive)
	for _, s := range tmpls {
		for _, wd := range words(stripPlaceholders(s)) {
			_, ok := lex.lookup(wd)
			assert.False(t, ok, "template %q has fact word %q", s, wd)
		}
	}
	for _, s := range append(append(slices.Clone(politeWords), greetWords...), thanksWords...) {
		assert.NotContains(t, lex, s)
		assert.NotContains(t, rudeWords, s)
	}
	// Rambles: no polite or rude marker and long enough to be irrelevant.
	w := New(Config{})
	for _, s := range rambles {
		ws := words(s)
		assert.False(t, isRude(ws), s)
		assert.False(t, w.relevant(ws), s)
		assert.False(t, hasAny(ws, greetWords, greetPhrases), s)
		assert.False(t, hasAny(ws, thanksWords, thanksPhrases), s)
	}
	// Every rude opening and closing is recognised as rude; good replies
	// and question prefixes are not.
	for _, s := range append(append(slices.Clone(factRudePrefixes), rudePrefixes...), rudeSuffixes...) {
		assert.True(t, isRude(words(s)), s)
	}
	for _, v := range goodReplies {
		for _, s := range v {
			assert.False(t, isRude(words(stripPlaceholders(s))), s)
		}
	}
	for _, s := range append(append(slices.Clone(questionPrefixes), smallTalk...), idk) {
		assert.False(t, isRude(words(s)), s)
	}
	for _, k := range allKinds {
		assert.Len(t, phrasings[k], 6, k)
		assert.Len(t, slices.Compact(slices.Sorted(slices.Values(phrasings[k]))), 6, "distinct phrasings of %s", k)
	}
}
