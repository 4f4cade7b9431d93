package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/model"
)

// TestWeightInterpolationProbe writes a run's final policy moved back toward SFT, the weights
// θ_SFT + α(θ_RLHF − θ_SFT) (WiSE-FT's and WARP's interpolation), as the RLVR checkpoint of a
// copy of the run's folder, whose other checkpoints are the run's: running the pipeline on that
// folder then evaluates the interpolated policy as the report's RLHF model
// (docs/tinychat/ppo-on-skills.md, session 15). It runs only with TINYCHAT_RUN, TINYCHAT_PROBE_OUT
// and TINYCHAT_ALPHA set (folders relative to the repository's root):
//
//	TINYCHAT_RUN=runs/final16 TINYCHAT_PROBE_OUT=runs/alpha75 TINYCHAT_ALPHA=0.75 \
//	  go test -run WeightInterpolationProbe -v ./examples/tinychat && go run ./examples/tinychat -out runs/alpha75
func TestWeightInterpolationProbe(t *testing.T) {
	src, out, a := os.Getenv("TINYCHAT_RUN"), os.Getenv("TINYCHAT_PROBE_OUT"), os.Getenv("TINYCHAT_ALPHA")
	if src == "" || out == "" || a == "" {
		t.Skip("skipped: set TINYCHAT_RUN, TINYCHAT_PROBE_OUT and TINYCHAT_ALPHA to write an interpolated policy")
	}
	alpha, err := strconv.ParseFloat(a, 64)
	require.NoError(t, err, "TINYCHAT_ALPHA")
	src, out = fromRepoRoot(src), fromRepoRoot(out)
	require.NoError(t, os.MkdirAll(out, 0o755))
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, "rlvr.") || strings.HasPrefix(name, "report.") || strings.HasPrefix(name, "plot_") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(out, name), b, 0o644))
	}
	sft, err := model.LoadStage(filepath.Join(src, "sft.safetensors"), model.StageSFT)
	require.NoError(t, err)
	pol, err := model.LoadStage(filepath.Join(src, "rlvr.safetensors"), model.StageRLHF)
	require.NoError(t, err)
	interpolate(t, pol.Model, sft.Model, float32(alpha))
	if pol.Extra == nil {
		pol.Extra = map[string]string{}
	}
	pol.Extra["interpolated"] = "sft + " + a + " (rlvr - sft)"
	require.NoError(t, pol.Save(filepath.Join(out, "rlvr.safetensors")))
	t.Logf("wrote %s: SFT + %g (RLHF − SFT)", filepath.Join(out, "rlvr.safetensors"), alpha)
}

// interpolate sets every weight of pol to sft's + alpha·(pol's − sft's).
func interpolate(t *testing.T, pol, sft *model.Model, alpha float32) {
	require.Equal(t, len(sft.Params), len(pol.Params))
	for _, p := range pol.Params {
		base := sft.Param(p.Name)
		require.NotNil(t, base, p.Name)
		require.Equal(t, len(base.Data), len(p.Data), p.Name)
		for i, v := range p.Data {
			p.Data[i] = base.Data[i] + alpha*(v-base.Data[i])
		}
	}
}

// interpolate with α 0 gives SFT's weights, 1 the policy's, 0.5 their mean.
func TestInterpolate(t *testing.T) {
	cfg := model.Config{Layers: 1, Heads: 1, Width: 8, BlockSize: 4, VocabSize: 11}
	a, err := model.New(cfg, 1)
	require.NoError(t, err)
	b, err := model.New(cfg, 2)
	require.NoError(t, err)
	for _, alpha := range []float32{0, 0.5, 1} {
		pol := b.Clone()
		interpolate(t, pol, a, alpha)
		for _, p := range pol.Params {
			for i, v := range p.Data {
				want := (1-alpha)*a.Param(p.Name).Data[i] + alpha*b.Param(p.Name).Data[i]
				require.InDelta(t, want, v, 1e-6, "%s[%d] at α %g", p.Name, i, alpha)
			}
		}
	}
}
