package rlhf

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAlarms: each alarm is raised by the history that should raise it, once, at the first step
// that shows it, and not by a healthy run.
func TestAlarms(t *testing.T) {
	line := func(step int, kv ...float64) map[string]float64 {
		m := map[string]float64{"step": float64(step)}
		keys := []string{"proxy", "gold", "kl", "reply_len", "ended_rate"}
		for i, v := range kv {
			m[keys[i]] = v
		}
		return m
	}
	healthy := []map[string]float64{
		line(10, 0.1, 60, 1, 10, 0.9), line(20, 0.3, 70, 2, 11, 0.95), line(30, 0.5, 75, 2.5, 11, 0.97),
		line(40, 0.6, 78, 3, 12, 0.98), line(50, 0.7, 79, 3.2, 12, 0.99),
	}
	require.Empty(t, Alarms(healthy, AlarmConfig{MaxReplyTokens: 32}))

	// The proxy keeps rising while the gold falls over the last three evaluations (at 40, 50,
	// 60), the KL passes 10 at 60, replies run to the limit at 50, and the end rate collapses at
	// 60 after being fine.
	bad := append(healthy[:3:3],
		line(40, 0.8, 74, 6, 20, 0.9), line(50, 1.1, 70, 9, 29, 0.6), line(60, 1.5, 65, 12, 31, 0.3), line(70, 1.9, 60, 15, 31, 0.2))
	got := Alarms(bad, AlarmConfig{MaxReplyTokens: 32})
	var kinds []string
	for _, a := range got {
		kinds = append(kinds, a.String())
	}
	require.Equal(t, []string{
		"step 50: length: replies average 29.0 tokens, near the limit of 32",
		"step 60: kl: KL to the starting model is 12.00 nats per reply, above 10.00",
		"step 60: ended: only 30% of replies end with <|end|>",
		"step 60: overoptimisation: proxy rose 0.5 → 1.5 over the last 3 evaluations while gold fell 75 → 65",
	}, kinds)

	// The watch logs each alarm once, as it happens.
	var buf bytes.Buffer
	w := newWatch(AlarmConfig{MaxReplyTokens: 32}, slog.New(slog.NewTextHandler(&buf, nil)))
	for _, l := range bad {
		step := map[string]float64{"kl": l["kl"], "reply_len": l["reply_len"], "ended_rate": l["ended_rate"]}
		w.step(int(l["step"]), step)
		w.eval(map[string]float64{"proxy": l["proxy"], "gold": l["gold"]})
	}
	require.Len(t, w.Raised, 4)
	require.Equal(t, 4, bytes.Count(buf.Bytes(), []byte("RL alarm")))
	require.Contains(t, buf.String(), "kind=overoptimisation")
}
