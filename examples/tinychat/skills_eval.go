package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tinyworld"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/prompt"
	"github.com/tinychat-go/tinychat/retrieval"
	"github.com/tinychat-go/tinychat/tools"
)

// SkillsReport is the skills' part of the report card (report.json's "skills").
type SkillsReport struct {
	// Tables are one per skill (tinyworld.Skills, then "fewshot" for the base model).
	Tables []SkillTable `json:"tables"`
	// Retrieval holds recall@1 and recall@3 of each retriever ("bm25", "pooled" — the SFT
	// model's mean-pooled hidden states —, "encoder" — retrieval.Encoder trained on the
	// training demonstrations' question/passage pairs) over the held-out news and
	// search-then-calculate questions ("queries": their number) against the news store.
	Retrieval map[string]float64 `json:"retrieval"`
	// SFTDirect is the #16 ablation's SFT (held-out loss, seconds).
	SFTDirect map[string]float64 `json:"sft_direct"`
	// EvalSeconds is the wall time of the skills' evaluation.
	EvalSeconds float64 `json:"eval_seconds"`
}

// SkillTable is one skill's measurements: a row per model and setting.
type SkillTable struct {
	Skill string `json:"skill"`
	Title string `json:"title"`
	// Columns are the measures shown, in order; a row may lack some (shown as "–"). Names
	// ending in "_rate" are fractions of the row's prompts; gold_* are mean judge scores
	// (0–100); the rest say what they count.
	Columns []string   `json:"columns"`
	Rows    []SkillRow `json:"rows"`
	Notes   []string   `json:"notes,omitempty"`
}

// SkillRow is a model in one setting, measured over N prompts.
type SkillRow struct {
	Model   string             `json:"model"`
	Setting string             `json:"setting"`
	N       int                `json:"n"`
	Values  map[string]float64 `json:"values"`
	// ByKind is the greedy correct rate per question kind, when the prompts are of several.
	ByKind map[string]float64 `json:"by_kind,omitempty"`
	// Example is the greedy turn to the row's first prompt, tool calls shown as
	// [call → result].
	Example string `json:"example"`
	// Sampled are the judge's scores of the sampled turns, one per prompt in the row's order
	// (the rows of chat models): what gold_sampled averages and the paired differences to
	// SFT come from.
	Sampled []float64 `json:"sampled,omitempty"`
}

// errExecutionDisabled is the calculator's and the search's failure in the
// execution-disabled registry: the model's calls are read, never run.
var errExecutionDisabled = errors.New("execution disabled")

// disabledTool is a tool of the given name that fails every call with errExecutionDisabled.
func disabledTool(name string) tools.Tool {
	return tools.Func{ToolName: name, Desc: name + " (execution disabled)", F: func(context.Context, string) (string, error) {
		return "", errExecutionDisabled
	}}
}

// skillEval holds what every skill table needs.
type skillEval struct {
	p      *pipeline
	w      *tinyworld.World
	n      int
	seed   uint64
	tok    tokenizer.Tokenizer
	block  int
	models map[string]*chat.Assistant // "sft", "sft-direct", "rlhf"
	base   *model.Model
	// full runs the calculator and a search of the news (BM25, one passage, as the
	// demonstrations' searches); disabled has both tools fail in-band.
	full, disabled *tools.Registry
	passages       []retrieval.Passage
	retrievers     map[string]retrieval.Retriever
}

// searchPrefixMin is the shortest unknown query term the search tool completes by prefix.
const searchPrefixMin = 3

// newsIndex returns the news store's passages and their BM25 index (the search tool's, the
// retrievers' baseline), with the extra passages after them (RL's invented people: Doc "rl").
func newsIndex(w *tinyworld.World, extra ...string) ([]retrieval.Passage, *retrieval.BM25, error) {
	var ps []retrieval.Passage
	for i, s := range w.NewsPassages() {
		ps = append(ps, retrieval.Passage{ID: i, Doc: "news", Text: s})
	}
	for _, s := range extra {
		ps = append(ps, retrieval.Passage{ID: len(ps), Doc: "rl", Text: s})
	}
	bm, err := retrieval.NewBM25(ps, 0, 0)
	return ps, bm, err
}

// newsRetrievers indexes the news store with BM25, the pooled hidden states of m, and an
// encoder trained on the training demonstrations' question/passage pairs.
func newsRetrievers(ctx context.Context, w *tinyworld.World, m *model.Model, tok tokenizer.Tokenizer, demos int, seed uint64) ([]retrieval.Passage, map[string]retrieval.Retriever, error) {
	ps, bm, err := newsIndex(w)
	if err != nil {
		return nil, nil, err
	}
	rs := map[string]retrieval.Retriever{"bm25": bm}
	pooled, err := retrieval.NewPooledEmbedder(m, tok)
	if err != nil {
		return nil, nil, err
	}
	var pairs []retrieval.Pair
	for _, skill := range []string{tinyworld.SkillNews, tinyworld.SkillSearchCalc, tinyworld.SkillReading} {
		for _, d := range w.SkillDemos(skill, demos) {
			for _, p := range d.Passages {
				pairs = append(pairs, retrieval.Pair{Query: d.User(), Passage: p})
			}
			for _, s := range d.Steps {
				if s.Tool == tinyworld.ToolSearch {
					pairs = append(pairs, retrieval.Pair{Query: s.Input, Passage: s.Output})
				}
			}
		}
	}
	enc, _, err := retrieval.TrainEncoder(ctx, pairs, retrieval.EncoderConfig{Seed: seed})
	if err != nil {
		return nil, nil, fmt.Errorf("training the retrieval encoder: %w", err)
	}
	for name, emb := range map[string]interface {
		retrieval.Embedder
		Dim() int
	}{"pooled": pooled, "encoder": enc} {
		idx, err := retrieval.NewFlatIndex(emb.Dim())
		if err != nil {
			return nil, nil, err
		}
		v, err := retrieval.NewVectors(ctx, emb, idx, ps)
		if err != nil {
			return nil, nil, fmt.Errorf("indexing the news with the %s embedder: %w", name, err)
		}
		rs[name] = v
	}
	return ps, rs, nil
}

// newsQueries are the held-out questions with the IDs of the passages that answer them.
func newsQueries(prompts []tinyworld.Prompt, ps []retrieval.Passage) ([]retrieval.Query, error) {
	var qs []retrieval.Query
	for _, p := range prompts {
		var rel []int
		for _, want := range p.Passages {
			for _, q := range ps {
				if q.Text == want {
					rel = append(rel, q.ID)
				}
			}
		}
		if len(rel) == 0 {
			return nil, fmt.Errorf("%q: its passages %q are not in the news store", p.User(), p.Passages)
		}
		qs = append(qs, retrieval.Query{Text: p.User(), Relevant: rel})
	}
	return qs, nil
}

// skillRegistries returns the registry of the calculator and a BM25 search of the news with
// one passage, and the one whose calculator and search fail in-band. The search matches a
// query's unknown terms of three letters or more by prefix (BM25.WithPrefixes): the model
// copies a name it has never seen into its query less reliably than it reads one ("search
// Cle stamps" for Cleo), and a search engine tolerates that.
func skillRegistries(bm *retrieval.BM25) (full, disabled *tools.Registry, err error) {
	full, err = tools.NewRegistry(tools.Calculator{}, tools.Search{Retriever: bm.WithPrefixes(searchPrefixMin), K: 1})
	if err != nil {
		return nil, nil, err
	}
	disabled, err = tools.NewRegistry(disabledTool(tinyworld.ToolCalculator), disabledTool(tinyworld.ToolSearch))
	return full, disabled, err
}

// evaluateSkills measures every skill on its held-out prompts and returns the tables.
func (p *pipeline) evaluateSkills(ctx context.Context) (*SkillsReport, error) {
	t0 := now()
	e := &skillEval{p: p, w: p.world, n: p.plan.skillEvalPrompts(), models: map[string]*chat.Assistant{}}
	e.seed = p.plan.EvalSeed
	if e.seed == 0 {
		e.seed = p.plan.Seed + 1000
	}
	for _, s := range []string{"sft", "sft-direct", "rlhf"} {
		path := p.paths.stage(s)
		if s == "rlhf" {
			path = p.paths.stage(p.policyStage())
		}
		ck, err := model.LoadStage(path, model.StageSFT, model.StageRLHF)
		if err != nil {
			return nil, err
		}
		if err := tokenizer.RequireToolTokens(ck.Tokenizer); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		a, err := chat.NewAssistant(ck.Model, ck.Tokenizer, skillEvalBatch)
		if err != nil {
			return nil, err
		}
		e.models[s] = a
		if s == "sft" {
			e.tok, e.block = ck.Tokenizer, ck.Model.Config.BlockSize
			ps, rs, err := newsRetrievers(ctx, p.world, ck.Model, ck.Tokenizer, p.plan.skillDemos(), p.plan.Seed)
			if err != nil {
				return nil, err
			}
			e.passages, e.retrievers = ps, rs
		}
	}
	base, err := model.LoadStage(p.paths.stage("pretrain"), model.StagePretrain)
	if err != nil {
		return nil, err
	}
	e.base = base.Model
	_, bm, err := newsIndex(p.world)
	if err != nil {
		return nil, err
	}
	if e.full, e.disabled, err = skillRegistries(bm); err != nil {
		return nil, err
	}
	r := &SkillsReport{Retrieval: map[string]float64{}, SFTDirect: map[string]float64{
		"val_loss": p.metrics["sft-direct"]["val_loss"], "seconds": p.seconds["sft-direct"],
	}}
	queries, err := newsQueries(append(p.world.SkillEvalPrompts(tinyworld.SkillNews, e.n), p.world.SkillEvalPrompts(tinyworld.SkillSearchCalc, e.n)...), e.passages)
	if err != nil {
		return nil, err
	}
	r.Retrieval["queries"] = float64(len(queries))
	for _, name := range []string{"bm25", "pooled", "encoder"} {
		for _, k := range []int{1, 3} {
			rec, err := retrieval.Recall(ctx, e.retrievers[name], queries, k)
			if err != nil {
				return nil, fmt.Errorf("recall of %s: %w", name, err)
			}
			r.Retrieval[fmt.Sprintf("%s_recall@%d", name, k)] = rec
		}
	}
	for _, f := range []func(context.Context) (SkillTable, error){
		e.factsTable, e.calcTable, e.unknownTable, e.newsTable, e.searchCalcTable, e.multiHopTable, e.readingTable, e.fewShotTable,
	} {
		t, err := f(ctx)
		if err != nil {
			return nil, fmt.Errorf("skill table %s: %w", t.Skill, err)
		}
		p.logf("skills: %s table done (%.0fs)", t.Skill, now().Sub(t0).Seconds())
		pairedRLHFvsSFT(&t)
		r.Tables = append(r.Tables, t)
	}
	r.EvalSeconds = now().Sub(t0).Seconds()
	return r, nil
}

// pairedRLHFvsSFT adds to each RLHF row that has an SFT row in the same setting (same prompts,
// same sampling seeds) the difference of their sampled gold, prompt by prompt:
// "gold_sampled_vs_sft" (the mean difference) and "gold_sampled_vs_sft_se" (its standard
// error, the sample standard deviation of the differences over √n), and a note that says
// them. With the default 300 prompts and one sampled reply each, a difference within about two
// standard errors (1.4–3.2 points in the default run) is what resampling the same models would
// give.
func pairedRLHFvsSFT(t *SkillTable) {
	sft := map[string][]float64{}
	for _, r := range t.Rows {
		if r.Model == "sft" && len(r.Sampled) > 1 {
			sft[r.Setting] = r.Sampled
		}
	}
	var parts []string
	for i := range t.Rows {
		r := &t.Rows[i]
		base, ok := sft[r.Setting]
		if r.Model != "rlhf" || !ok || len(base) != len(r.Sampled) {
			continue
		}
		mean, se := pairedDifference(r.Sampled, base)
		r.Values["gold_sampled_vs_sft"], r.Values["gold_sampled_vs_sft_se"] = mean, se
		parts = append(parts, fmt.Sprintf("%s %+.1f ± %.1f", r.Setting, mean, se))
	}
	if len(parts) > 0 {
		t.Notes = append(t.Notes, "RLHF − SFT, sampled gold over the same prompts (± one standard error of the paired difference): "+strings.Join(parts, "; "))
	}
}

// pairedDifference returns the mean of a[i] − b[i] and its standard error (n ≥ 2).
func pairedDifference(a, b []float64) (mean, se float64) {
	n := float64(len(a))
	for i := range a {
		mean += a[i] - b[i]
	}
	mean /= n
	var sq float64
	for i := range a {
		d := a[i] - b[i] - mean
		sq += d * d
	}
	return mean, math.Sqrt(sq/(n-1)) / math.Sqrt(n)
}

// withContext returns msgs with a context turn of passages before the last user turn.
func withContext(msgs []data.Message, passages []string) []data.Message {
	out := make([]data.Message, 0, len(msgs)+1)
	out = append(out, msgs[:len(msgs)-1]...)
	out = append(out, data.ContextMessage(passages...))
	return append(out, msgs[len(msgs)-1])
}

func plainMessages(prompts []tinyworld.Prompt) [][]data.Message {
	out := make([][]data.Message, len(prompts))
	for i, p := range prompts {
		out[i] = p.Messages
	}
	return out
}

func goldContext(prompts []tinyworld.Prompt) [][]data.Message {
	out := make([][]data.Message, len(prompts))
	for i, p := range prompts {
		out[i] = withContext(p.Messages, p.Passages)
	}
	return out
}

// turnText is the text the assistant wrote in a turn, tool calls and results left out (as
// tinyworld's Demo.Reply joins it: what the judge scores).
func turnText(r chat.ToolReply) string {
	var parts []string
	for _, m := range r.Messages {
		if m.Role == data.RoleAssistant && strings.TrimSpace(m.Content) != "" {
			parts = append(parts, strings.TrimSpace(m.Content))
		}
	}
	return strings.Join(parts, " ")
}

// showTurn writes a turn with its calls as [call → result].
func showTurn(r chat.ToolReply) string {
	var b strings.Builder
	for i, m := range r.Messages {
		switch m.Role {
		case data.RoleToolCall:
			fmt.Fprintf(&b, "[%s → ", m.Content)
		case data.RoleToolResult:
			fmt.Fprintf(&b, "%s] ", m.Content)
		default:
			b.WriteString(m.Content)
			if i < len(r.Messages)-1 {
				b.WriteString(" ")
			}
		}
	}
	s := strings.TrimSpace(b.String())
	if !r.Ended {
		s += " (no <|end|>)"
	}
	return s
}

// skillEvalBatch is the number of replies the skill evaluation decodes together.
const skillEvalBatch = 16

// chatRow asks model each prompt (msgs[i] for prompts[i]) with the registry reg (nil: every
// call fails in-band), once greedily and once sampled at T=1, and judges the turns. Its values
// are the cols among: gold_greedy, gold_sampled, and over the greedy turns correct_rate (right
// and ended), format_rate (ended), refusal_rate, hallucination_rate, stale_rate,
// reasoning_rate (a step-by-step reply), calc_rate and search_rate (turns that call it),
// call_exact_rate (the first calculator call is exactly the prompt's expression).
func (e *skillEval) chatRow(ctx context.Context, modelName, setting string, prompts []tinyworld.Prompt, msgs [][]data.Message, reg *tools.Registry, cols []string) (SkillRow, error) {
	asst := e.models[modelName]
	sum := map[string]float64{}
	row := SkillRow{Model: modelName, Setting: setting, N: len(prompts), Values: map[string]float64{}}
	kindN, kindOK := map[string]float64{}, map[string]float64{}
	greedy, err := asst.RepliesWithTools(ctx, msgs, model.SampleConfig{MaxNewTokens: skillReplyTokens}, chat.ToolConfig{Tools: reg})
	if err != nil {
		return row, fmt.Errorf("%s, %s: %w", modelName, setting, err)
	}
	sampled, err := asst.RepliesWithTools(ctx, msgs, model.SampleConfig{MaxNewTokens: skillReplyTokens, Temperature: 1, Seed: e.seed}, chat.ToolConfig{Tools: reg})
	if err != nil {
		return row, fmt.Errorf("%s, %s (sampled): %w", modelName, setting, err)
	}
	for i, pr := range prompts {
		g := greedy[i]
		if i == 0 {
			row.Example = showTurn(g)
		}
		v := e.w.Judge(pr, turnText(g), g.Ended)
		sum["gold_greedy"] += v.Score
		sum["correct_rate"] += b2f(v.Correct && v.Ended)
		kindN[pr.Kind]++
		kindOK[pr.Kind] += b2f(v.Correct && v.Ended)
		sum["format_rate"] += b2f(v.Ended)
		sum["refusal_rate"] += b2f(v.Refused)
		sum["hallucination_rate"] += b2f(v.Hallucinated)
		sum["stale_rate"] += b2f(v.Stale)
		sum["reasoning_rate"] += b2f(v.Reasoning != "")
		var calc, search, exact, query bool
		for _, c := range g.Calls {
			switch c.Name {
			case tinyworld.ToolCalculator:
				if !calc {
					exact = c.Text == tinyworld.ToolCalculator+" "+pr.Expression
				}
				calc = true
			case tinyworld.ToolSearch:
				if !search && pr.Skill == tinyworld.SkillSearchCalc {
					query = c.Text == tinyworld.ToolSearch+" "+searchedPerson(e.w, pr)+" stamps"
				}
				search = true
			}
		}
		sum["calc_rate"] += b2f(calc)
		sum["search_rate"] += b2f(search)
		sum["query_exact_rate"] += b2f(query)
		sum["call_exact_rate"] += b2f(exact)
		score := e.w.Judge(pr, turnText(sampled[i]), sampled[i].Ended).Score
		sum["gold_sampled"] += score
		row.Sampled = append(row.Sampled, score)
	}
	for _, c := range cols {
		if v, ok := sum[c]; ok && len(prompts) > 0 {
			row.Values[c] = v / float64(len(prompts))
		}
	}
	if len(kindN) > 1 {
		row.ByKind = map[string]float64{}
		for k, n := range kindN {
			row.ByKind[k] = kindOK[k] / n
		}
	}
	return row, nil
}

// searchedPerson is the person a search-then-calculate prompt's search is for: the one the
// world does not know (the news store's new person).
func searchedPerson(w *tinyworld.World, p tinyworld.Prompt) string {
	if _, known := w.Profile(p.Person); known {
		return p.Other
	}
	return p.Person
}

// byKindNote is a table note of each row's correct rate per question kind.
func byKindNote(t SkillTable) string {
	var parts []string
	for _, r := range t.Rows {
		kinds := slices.Sorted(maps.Keys(r.ByKind))
		var ks []string
		for _, k := range kinds {
			ks = append(ks, fmt.Sprintf("%s %.2f", k, r.ByKind[k]))
		}
		if len(ks) > 0 {
			parts = append(parts, fmt.Sprintf("%s, %s: %s", r.Model, r.Setting, strings.Join(ks, ", ")))
		}
	}
	return "correct (greedy) per kind — " + strings.Join(parts, "; ")
}

// rows runs chatRow for each model in turn.
func (e *skillEval) rows(ctx context.Context, t *SkillTable, models []string, setting string, prompts []tinyworld.Prompt, msgs [][]data.Message, reg *tools.Registry) error {
	for _, m := range models {
		row, err := e.chatRow(ctx, m, setting, prompts, msgs, reg, t.Columns)
		if err != nil {
			return err
		}
		t.Rows = append(t.Rows, row)
	}
	return nil
}

var sftAndRLHF = []string{"sft", "rlhf"}

func (e *skillEval) factsTable(ctx context.Context) (SkillTable, error) {
	t := SkillTable{Skill: tinyworld.SkillFacts, Title: "new quantities, closed-book (stamps, ticket prices)",
		Columns: []string{"correct_rate", "refusal_rate", "format_rate", "gold_greedy", "gold_sampled"}}
	ps := e.w.SkillEvalPrompts(tinyworld.SkillFacts, e.n)
	return t, e.rows(ctx, &t, sftAndRLHF, "closed-book, tools available", ps, plainMessages(ps), e.full)
}

func (e *skillEval) calcTable(ctx context.Context) (SkillTable, error) {
	t := SkillTable{Skill: tinyworld.SkillCalc, Title: "calculation on held-out person pairs and ticket counts",
		Columns: []string{"correct_rate", "calc_rate", "call_exact_rate", "format_rate", "gold_greedy", "gold_sampled"},
		Notes: []string{"execution disabled: the same questions with a registry whose calculator returns the in-band error \"error: " + errExecutionDisabled.Error() + "\"",
			"call_exact_rate: the first calculator call is exactly the question's expression"}}
	ps := e.w.SkillEvalPrompts(tinyworld.SkillCalc, e.n)
	msgs := plainMessages(ps)
	for _, m := range sftAndRLHF {
		for _, s := range []struct {
			name string
			reg  *tools.Registry
		}{{"with the calculator", e.full}, {"execution disabled", e.disabled}} {
			row, err := e.chatRow(ctx, m, s.name, ps, msgs, s.reg, t.Columns)
			if err != nil {
				return t, err
			}
			t.Rows = append(t.Rows, row)
		}
	}
	return t, nil
}

func (e *skillEval) unknownTable(ctx context.Context) (SkillTable, error) {
	t := SkillTable{Skill: tinyworld.SkillUnknown, Title: "people who do not exist (names never in any chat data), and false refusals on known people",
		Columns: []string{"hallucination_rate", "refusal_rate", "correct_rate", "format_rate", "gold_greedy", "gold_sampled"},
		Notes:   []string{"on unknown people correct = a refusal stating no fact; on known people (the original held-out fact questions) refusal_rate is the false-refusal rate"}}
	ps := e.w.SkillEvalPrompts(tinyworld.SkillUnknown, e.n)
	if err := e.rows(ctx, &t, sftAndRLHF, "unknown people", ps, plainMessages(ps), e.full); err != nil {
		return t, err
	}
	var known []tinyworld.Prompt
	for _, p := range e.w.EvalPrompts(4 * e.n) {
		if len(known) < e.n && p.Kind != tinyworld.KindGreet && p.Kind != tinyworld.KindThanks {
			known = append(known, p)
		}
	}
	return t, e.rows(ctx, &t, sftAndRLHF, "known people", known, plainMessages(known), e.full)
}

// ragReplyTokens is the room a retrieval-augmented prompt leaves in the block for the reply
// (a news reply, "Ruth is a teacher.", takes about 10).
const ragReplyTokens = 24

// retrievedContext puts the top-3 passages of retriever r in front of each question, best
// last (next to the question), dropping the worst while the prompt and a reply of
// ragReplyTokens would not fit the block. It returns the messages, the mean number of
// passages given and the share of prompts whose gold passage is among them.
func (e *skillEval) retrievedContext(ctx context.Context, r retrieval.Retriever, prompts []tinyworld.Prompt) ([][]data.Message, float64, float64, error) {
	out := make([][]data.Message, len(prompts))
	var given, hit float64
	for i, p := range prompts {
		hits, err := r.Search(ctx, p.User(), 3)
		if err != nil {
			return nil, 0, 0, err
		}
		var texts []string
		for _, h := range hits {
			texts = append(texts, h.Passage.Text)
		}
		for {
			rev := make([]string, len(texts))
			for j, s := range texts {
				rev[len(texts)-1-j] = s
			}
			out[i] = p.Messages
			if len(rev) > 0 {
				out[i] = withContext(p.Messages, rev)
			}
			ids, err := data.RenderPrompt(e.tok, out[i])
			if err != nil {
				return nil, 0, 0, err
			}
			if len(texts) == 0 || len(ids)+ragReplyTokens <= e.block {
				break
			}
			texts = texts[:len(texts)-1]
		}
		given += float64(len(texts))
		hit += b2f(slices.ContainsFunc(texts, func(s string) bool { return slices.Contains(p.Passages, s) }))
	}
	n := float64(max(1, len(prompts)))
	return out, given / n, hit / n, nil
}

func (e *skillEval) newsTable(ctx context.Context) (SkillTable, error) {
	t := SkillTable{Skill: tinyworld.SkillNews, Title: "news after pretraining: closed-book (stale) vs the right passage vs retrieved passages",
		Columns: []string{"correct_rate", "stale_rate", "refusal_rate", "passages", "passage_hit_rate", "gold_greedy", "gold_sampled"},
		Notes: []string{"no tools in these rows; retrieved: the top 3 passages for the question, the worst dropped while the prompt and a " + fmt.Sprint(ragReplyTokens) + "-token reply would not fit the block (passages: their mean number; passage_hit_rate: the right one among them)",
			"closed-book, a new person's expected reply is a refusal, a moved person's or new job's the stale fact"}}
	ps := e.w.SkillEvalPrompts(tinyworld.SkillNews, e.n)
	settings := []struct {
		name      string
		msgs      [][]data.Message
		given, ok float64
	}{{name: "closed-book", msgs: plainMessages(ps)}, {name: "the right passage", msgs: goldContext(ps), given: 1, ok: 1}}
	for _, r := range []string{"bm25", "pooled", "encoder"} {
		msgs, given, ok, err := e.retrievedContext(ctx, e.retrievers[r], ps)
		if err != nil {
			return t, err
		}
		settings = append(settings, struct {
			name      string
			msgs      [][]data.Message
			given, ok float64
		}{"retrieved by " + r, msgs, given, ok})
	}
	for _, m := range sftAndRLHF {
		for _, s := range settings {
			row, err := e.chatRow(ctx, m, s.name, ps, s.msgs, nil, t.Columns)
			if err != nil {
				return t, err
			}
			row.Values["passages"], row.Values["passage_hit_rate"] = s.given, s.ok
			t.Rows = append(t.Rows, row)
		}
	}
	return t, nil
}

func (e *skillEval) searchCalcTable(ctx context.Context) (SkillTable, error) {
	t := SkillTable{Skill: tinyworld.SkillSearchCalc, Title: "search the news, then calculate (tool calls inside the turn)",
		Columns: []string{"correct_rate", "search_rate", "query_exact_rate", "calc_rate", "call_exact_rate", "format_rate", "gold_greedy", "gold_sampled"},
		Notes: []string{"tools: a BM25 search of the news returning one passage, and the calculator; execution disabled: both return an in-band error",
			"query_exact_rate: the first search is the demonstrations' query for the new person (\"search NAME stamps\"); call_exact_rate: the first calculation is the question's expression",
			"the chat model writes its calls in the chat format's tool tokens, not in tools.ReAct's plain-text trace, which it was never trained on; the turn is the same loop (call, observation, go on)"}}
	ps := e.w.SkillEvalPrompts(tinyworld.SkillSearchCalc, e.n)
	msgs := plainMessages(ps)
	for _, m := range sftAndRLHF {
		for _, s := range []struct {
			name string
			reg  *tools.Registry
		}{{"search and calculator", e.full}, {"execution disabled", e.disabled}} {
			row, err := e.chatRow(ctx, m, s.name, ps, msgs, s.reg, t.Columns)
			if err != nil {
				return t, err
			}
			t.Rows = append(t.Rows, row)
		}
	}
	return t, nil
}

func (e *skillEval) multiHopTable(ctx context.Context) (SkillTable, error) {
	t := SkillTable{Skill: tinyworld.SkillMultiHop, Title: "multi-hop questions: direct-only SFT vs mixed SFT vs RLHF, without and with the trigger",
		Columns: []string{"correct_rate", "reasoning_rate", "format_rate", "gold_greedy", "gold_sampled"},
		Notes:   []string{"sft-direct: SFT from the same pretrained model, same steps, every demonstration answered directly (#16's ablation); trigger: \"" + tinyworld.StepTrigger + "\" after the question"}}
	ps := e.w.SkillEvalPrompts(tinyworld.SkillMultiHop, e.n)
	step := make([]tinyworld.Prompt, len(ps))
	for i, p := range ps {
		step[i] = tinyworld.WithStepByStep(p)
	}
	for _, m := range []string{"sft-direct", "sft", "rlhf"} {
		if err := e.rows(ctx, &t, []string{m}, "no trigger", ps, plainMessages(ps), e.full); err != nil {
			return t, err
		}
		if err := e.rows(ctx, &t, []string{m}, "with the trigger", step, plainMessages(step), e.full); err != nil {
			return t, err
		}
	}
	t.Notes = append(t.Notes, byKindNote(t))
	return t, nil
}

func (e *skillEval) readingTable(ctx context.Context) (SkillTable, error) {
	t := SkillTable{Skill: tinyworld.SkillReading, Title: "reading: questions about invented people answered from the passage in front of them",
		Columns: []string{"correct_rate", "refusal_rate", "format_rate", "gold_greedy", "gold_sampled"}}
	ps := e.w.SkillEvalPrompts(tinyworld.SkillReading, e.n)
	return t, e.rows(ctx, &t, sftAndRLHF, "passage in context", ps, goldContext(ps), nil)
}

// unseenTextFormat is a few-shot form the pretraining text never writes: what the model
// knows of it, it can only take from the examples in the prompt.
var unseenTextFormat = prompt.TextFormat{Question: "Q: ", Answer: " =>", Sep: " ;; "}

// fewShotTokens bounds a base model's few-shot answer.
const fewShotTokens = 24

// fewShotRow asks the base model each question with k examples drawn from pool (prompt.Text),
// greedily, and cuts the continuation at the end of the examples' form (prompt.CutText):
// format_rate is the share that stopped there, correct_rate the share the judge finds
// correct (and stopped). Examples that do not fit the block with the answer are dropped,
// oldest first; shots is the mean number shown.
func (e *skillEval) fewShotRow(ctx context.Context, setting string, k int, pool []prompt.Example, prompts []tinyworld.Prompt, form prompt.TextFormat) (SkillRow, error) {
	eng, err := model.NewEngine(e.base, 1)
	if err != nil {
		return SkillRow{}, err
	}
	row := SkillRow{Model: "base", Setting: setting, N: len(prompts), Values: map[string]float64{}}
	var format, correct, shots, gold float64
	for i, p := range prompts {
		ex := prompt.Random(pool, p.User(), k, e.seed+uint64(i))
		var ids []int32
		for {
			enc, err := e.tok.Encode(prompt.Text(ex, p.User(), prompt.Options{Format: form}))
			if err != nil {
				return row, err
			}
			ids = append(ids[:0], tokenizer.BOS)
			for _, id := range enc {
				ids = append(ids, int32(id))
			}
			if len(ex) == 0 || len(ids)+fewShotTokens <= e.block {
				break
			}
			ex = ex[1:]
		}
		if len(ids)+fewShotTokens > e.block {
			return row, fmt.Errorf("the question %q alone does not fit the block", p.User())
		}
		out, err := eng.Generate(ctx, ids, model.SampleConfig{MaxNewTokens: fewShotTokens})
		if err != nil {
			return row, err
		}
		toks := out[0].Tokens
		for i, t := range toks {
			if tokenizer.IsSpecial(e.tok, t) {
				toks = toks[:i]
				break
			}
		}
		text, err := e.tok.Decode(toks)
		if err != nil {
			return row, err
		}
		answer, stopped := prompt.CutText(text, form)
		v := e.w.Judge(p, answer, stopped)
		if i == 0 {
			row.Example = answer
		}
		format += b2f(stopped)
		correct += b2f(v.Correct && stopped)
		gold += v.Score
		shots += float64(len(ex))
	}
	n := float64(max(1, len(prompts)))
	row.Values["format_rate"], row.Values["correct_rate"], row.Values["shots"], row.Values["gold_greedy"] = format/n, correct/n, shots/n, gold/n
	return row, nil
}

func (e *skillEval) fewShotTable(ctx context.Context) (SkillTable, error) {
	t := SkillTable{Skill: "fewshot", Title: "few-shot prompts on the base (pretrained) model, greedy",
		Columns: []string{"format_rate", "correct_rate", "shots", "gold_greedy"},
		Notes: []string{"prompts in the corpus's \"question: … answer: …\" lines (prompt.Text), examples drawn at random from training prompts with their answers in the corpus's form (tinyworld.TextAnswer); format: the continuation ends the line; shots: the mean number of examples that fit the block with a " + fmt.Sprint(fewShotTokens) + "-token answer",
			"a form the corpus never uses: \"Q: … => … ;; \" instead of its \"question: … answer: …\" lines (format: the continuation ends with \" ;; \")",
			"arithmetic: the calculation questions, whose corpus answers write the expression and its value (\"3*28=84. they cost 84 coins.\")"}}
	var pool, calcPool []prompt.Example
	for _, p := range e.w.RLPrompts(400) {
		if p.Kind != tinyworld.KindGreet && p.Kind != tinyworld.KindThanks {
			pool = append(pool, prompt.Example{Question: p.User(), Answer: e.w.TextAnswer(p)})
		}
	}
	for _, p := range e.w.SkillRLPrompts(tinyworld.SkillCalc, 200) {
		calcPool = append(calcPool, prompt.Example{Question: p.User(), Answer: e.w.TextAnswer(p)})
	}
	var facts []tinyworld.Prompt
	for _, p := range e.w.EvalPrompts(4 * e.n) {
		if len(facts) < e.n && p.Kind != tinyworld.KindGreet && p.Kind != tinyworld.KindThanks {
			facts = append(facts, p)
		}
	}
	for _, k := range []int{0, 1, 4, 8} {
		row, err := e.fewShotRow(ctx, fmt.Sprintf("fact questions, %d-shot", k), k, pool, facts, prompt.DefaultTextFormat)
		if err != nil {
			return t, err
		}
		t.Rows = append(t.Rows, row)
	}
	for _, k := range []int{0, 1, 4} {
		row, err := e.fewShotRow(ctx, fmt.Sprintf("fact questions in a form the corpus never uses, %d-shot", k), k, pool, facts, unseenTextFormat)
		if err != nil {
			return t, err
		}
		t.Rows = append(t.Rows, row)
	}
	calc := e.w.SkillEvalPrompts(tinyworld.SkillCalc, e.n)
	for _, k := range []int{0, 4} {
		row, err := e.fewShotRow(ctx, fmt.Sprintf("arithmetic, %d-shot", k), k, calcPool, calc, prompt.DefaultTextFormat)
		if err != nil {
			return t, err
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// markdown writes the skills' tables.
func (r *SkillsReport) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Skills (issues #15 and #16)\n\n")
	fmt.Fprintf(&b, "Evaluated in %.0f s; the direct-only SFT ablation: held-out loss %.3f (%.0f s).\n\n", r.EvalSeconds, r.SFTDirect["val_loss"], r.SFTDirect["seconds"])
	fmt.Fprintf(&b, "Retrieval over the news store (%.0f held-out news and search-then-calculate questions):\n\n| retriever | recall@1 | recall@3 |\n|---|---|---|\n", r.Retrieval["queries"])
	for _, name := range []string{"bm25", "pooled", "encoder"} {
		fmt.Fprintf(&b, "| %s | %.3f | %.3f |\n", name, r.Retrieval[name+"_recall@1"], r.Retrieval[name+"_recall@3"])
	}
	esc := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ") }
	for _, t := range r.Tables {
		fmt.Fprintf(&b, "\n### %s: %s\n\n| model | setting | n | %s | example (first prompt, greedy) |\n|---|---|---|%s---|\n",
			t.Skill, t.Title, strings.Join(t.Columns, " | "), strings.Repeat("---|", len(t.Columns)))
		for _, row := range t.Rows {
			fmt.Fprintf(&b, "| %s | %s | %d |", row.Model, row.Setting, row.N)
			for _, c := range t.Columns {
				v, ok := row.Values[c]
				switch {
				case !ok:
					b.WriteString(" – |")
				case strings.HasPrefix(c, "gold"):
					fmt.Fprintf(&b, " %.1f |", v)
				default:
					fmt.Fprintf(&b, " %.2f |", v)
				}
			}
			fmt.Fprintf(&b, " %s |\n", esc(row.Example))
		}
		for _, n := range t.Notes {
			fmt.Fprintf(&b, "\n- %s", n)
		}
		if len(t.Notes) > 0 {
			b.WriteString("\n")
		}
	}
	b.WriteString("\n")
	return b.String()
}
