package serve

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

// BenchmarkServe is the loopback load test of a model of tinychat's size (4 layers × 128,
// 4 heads, block 192 as tinychat's default model has today; random weights over the
// byte-level BPE's base vocabulary, so a reply runs to max_tokens 32 unless it samples a
// special token first: about 20 tokens a reply, after a prompt of about 24): 8 concurrent
// streaming clients send 64 requests, to a server that batches (batch=8) in its default lanes
// (lanes=0: one per core, up to 4) or in one (lanes=1), or serves one sequence at a time
// (batch=1), and 1 client alone sending the same 64 requests one after another gives the
// single-stream rate. It reports the aggregate tokens/s over all of the
// benchmark's iterations (tokens over wall time), the last iteration's time to first token
// (p50, p95) and errors, and the process's CPU time (user and system, server and clients together)
// per generated token, which tells the cost of a token apart from how much of a shared
// machine the run was given:
//
//	go test -run '^$' -bench Serve -count 3 ./serve
func BenchmarkServe(b *testing.B) {
	tok, err := tokenizer.NewBPEFromMerges(nil)
	require.NoError(b, err)
	m, err := model.New(model.Config{VocabSize: tok.VocabSize(), BlockSize: 192, Layers: 4, Heads: 4, Width: 128}, 1)
	require.NoError(b, err)
	ck := &model.Checkpoint{Stage: model.StageRLHF, Model: m, Tokenizer: tok}
	for _, tc := range []struct{ batch, lanes, clients int }{{8, 0, 8}, {8, 1, 8}, {1, 1, 8}, {1, 1, 1}} {
		name := fmt.Sprintf("batch=%d/clients=%d", tc.batch, tc.clients)
		if tc.batch > 1 {
			name = fmt.Sprintf("batch=%d/lanes=%d/clients=%d", tc.batch, tc.lanes, tc.clients)
		}
		b.Run(name, func(b *testing.B) {
			_, ts := newTestServer(b, Config{MaxBatch: tc.batch, Lanes: tc.lanes}, Model{Name: "tiny", Checkpoint: ck})
			cfg := LoadConfig{URL: ts.URL, Clients: tc.clients, Requests: 64, MaxTokens: 32, Temperature: 1}
			var rep LoadReport
			var tokens int
			var wall time.Duration
			cpu0 := processCPU()
			for b.Loop() {
				rep, err = LoadTest(context.Background(), cfg)
				require.NoError(b, err)
				tokens += rep.CompletionTokens
				wall += rep.Elapsed
			}
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(max(tokens, 1)), "cpu-us/token")
			b.ReportMetric(float64(tokens)/wall.Seconds(), "tokens/s")
			b.ReportMetric(float64(rep.TTFT50.Microseconds())/1000, "ttft-p50-ms")
			b.ReportMetric(float64(rep.TTFT95.Microseconds())/1000, "ttft-p95-ms")
			b.ReportMetric(float64(rep.Errors), "errors")
		})
	}
}
