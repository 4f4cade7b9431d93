package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tinyworld"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/retrieval"
	"github.com/tinychat-go/tinychat/tools"
)

// TestSearchCalcProbe probes why a run's chat models fail the search-then-calculate skill:
// it shows the training demonstrations as SFT renders them, then asks the SFT (and RLHF)
// model the report card's held-out search-calc prompts (SkillEvalPrompts, greedy, the
// calculator and a BM25 search of the news with one passage, as skills_eval.go's chatRow)
// and, as a control, the training-distribution prompts of RL (SkillRLPrompts: the training
// news people and phrasings), and the eval prompts with their new person renamed to a
// realistic name no data uses or to an invented one like the demonstrations'. For each it counts whether the turn searches, with the
// demonstrations' query ("NAME stamps") for the right person, whether the result holds the
// right number, whether the calculation uses it, and whether the answer is right; and, with
// the canonical search (then calculation) forced into the turn, what the model does next. It
// runs only with TINYCHAT_RUN set to a finished run folder, relative to the repository's root
// (TINYCHAT_PROBE_STAGES: the checkpoints, default "sft,rlhf"). It fails when the SFT model
// answers fewer than 90% of the control prompts (it did not learn the demonstrations' form):
//
//	TINYCHAT_RUN=runs/sk3 go test -run SearchCalcProbe -v -count=1 ./examples/tinychat
func TestSearchCalcProbe(t *testing.T) {
	dir, pl := probedRun(t, "its search-then-calculate skill")
	stages := []string{"sft", "rlhf"}
	if s := os.Getenv("TINYCHAT_PROBE_STAGES"); s != "" {
		stages = strings.Split(s, ",")
	}
	w := newWorld(pl.Seed)
	ctx := context.Background()

	ps, bm, err := newsIndex(w)
	require.NoError(t, err)
	full, _, err := skillRegistries(bm)
	require.NoError(t, err)

	// The news store's new people: who is held out of the chat data.
	held := map[string]bool{}
	stampsOf := map[string]string{} // number → whose stamps (news people and world people)
	for _, n := range w.News() {
		if n.Change == tinyworld.NewsNewPerson {
			held[n.Person] = n.Held
			cur, _ := w.Current(n.Person)
			stampsOf[strconv.Itoa(cur.Stamps)] = n.Person + "(news"
			if n.Held {
				stampsOf[strconv.Itoa(cur.Stamps)] += ",held)"
			} else {
				stampsOf[strconv.Itoa(cur.Stamps)] += ",train)"
			}
			t.Logf("news new person %-6s held=%-5v stamps=%d passages=%q", n.Person, n.Held, cur.Stamps, n.Passages)
		}
	}
	for _, per := range w.People() {
		if s, ok := w.Stamps(per.Name); ok {
			stampsOf[strconv.Itoa(s)] = per.Name + "(world)"
		}
	}

	ck0, err := model.LoadStage(filepath.Join(dir, "sft.safetensors"), model.StageSFT, model.StageRLHF)
	require.NoError(t, err)
	tok := ck0.Tokenizer

	// --- The SFT data: the search-calc demonstrations as sftMix renders them. ---
	nDemos := pl.skillDemos()
	block := max(pl.SFTBlock, skillsMinBlock)
	demos := w.SkillDemos(tinyworld.SkillSearchCalc, nDemos)
	var lens []int
	truncated, invented, newsNamed := 0, 0, 0
	trainNames := map[string]int{}
	trainPhr := map[string]bool{}
	for i, d := range demos {
		ids, _, err := data.RenderChat(tok, d.Chat(true))
		require.NoError(t, err)
		lens = append(lens, len(ids))
		if len(ids)-1 > block {
			truncated++
		}
		fresh := searchedPerson(w, d.Prompt)
		if _, ok := held[fresh]; ok {
			newsNamed++
			trainNames[fresh]++
		} else {
			invented++
		}
		trainPhr[fmt.Sprintf("%s/%d", d.Kind, d.Phrasing)] = true
		if i < 6 {
			t.Logf("TRAIN demo %d (fresh %s): %s", i, fresh, showChat(d.Chat(true)))
		}
	}
	sort.Ints(lens)
	t.Logf("TRAIN search-calc demos: %d (plan.SkillDemos); news-store people %d %v, invented people %d; rendered tokens min %d median %d max %d; over the SFT block of %d (cut at the front by FitBlock): %d",
		len(demos), newsNamed, trainNames, invented, lens[0], lens[len(lens)/2], lens[len(lens)-1], block, truncated)
	for _, skill := range []string{tinyworld.SkillCalc, tinyworld.SkillUnknown, tinyworld.SkillNews} {
		ds := w.SkillDemos(skill, nDemos)
		inv := 0
		for _, d := range ds {
			if _, ok := w.Current(d.Person); !ok && d.Person != "" {
				inv++
			}
		}
		t.Logf("TRAIN %s demos: %d (about people not in the world or the news: %d); e.g. %s", skill, len(ds), inv, showChat(ds[1].Chat(true)))
	}
	unk := w.SkillDemos(tinyworld.SkillUnknown, nDemos)
	unkStamps := 0
	for _, d := range unk {
		if d.Kind == tinyworld.KindStamps {
			unkStamps++
		}
	}
	t.Logf("TRAIN unknown demos asking the stamps of nobody (refused): %d of %d", unkStamps, len(unk))

	// --- Eval prompts: their form against the training demos'. ---
	evalPs := w.SkillEvalPrompts(tinyworld.SkillSearchCalc, 100)
	rlPs := w.SkillRLPrompts(tinyworld.SkillSearchCalc, 100)
	evalNames := map[string]int{}
	unseenPhr := 0
	for _, p := range evalPs {
		evalNames[searchedPerson(w, p)]++
		if !trainPhr[fmt.Sprintf("%s/%d", p.Kind, p.Phrasing)] {
			unseenPhr++
		}
	}
	inChat := map[string]bool{}
	for name := range evalNames {
		for _, skill := range tinyworld.Skills() {
			for _, d := range w.SkillDemos(skill, nDemos) {
				for _, m := range d.Chat(true) {
					if slices.Contains(strings.FieldsFunc(m.Content, func(r rune) bool { return r == ' ' || r == '.' || r == '?' || r == '\'' || r == ',' }), name) {
						inChat[name] = true
					}
				}
			}
		}
	}
	t.Logf("EVAL prompts: new people %v (seen in any SFT demo: %v); phrasings never in the training demos: %d of %d", evalNames, inChat, unseenPhr, len(evalPs))

	// The same eval prompts with the held-out new person renamed (same stamps, same passage
	// form, the passage added to the searched store): to a realistic name no data ever uses (the
	// news names this world does not draw), and to an invented name of the demonstrations' kind
	// (from demonstrations past the plan's, never trained on).
	var spare []string
	for _, n := range []string{"Bram", "Cleo", "Dora", "Emil", "Flora", "Greta", "Ivan", "Jonas", "Lena", "Mara", "Nico", "Otto"} {
		if _, ok := w.Current(n); !ok {
			spare = append(spare, n)
		}
	}
	var inventedNames []string
	for i, d := range w.SkillDemos(tinyworld.SkillSearchCalc, nDemos+400) {
		if i >= nDemos && i%2 == 1 {
			inventedNames = append(inventedNames, searchedPerson(w, d.Prompt))
		}
	}
	realistic, regReal := renamed(t, w, evalPs, spare, ps)
	inventedPs, regInv := renamed(t, w, evalPs, inventedNames, ps)
	t.Logf("spare realistic names (in no data): %v; invented names: %v...", spare, inventedNames[:8])
	for _, name := range append(append([]string{"Cleo", "Cole", "Lena", "Leo", "Bram", "Ben", "Otto", "Flora", "Greta"}, spare...), inventedNames[:4]...) {
		ids, err := tok.Encode(" " + name)
		require.NoError(t, err)
		var pieces []string
		for _, id := range ids {
			s, _ := tok.Decode([]int32{id})
			pieces = append(pieces, s)
		}
		t.Logf("BPE %-6s → %q", name, pieces)
	}

	for _, stage := range stages {
		ck, err := model.LoadStage(filepath.Join(dir, stage+".safetensors"), model.StageSFT, model.StageRLHF)
		require.NoError(t, err)
		asst, err := chat.NewAssistant(ck.Model, ck.Tokenizer, 1)
		require.NoError(t, err)
		eng, err := model.NewEngine(ck.Model, 1)
		require.NoError(t, err)
		for _, set := range []struct {
			name string
			ps   []tinyworld.Prompt
			reg  *tools.Registry
			show int
		}{
			{"eval (held-out news people)", evalPs, full, 15},
			{"control: RL prompts (training news people)", rlPs, full, 3},
			{"eval renamed: realistic unseen names", realistic, regReal, 4},
			{"eval renamed: invented names", inventedPs, regInv, 4},
		} {
			st := probeSet(t, ctx, w, asst, eng, ck.Tokenizer, set.reg, stampsOf, stage, set.name, set.ps, set.show)
			if stage == "sft" && set.ps[0].Person == rlPs[0].Person {
				// The demonstrations' own people: an SFT model that learned the demonstrations'
				// form answers nearly all (runs/sk3: 99 of 100).
				require.GreaterOrEqual(t, float64(st.correct)/float64(st.n), 0.9, "SFT on the training news people")
			}
		}
	}
}

// renamed returns ps with each prompt's new person renamed to names[i%len(names)] (the same
// stamps, the passage in the news's form) and a registry whose search also finds the renamed
// passages.
func renamed(t *testing.T, w *tinyworld.World, ps []tinyworld.Prompt, names []string, news []retrieval.Passage) ([]tinyworld.Prompt, *tools.Registry) {
	t.Helper()
	out := make([]tinyworld.Prompt, len(ps))
	store := slices.Clone(news)
	for i, p := range ps {
		from, to := searchedPerson(w, p), names[i%len(names)]
		cur, _ := w.Current(from)
		q := p
		q.Messages = slices.Clone(p.Messages)
		for j := range q.Messages {
			q.Messages[j].Content = strings.ReplaceAll(q.Messages[j].Content, from, to)
		}
		if q.Person == from {
			q.Person = to
		} else {
			q.Other = to
		}
		q.Passages = []string{fmt.Sprintf("%s has %d stamps.", to, cur.Stamps)}
		if !slices.ContainsFunc(store, func(r retrieval.Passage) bool { return r.Text == q.Passages[0] }) {
			store = append(store, retrieval.Passage{ID: len(store), Doc: "news", Text: q.Passages[0]})
		}
		out[i] = q
	}
	bm, err := retrieval.NewBM25(store, 0, 0)
	require.NoError(t, err)
	reg, _, err := skillRegistries(bm)
	require.NoError(t, err)
	return out, reg
}

// searchCalcStats are the probe's counts over one set of prompts.
type searchCalcStats struct {
	n, correct, searched, searchedFirst, queryExact, queryName, resultRight, calcUsesResult, calcExact, correctGivenExact        int
	forcedCalcExact, forcedCalcUsesResult, forcedCorrect, refused, noSearchFreshRight, noSearchKnownRight, noSearchCalc, unended int
	operandSources                                                                                                               map[string]int
	perName                                                                                                                      map[string][3]int // n, searched, correct
}

var numRE = regexp.MustCompile(`\d+`)

// probeSet runs one set of prompts through one model and logs the turns and the counts.
func probeSet(t *testing.T, ctx context.Context, w *tinyworld.World, asst *chat.Assistant, eng *model.Engine, tok tokenizer.Tokenizer,
	full *tools.Registry, stampsOf map[string]string, stage, name string, ps []tinyworld.Prompt, show int) searchCalcStats {
	t.Helper()
	reg := chat.ToolConfig{Tools: full} // as chatRow
	st := searchCalcStats{operandSources: map[string]int{}, perName: map[string][3]int{}}
	for i, pr := range ps {
		g, err := asst.ReplyWithTools(ctx, pr.Messages, model.SampleConfig{MaxNewTokens: skillReplyTokens}, reg)
		require.NoError(t, err)
		v := w.Judge(pr, turnText(g), g.Ended)
		fresh := searchedPerson(w, pr)
		known := pr.Person
		if known == fresh {
			known = pr.Other
		}
		knownPro, _ := w.Profile(known)
		freshN, knownN := numRE.FindString(pr.Passages[0]), strconv.Itoa(knownPro.Stamps)
		canon := tinyworld.Demo{Prompt: pr, Steps: w.SkillSteps(pr)}

		st.n++
		st.correct += int(b2f(v.Correct && v.Ended))
		st.refused += int(b2f(v.Refused))
		st.unended += int(b2f(!g.Ended))
		var searchResult string
		searched, calcDone := false, false
		for j, c := range g.Calls {
			switch c.Name {
			case tinyworld.ToolSearch:
				if !searched {
					searched = true
					searchResult = c.Result
					st.searchedFirst += int(b2f(j == 0))
					st.queryExact += int(b2f(c.Text == tinyworld.ToolSearch+" "+fresh+" stamps"))
					st.queryName += int(b2f(strings.Contains(c.Text, fresh)))
					st.resultRight += int(b2f(slices.Contains(numRE.FindAllString(c.Result, -1), freshN)))
				}
			case tinyworld.ToolCalculator:
				if calcDone {
					continue
				}
				calcDone = true
				expr := strings.TrimSpace(strings.TrimPrefix(c.Text, tinyworld.ToolCalculator))
				exact := expr == pr.Expression
				st.calcExact += int(b2f(exact))
				st.correctGivenExact += int(b2f(exact && v.Correct && v.Ended))
				ops := numRE.FindAllString(expr, -1)
				if searched {
					for _, m := range numRE.FindAllString(searchResult, -1) {
						if slices.Contains(ops, m) {
							st.calcUsesResult++
							break
						}
					}
				} else {
					st.noSearchCalc++
					st.noSearchFreshRight += int(b2f(slices.Contains(ops, freshN)))
					st.noSearchKnownRight += int(b2f(slices.Contains(ops, knownN)))
					for _, o := range ops {
						src := stampsOf[o]
						switch {
						case o == knownN:
							src = "the known person's (right)"
						case o == freshN:
							src = "the new person's (right)"
						case src == "":
							src = "nobody's"
						default:
							src = "someone else's: " + src
						}
						st.operandSources[src]++
					}
				}
			}
		}
		st.searched += int(b2f(searched))
		pn := st.perName[fresh]
		pn[0]++
		pn[1] += int(b2f(searched))
		pn[2] += int(b2f(v.Correct && v.Ended))
		st.perName[fresh] = pn

		// Forced: the canonical search call and its result, then the model goes on.
		forcedCalc, forcedReply, forcedOK := forcedTurn(t, ctx, w, eng, tok, pr, canon)
		expr := strings.TrimSpace(strings.TrimPrefix(forcedCalc, tinyworld.ToolCalculator))
		st.forcedCalcExact += int(b2f(expr == pr.Expression))
		st.forcedCalcUsesResult += int(b2f(slices.Contains(numRE.FindAllString(expr, -1), freshN)))
		st.forcedCorrect += int(b2f(forcedOK))

		if i < show {
			if !g.Ended {
				raw, err := tok.Decode(g.Tokens)
				require.NoError(t, err)
				t.Logf("    (unended turn, raw tokens: %q)", raw)
			}
			t.Logf("[%s | %s #%d] user: %q\n    new person %s (%s stamps), known %s (%s); expected %s = %s\n    canonical: %s\n    model:     %s\n    verdict: correct=%v ended=%v refused=%v answer=%q score=%.0f\n    forced search → model's calc: %q; forced search+calc → reply %q",
				stage, name, i, pr.User(), fresh, freshN, known, knownN, pr.Expression, pr.Answer,
				showSteps(canon.Steps), showTurn(g), v.Correct, v.Ended, v.Refused, v.Answer, v.Score, forcedCalc, forcedReply)
		}
	}
	f := func(k int) string { return fmt.Sprintf("%d/%d", k, st.n) }
	var per []string
	for name, c := range st.perName {
		per = append(per, fmt.Sprintf("%s: n %d searched %d correct %d", name, c[0], c[1], c[2]))
	}
	sort.Strings(per)
	if len(per) > 8 {
		per = per[:8]
	}
	t.Logf("SUMMARY [%s | %s] n=%d correct %s; refused %s; unended %s\n    per new person: %s\n"+
		"    searched %s (as the first call %s); query exactly \"NAME stamps\" %s; query names the new person %s; search result holds the new person's stamps %s; calc uses a number of the result %d/%d searched\n"+
		"    first calc exactly the expression %s; correct given an exact calc %d/%d\n"+
		"    without search: %d calcs, with the new person's right stamps %d, with the known person's right stamps %d; operands: %v\n"+
		"    FORCED canonical search: the model's calc is exact %s, uses the searched number %s; forced search+calc → correct reply %s",
		stage, name, st.n, f(st.correct), f(st.refused), f(st.unended), strings.Join(per, "; "),
		f(st.searched), f(st.searchedFirst), f(st.queryExact), f(st.queryName), f(st.resultRight), st.calcUsesResult, st.searched,
		f(st.calcExact), st.correctGivenExact, st.calcExact,
		st.noSearchCalc, st.noSearchFreshRight, st.noSearchKnownRight, st.operandSources,
		f(st.forcedCalcExact), f(st.forcedCalcUsesResult), f(st.forcedCorrect))
	return st
}

// forcedTurn renders the canonical turn (search, calculation, reply) and lets the model go on
// greedily twice: after the search's result (what calculation it writes), and after the
// calculator's result (its reply, judged).
func forcedTurn(t *testing.T, ctx context.Context, w *tinyworld.World, eng *model.Engine, tok tokenizer.Tokenizer, pr tinyworld.Prompt, canon tinyworld.Demo) (calc, reply string, correct bool) {
	t.Helper()
	ids, _, err := data.RenderChat(tok, canon.Chat(true))
	require.NoError(t, err)
	var ends []int
	for i, id := range ids {
		if id == tokenizer.ToolResultEnd {
			ends = append(ends, i)
		}
	}
	require.Len(t, ends, 2, "the canonical turn searches then calculates")
	gen := func(prefix []int32) []int32 {
		out, err := eng.Generate(ctx, prefix, model.SampleConfig{MaxNewTokens: 40, StopTokens: []int32{tokenizer.ToolCallEnd, tokenizer.End}})
		require.NoError(t, err)
		return out[0].Tokens
	}
	toks := gen(slices.Clone(ids[:ends[0]+1]))
	var plain []int32
	for _, id := range toks {
		if !tokenizer.IsSpecial(tok, id) {
			plain = append(plain, id)
		}
	}
	calc, err = tok.Decode(plain)
	require.NoError(t, err)
	toks = gen(slices.Clone(ids[:ends[1]+1]))
	ended := len(toks) > 0 && toks[len(toks)-1] == tokenizer.End
	plain = plain[:0]
	for _, id := range toks {
		if tokenizer.IsSpecial(tok, id) {
			break
		}
		plain = append(plain, id)
	}
	reply, err = tok.Decode(plain)
	require.NoError(t, err)
	v := w.Judge(pr, strings.TrimSpace(reply), ended)
	return calc, reply, v.Correct && ended
}

// showChat writes a conversation on one line, calls as [call → result].
func showChat(msgs []data.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		switch m.Role {
		case data.RoleToolCall:
			fmt.Fprintf(&b, "[%s → ", m.Content)
		case data.RoleToolResult:
			fmt.Fprintf(&b, "%s] ", m.Content)
		default:
			fmt.Fprintf(&b, "%s: %s ", m.Role, m.Content)
		}
	}
	return strings.TrimSpace(b.String())
}

// showSteps writes demonstration steps on one line.
func showSteps(steps []tinyworld.Step) string {
	var parts []string
	for _, s := range steps {
		parts = append(parts, s.String())
	}
	return strings.Join(parts, " ")
}
