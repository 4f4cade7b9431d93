package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tinyworld"
)

// TestSkillCellsProbe reads a finished run's report.json and splits the paired RLHF − SFT
// difference of sampled gold of the news and search-then-calculate rows by cell — the person
// and the fact kind of a news question, the two people of a search-then-calculate one — to
// show whether a row's difference is a few cells or many, and gives its standard error
// clustered by cell and by news person beside the prompt-level one the report gives: the held-out news are about
// a handful of people, and a model answers a cell alike every time it is asked. It runs only
// with TINYCHAT_RUN set (relative to the repository's root), for the default plan's world:
//
//	TINYCHAT_RUN=runs/final16 go test -run SkillCellsProbe -v ./examples/tinychat
func TestSkillCellsProbe(t *testing.T) {
	dir := os.Getenv("TINYCHAT_RUN")
	if dir == "" {
		t.Skip("skipped: set TINYCHAT_RUN to a finished run's folder (with report.json) to split its skill rows by cell")
	}
	b, err := os.ReadFile(filepath.Join(fromRepoRoot(dir), "report.json"))
	require.NoError(t, err)
	var rep struct {
		Plan   plan
		Skills SkillsReport
	}
	require.NoError(t, json.Unmarshal(b, &rep))
	w := newWorld(rep.Plan.Seed)
	for _, tb := range rep.Skills.Tables {
		if tb.Skill != tinyworld.SkillNews && tb.Skill != tinyworld.SkillSearchCalc {
			continue
		}
		sft := map[string][]float64{}
		for _, r := range tb.Rows {
			if r.Model == "sft" {
				sft[r.Setting] = r.Sampled
			}
		}
		for _, r := range tb.Rows {
			base, ok := sft[r.Setting]
			if r.Model != "rlhf" || !ok || len(base) != len(r.Sampled) || len(base) < 2 {
				continue
			}
			ps := w.SkillEvalPrompts(tb.Skill, len(base))
			cellOf := func(p tinyworld.Prompt) string {
				if tb.Skill == tinyworld.SkillSearchCalc {
					return p.Person + "/" + p.Other
				}
				return p.Person + " " + p.Kind
			}
			// The news person of a prompt: the one the pretraining text does not know.
			personOf := func(p tinyworld.Prompt) string {
				if _, known := w.Profile(p.Person); known && p.Other != "" {
					return p.Other
				}
				return p.Person
			}
			cells := splitByCell(ps, cellOf, r.Sampled, base)
			people := splitByCell(ps, personOf, r.Sampled, base)
			mean, se := pairedDifference(r.Sampled, base)
			t.Logf("%s, %s: RLHF − SFT %+.1f, standard error %.1f over prompts, %.1f clustered by the %d cells, %.1f by the %d people:",
				tb.Skill, r.Setting, mean, se, clusteredSE(cells, mean), len(cells), clusteredSE(people, mean), len(people))
			for _, c := range cells {
				t.Logf("  %-16s %3d prompts: SFT %5.1f, RLHF %5.1f, %+5.2f points of the row", c.name, c.n, c.sft/float64(c.n), c.rlhf/float64(c.n), (c.rlhf-c.sft)/float64(len(base)))
			}
		}
	}
}

// skillCell is one cell's sums of sampled gold.
type skillCell struct {
	name      string
	n         int
	sft, rlhf float64
}

// splitByCell sums each cell's scores, the cells in order of RLHF − SFT, lowest first.
func splitByCell(ps []tinyworld.Prompt, cellOf func(tinyworld.Prompt) string, rlhf, sft []float64) []skillCell {
	at := map[string]int{}
	var cells []skillCell
	for i, p := range ps {
		k := cellOf(p)
		j, ok := at[k]
		if !ok {
			j = len(cells)
			at[k] = j
			cells = append(cells, skillCell{name: k})
		}
		cells[j].n++
		cells[j].sft += sft[i]
		cells[j].rlhf += rlhf[i]
	}
	slices.SortStableFunc(cells, func(a, b skillCell) int {
		if d := (a.rlhf - a.sft) - (b.rlhf - b.sft); d != 0 {
			return int(math.Copysign(1, d))
		}
		return strings.Compare(a.name, b.name)
	})
	return cells
}

// clusteredSE is the standard error of a mean paired difference whose prompts fall in cells
// (the cluster-robust sandwich estimate with the small-sample factor G/(G−1)).
func clusteredSE(cells []skillCell, mean float64) float64 {
	g, n := float64(len(cells)), 0
	var ss float64
	for _, c := range cells {
		d := (c.rlhf - c.sft) - float64(c.n)*mean
		ss += d * d
		n += c.n
	}
	if g < 2 {
		return math.NaN()
	}
	return math.Sqrt(ss*g/(g-1)) / float64(n)
}

// With every prompt its own cell, the clustered standard error is the prompt-level one
// (up to the factors n/(n−1) they use); with two cells of constant differences it is the
// spread of the two cells' sums.
func TestClusteredSE(t *testing.T) {
	rlhf := []float64{100, 40, 100, 70}
	sft := []float64{60, 40, 100, 100}
	ps := make([]tinyworld.Prompt, 4)
	for i := range ps {
		ps[i].Person = fmt.Sprint(i)
	}
	mean, se := pairedDifference(rlhf, sft)
	require.InDelta(t, 2.5, mean, 1e-12)
	own := splitByCell(ps, func(p tinyworld.Prompt) string { return p.Person }, rlhf, sft)
	require.Equal(t, "3", own[0].name, "the lowest cell first")
	require.InDelta(t, se, clusteredSE(own, mean), 1e-12)
	ps[1].Person, ps[3].Person = "0", "2" // cells {0,1}: +40, {2,3}: −30
	two := splitByCell(ps, func(p tinyworld.Prompt) string { return p.Person }, rlhf, sft)
	require.Len(t, two, 2)
	// Cell sums less n·mean: 40−5 = 35 and −30−5 = −35; √(2·35²·2)/4 = 17.5.
	require.InDelta(t, 17.5, clusteredSE(two, mean), 1e-12)
}
