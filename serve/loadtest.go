package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// LoadConfig describes a load test: Clients concurrent clients send Requests streaming chat
// requests in all, each as soon as its previous one is answered. The zero value of a field
// gives its default.
type LoadConfig struct {
	// URL is the server's base URL, such as http://127.0.0.1:8080 (required).
	URL string
	// Model names the model ("": the server's first).
	Model string
	// APIKey is sent as a Bearer token when set.
	APIKey string
	// Clients is the number of concurrent clients (default 8).
	Clients int
	// Requests is the number of requests in all (default 64).
	Requests int
	// Prompts are the user messages, taken in turn (default: a few questions).
	Prompts []string
	// MaxTokens is each request's max_tokens (default 32).
	MaxTokens int
	// Temperature is each request's temperature; request i uses seed i, so a run is
	// reproducible.
	Temperature float64
	// Client sends the requests (default: a client with one connection per client).
	Client *http.Client
}

// LoadReport is what a load test measured.
type LoadReport struct {
	// Requests were sent; Errors of them failed (FirstError says how the first one did).
	Requests, Errors int
	FirstError       string
	// CompletionTokens is the sum of the successful requests' usage counts.
	CompletionTokens int
	// Elapsed is the wall time of the whole test.
	Elapsed time.Duration
	// TokensPerSecond is CompletionTokens / Elapsed: the aggregate generation rate.
	TokensPerSecond float64
	// TTFT50 and TTFT95 are the median and 95th percentile of the time to first token: from
	// sending a request to receiving its first event, which the server sends once the
	// request's first token is sampled.
	TTFT50, TTFT95 time.Duration
}

// String is a one-line summary.
func (r LoadReport) String() string {
	return fmt.Sprintf("%d requests, %d errors, %d tokens in %.2f s: %.0f tokens/s, time to first token p50 %.1f ms, p95 %.1f ms",
		r.Requests, r.Errors, r.CompletionTokens, r.Elapsed.Seconds(), r.TokensPerSecond,
		float64(r.TTFT50.Microseconds())/1000, float64(r.TTFT95.Microseconds())/1000)
}

// defaultLoadPrompts are short questions in the tiny world's style.
var defaultLoadPrompts = []string{
	"where does kibo live?", "what does mira like?", "who is tovi's friend?", "repeat hello",
	"tell me about lumo.", "what is the color of the sky?", "how old is zana?", "say something nice.",
}

// LoadTest runs the load test against a running server. It fails only for a bad config or a
// cancelled ctx; failed requests are counted in the report.
func LoadTest(ctx context.Context, cfg LoadConfig) (LoadReport, error) {
	if cfg.URL == "" {
		return LoadReport{}, errors.New("serve: load test: no URL")
	}
	if cfg.Clients < 0 || cfg.Requests < 0 || cfg.MaxTokens < 0 {
		return LoadReport{}, errors.New("serve: load test: Clients, Requests and MaxTokens must be >= 0")
	}
	if cfg.Clients == 0 {
		cfg.Clients = 8
	}
	if cfg.Requests == 0 {
		cfg.Requests = 64
	}
	if cfg.MaxTokens == 0 {
		cfg.MaxTokens = 32
	}
	if len(cfg.Prompts) == 0 {
		cfg.Prompts = defaultLoadPrompts
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Clients}}
	}
	url := strings.TrimSuffix(cfg.URL, "/") + "/v1/chat/completions"

	type result struct {
		ttft   time.Duration
		tokens int
		err    error
	}
	results := make([]result, cfg.Requests)
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range cfg.Clients {
		wg.Go(func() {
			for i := range next {
				ttft, tokens, err := loadRequest(ctx, cfg, url, i)
				results[i] = result{ttft, tokens, err}
			}
		})
	}
feed:
	for i := range cfg.Requests {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return LoadReport{}, err
	}
	rep := LoadReport{Requests: cfg.Requests, Elapsed: time.Since(start)}
	var ttfts []time.Duration
	for _, r := range results {
		if r.err != nil {
			if rep.Errors == 0 {
				rep.FirstError = r.err.Error()
			}
			rep.Errors++
			continue
		}
		rep.CompletionTokens += r.tokens
		ttfts = append(ttfts, r.ttft)
	}
	rep.TokensPerSecond = float64(rep.CompletionTokens) / rep.Elapsed.Seconds()
	slices.Sort(ttfts)
	rep.TTFT50, rep.TTFT95 = percentile(ttfts, 0.50), percentile(ttfts, 0.95)
	return rep, nil
}

// percentile is the nearest-rank percentile of sorted values (0 for none).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

// loadRequest sends request i and reads its stream to the end.
func loadRequest(ctx context.Context, cfg LoadConfig, url string, i int) (ttft time.Duration, tokens int, err error) {
	body, _ := json.Marshal(map[string]any{
		"model":          cfg.Model,
		"messages":       []map[string]string{{"role": "user", "content": cfg.Prompts[i%len(cfg.Prompts)]}},
		"max_tokens":     cfg.MaxTokens,
		"temperature":    cfg.Temperature,
		"seed":           i,
		"stream":         true,
		"stream_options": map[string]bool{"include_usage": true},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.APIKey)
	}
	sent := time.Now()
	resp, err := cfg.Client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		return 0, 0, fmt.Errorf("status %d: %s", resp.StatusCode, e.Error.Message)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	done := false
	for sc.Scan() {
		data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: "))
		if !ok {
			continue
		}
		if ttft == 0 {
			ttft = time.Since(sent)
		}
		if string(data) == "[DONE]" {
			done = true
			break
		}
		// Only the usage chunk and an error event are decoded; the others (a key's quotes
		// are escaped inside a string, so they hold neither key) are only checked to be JSON.
		if !bytes.Contains(data, []byte(`"usage":`)) && !bytes.Contains(data, []byte(`"error":`)) {
			if !json.Valid(data) {
				return 0, 0, fmt.Errorf("bad event %q", data)
			}
			continue
		}
		var c struct {
			Usage *usage          `json:"usage"`
			Error json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(data, &c); err != nil {
			return 0, 0, fmt.Errorf("bad event %q: %w", data, err)
		}
		if c.Error != nil {
			return 0, 0, fmt.Errorf("error event: %s", c.Error)
		}
		if c.Usage != nil {
			tokens = c.Usage.CompletionTokens
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if !done {
		return 0, 0, errors.New("the stream ended without [DONE]")
	}
	return ttft, tokens, nil
}
