package tinyworld

import (
	"strconv"
	"strings"
	"testing"
)

// fill and skillVals.fill give exactly what strings.NewReplacer over their placeholders gives
// (the code before them), on every template of the world and on strings made to trip a
// placeholder scanner: unknown letters, unclosed braces, placeholders back to back, values
// that themselves look like placeholders (never replaced again).
func TestFillMatchesReplacer(t *testing.T) {
	var templates []string
	for _, m := range []map[string][]string{phrasings, skillPhrasings} {
		for _, ps := range m {
			templates = append(templates, ps...)
		}
	}
	templates = append(templates, stepHome, stepStamps, stepWho, stepColour, stepPrice, concludeMore, concludeColor, concludePrice,
		"", "{", "}", "{X", "X}", "{Q}", "{{X}}", "{X}{T}{X}", "a {x} b", "{XT}", "{X}}", "{{{N}", "end {")
	vals := []skillVals{
		{X: "anna", Z: "ben", T: "oakton", U: "ashdale", J: "baker", C: "red", O: "cole", W: "{X}", K: "k", Y: "cats", P: "cat", N: 3, S: 347, M: 28, R: -5, E: "e", A: "{T}"},
		{N: 1}, {N: -1}, {N: 99},
	}
	for _, v := range vals {
		count := ""
		if v.N >= 0 && v.N < len(countWords) {
			count = countWords[v.N]
		}
		num := strconv.Itoa
		ref := strings.NewReplacer(
			"{X}", v.X, "{Z}", v.Z, "{T}", v.T, "{U}", v.U, "{J}", v.J, "{C}", v.C, "{O}", v.O, "{W}", v.W,
			"{K}", v.K, "{Y}", v.Y, "{P}", v.P, "{N}", count, "{S}", num(v.S), "{M}", num(v.M), "{R}", num(v.R),
			"{E}", v.E, "{A}", v.A)
		for _, tmpl := range templates {
			if got, want := v.fill(tmpl), ref.Replace(tmpl); got != want {
				t.Errorf("skillVals.fill(%q) = %q, want %q", tmpl, got, want)
			}
		}
	}
	for _, f := range []facts{
		{name: "anna", town: "{T}", job: "baker", colour: "red", count: 1, obj: object{"cat", "cats"}},
		{name: "ben", town: "oakton", job: "{C}", colour: "blue", count: 4, obj: object{"dog", "dogs"}},
		{count: 200},
	} {
		noun, count := f.obj.many, ""
		if f.count == 1 {
			noun = f.obj.one
		}
		if f.count >= 0 && f.count < len(countWords) {
			count = countWords[f.count]
		}
		ref := strings.NewReplacer("{X}", f.name, "{T}", f.town, "{N}", count, "{Y}", noun, "{P}", f.obj.many, "{J}", f.job, "{C}", f.colour)
		for _, tmpl := range templates {
			if got, want := fill(tmpl, f), ref.Replace(tmpl); got != want {
				t.Errorf("fill(%q) = %q, want %q", tmpl, got, want)
			}
		}
	}
}

// BenchmarkSkillFill: filling one template, the world's most frequent operation when it
// generates data.
func BenchmarkSkillFill(b *testing.B) {
	v := skillVals{X: "anna", Z: "ben", T: "oakton", S: 347, M: 28, N: 3}
	b.ReportAllocs()
	for b.Loop() {
		_ = v.fill(stepStamps)
	}
}
