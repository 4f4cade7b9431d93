package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/internal/stepbench"
)

// TestMain lets the test binary be the measured child, as the program is.
func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		if err := child(spec, os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestParseMS(t *testing.T) {
	ms, err := parseMS("params=813440 threads=1\nms_per_step=41.20\n")
	require.NoError(t, err)
	require.Equal(t, 41.2, ms)
	_, err = parseMS("val_loss=1.9\n")
	require.EqualError(t, err, `no ms_per_step line in the output "val_loss=1.9"`)
	_, err = parseMS("ms_per_step=fast\n")
	require.EqualError(t, err, `bad ms_per_step "fast"`)
	_, err = parseMS("ms_per_step=-1\n")
	require.EqualError(t, err, `bad ms_per_step "-1"`)
}

func TestParseShapesAndSteps(t *testing.T) {
	sh, err := parseShapes("4,4,128,64,12; 12,12,768,256,4")
	require.NoError(t, err)
	require.Equal(t, []stepbench.Shape{stepbench.NanoGPT, {Layers: 12, Heads: 12, Width: 768, Block: 256, Batch: 4}}, sh)
	require.Equal(t, 50, stepsFor(stepbench.NanoGPT), "a small step runs 50 times")
	require.Equal(t, 3, stepsFor(sh[1]), "GPT-2 small's body runs the minimum")
	for in, want := range map[string]string{
		"":                "no shapes",
		"4,4,128,64":      `shape "4,4,128,64": want layers,heads,width,block,batch`,
		"4,4,128,64,x":    `shape "4,4,128,64,x": "x" is not a positive integer`,
		"4,3,128,64,12":   `shape "4,3,128,64,12": `,
		"4,4,128,64,12;0": `shape "0": want layers,heads,width,block,batch`,
	} {
		_, err := parseShapes(in)
		require.ErrorContains(t, err, want, in)
	}
}

// The table: medians per runner, ratios to PyTorch, GFLOP/s from the faster of our paths.
func TestTable(t *testing.T) {
	cfg := defaultConfig()
	cfg.Rounds = 3
	r := result{Shape: stepbench.NanoGPT, Samples: map[string][]sample{
		"openblas": {{40, 100 << 20}, {38, 101 << 20}, {45, 99 << 20}},
		"go":       {{50, 90 << 20}, {44, 90 << 20}, {47, 90 << 20}},
		"torch":    {{41, 300 << 20}, {42, 310 << 20}, {40, 290 << 20}},
	}}
	flops := stepbench.NanoGPT.FLOPs() / 0.040 / 1e9
	// The ratios are medians of each round's ratio — pure Go: 50/41, 44/42, 47/40 → 1.175 — not
	// the ratio of the medians (47/41 = 1.15).
	want := "One training step (forward, backward, clipping, AdamW), medians of 3 alternating runs; ratio = the median over rounds of ours / PyTorch in the same round (below 1: faster).\n\n" +
		"| shape (layers, heads, width, block, batch) | ours, OpenBLAS | ours, pure Go | PyTorch | ratio, OpenBLAS | ratio, pure Go | GFLOP/s, ours (best) | peak RSS, ours / PyTorch |\n" +
		"|---|---|---|---|---|---|---|---|\n" +
		"| 4, 4, 128, 64, 12 | 40.0 ms | 47.0 ms | 41.0 ms | 0.98 | 1.18 | " + strings.TrimSpace(fmtInt(flops)) + " | 100 MiB / 300 MiB |\n"
	require.Equal(t, want, table(cfg, []result{r}))

	r.Samples = map[string][]sample{"openblas": {{1500, 7 << 30}}, "go": {{1600, 7 << 30}}}
	r.Note = "PyTorch not measured (-torch empty)"
	got := table(cfg, []result{r})
	require.Contains(t, got, "| 1.50 s | 1.60 s | — | — | — |")
	require.Contains(t, got, "| 7.0 GiB / — |")
	require.True(t, strings.HasSuffix(got, "\nPyTorch not measured (-torch empty)\n"))
}

func fmtInt(f float64) string { return fmt.Sprintf("%.0f", f) }

// TestRunOurs measures a tiny shape on the pure-Go path twice, each a child process, and says
// why PyTorch is missing when its script is.
func TestRunOurs(t *testing.T) {
	cfg := defaultConfig()
	cfg.Shapes = []stepbench.Shape{{Layers: 1, Heads: 2, Width: 16, Block: 8, Batch: 2}}
	cfg.Paths, cfg.Rounds, cfg.Steps, cfg.Warm = []string{"go"}, 2, 2, 1
	cfg.Torch = filepath.Join(t.TempDir(), "missing.py")
	cfg.Self, cfg.SelfArgs = os.Args[0], []string{"-test.run=^$"}
	rs, err := run(context.Background(), cfg, io.Discard)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.Len(t, rs[0].Samples["go"], 2)
	for _, s := range rs[0].Samples["go"] {
		require.Greater(t, s.MS, 0.0)
		if runtime.GOOS == "linux" {
			require.Greater(t, s.RSS, int64(1<<20))
		}
	}
	require.Empty(t, rs[0].Samples["torch"])
	require.Contains(t, rs[0].Note, "PyTorch not measured: stat "+cfg.Torch)

	bad := cfg
	bad.Paths = []string{"mkl"}
	_, err = run(context.Background(), bad, io.Discard)
	require.EqualError(t, err, `BLAS path "mkl": want openblas, go or bf16`)
	bad = cfg
	bad.Rounds = 0
	_, err = run(context.Background(), bad, io.Discard)
	require.ErrorContains(t, err, "want rounds > 0")

	// A child that fails says why.
	require.ErrorContains(t, child("1,2,16,8,2;0;1", io.Discard), "want STEPS > 0")
	require.ErrorContains(t, child("1,2,16,8", io.Discard), "want SHAPE;STEPS;WARM")
	require.ErrorContains(t, child("1,2,16,8,2;1;0;checkpoint", io.Discard), `option "checkpoint": want SHAPE;STEPS;WARM[;recompute][;bf16]`)
	require.ErrorContains(t, child("1,2,16,8,2;1;0;bf16;bf16", io.Discard), `option "bf16"`)
	for _, spec := range []string{"1,2,16,8,2;2;0;recompute", "1,2,16,8,2;2;0;bf16", "1,2,16,8,2;2;0;recompute;bf16"} {
		var out strings.Builder
		require.NoError(t, child(spec, &out), "child %q measures", spec)
		require.Contains(t, out.String(), "ms_per_step=")
	}
}
