package rlhf_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/internal/testutil"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/rlhf"
)

// TestDPOWithRPOTerm: with RPOAlpha the run records the term (metadata and settings) and the
// chosen replies stay likelier than without it — plain DPO at a high learning rate lowers the
// chosen replies' log-probability along with the rejected ones'; the RPO term holds it up. A
// negative RPOAlpha is refused.
func TestDPOWithRPOTerm(t *testing.T) {
	words := testutil.Words(80, 5)
	sftPath := testutil.FineTuned(t, words[:60], 60)
	var pairs []data.Ranking
	for i, w := range words {
		pairs = append(pairs, data.Ranking{Source: fmt.Sprint(i), Prompt: testutil.RepeatPrompt(w), Responses: []string{w, words[(i+7)%len(words)]}})
	}
	nll := map[float64]float64{}
	for _, alpha := range []float64{0, 1} {
		cfg := rlhf.DefaultDPOConfig()
		cfg.Steps, cfg.LR, cfg.Seed, cfg.RPOAlpha = 40, 2e-3, 1, alpha
		cfg.Out = filepath.Join(t.TempDir(), "dpo.safetensors")
		res, err := rlhf.TrainDPOFile(context.Background(), cfg, sftPath, pairs[:60], pairs[60:])
		require.NoError(t, err)
		nll[alpha] = res.Metrics["chosen_nll"]
		info, err := model.ReadCheckpointInfo(cfg.Out)
		require.NoError(t, err)
		var settings map[string]string
		require.NoError(t, json.Unmarshal([]byte(info.Extra["train.settings"]), &settings))
		if alpha == 0 {
			require.NotContains(t, info.Extra, "rlhf.rpo_alpha")
			require.NotContains(t, settings, "RPOAlpha", "off: recorded as before the term existed")
		} else {
			require.Equal(t, "1", info.Extra["rlhf.rpo_alpha"])
			require.Equal(t, "1", settings["RPOAlpha"])
		}
	}
	t.Logf("held-out chosen NLL per token: α 0 %.3f, α 1 %.3f", nll[0], nll[1])
	require.Greater(t, nll[0], 0.0)
	require.Less(t, nll[1], nll[0])

	cfg := rlhf.DefaultDPOConfig()
	cfg.RPOAlpha, cfg.Out = -1, filepath.Join(t.TempDir(), "x.safetensors")
	_, err := rlhf.TrainDPOFile(context.Background(), cfg, sftPath, pairs[:60], nil)
	require.EqualError(t, err, "rlhf: RPOAlpha is -1, want ≥ 0 (0: off)")
}
