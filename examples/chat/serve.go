package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/serve"
)

// loadModels loads the -ckpt checkpoints, each PATH or NAME=PATH.
func loadModels(o options) ([]serve.Model, error) {
	var models []serve.Model
	for _, spec := range o.ckpts {
		name, path, named := strings.Cut(spec, "=")
		if !named {
			path = spec
		}
		m, err := serve.LoadModel(path)
		if err != nil {
			return nil, err
		}
		if named {
			m.Name = name
		}
		models = append(models, m)
	}
	return models, nil
}

// serveConfig is the server's configuration for the flags: with tools on (-tools, by
// default), the models whose tokenizer has the tool tokens run the calculator and, with -docs,
// the search tool; with -rag K, each chat request gets the K best passages as a context turn.
func serveConfig(o options, ex extras, logger *slog.Logger) (serve.Config, error) {
	cfg := serve.Config{APIKey: o.apiKey, MaxBatch: o.maxBatch, Lanes: o.lanes, Logger: logger}
	on := o.tools || !o.toolsSet
	if o.docs != "" && !on && o.rag == 0 {
		return cfg, fmt.Errorf("-docs %s: nothing uses the passages: give -rag K, or -tools for the search tool", o.docs)
	}
	if on {
		reg, err := ex.registry()
		if err != nil {
			return cfg, err
		}
		cfg.Tools = &chat.ToolConfig{Tools: reg}
	}
	if o.rag > 0 {
		cfg.Retriever, cfg.ContextPassages = ex.retriever, o.rag
	}
	return cfg, nil
}

// canRunTools reports whether m is a chat model whose tokenizer has the tool tokens.
func canRunTools(m serve.Model) bool {
	st := m.Checkpoint.Stage
	return (st == model.StageSFT || st == model.StageRLHF) && tokenizer.HasToolTokens(m.Checkpoint.Tokenizer)
}

// serveCheckpoints serves the checkpoints at o.serve until ctx ends, and returns the exit
// status.
func serveCheckpoints(ctx context.Context, o options, ex extras, stderr io.Writer) int {
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	cfg, err := serveConfig(o, ex, logger)
	if err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		return exitUsage
	}
	models, err := loadModels(o)
	if err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		return exitError
	}
	if o.tools && o.toolsSet && !slices.ContainsFunc(models, canRunTools) {
		fmt.Fprintln(stderr, "chat: -tools: no served chat (sft or rlhf) checkpoint's tokenizer has the tool tokens")
		return exitUsage
	}
	s, err := serve.New(cfg, models...)
	if err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		return exitError
	}
	defer s.Close()
	ln, err := net.Listen("tcp", o.serve)
	if err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		return exitError
	}
	for _, m := range models {
		toolTokens := canRunTools(m)
		logger.Info("model", "name", m.Name, "stage", m.Checkpoint.Stage, "parameters", m.Checkpoint.Model.Config.NumParams(),
			"tools", toolTokens && cfg.Tools != nil, "context", toolTokens && cfg.ContextPassages > 0)
	}
	logger.Info("chat page", "url", "http://"+ln.Addr().String()+"/")
	if err := s.Serve(ctx, ln); err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		return exitError
	}
	logger.Info("stopped")
	return exitOK
}

// loadTest serves the first checkpoint on loopback twice, batched (o.maxBatch) and unbatched,
// runs the same load test against each and prints the reports.
func loadTest(ctx context.Context, o options, stdout, stderr io.Writer) int {
	models, err := loadModels(o)
	if err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		return exitError
	}
	m := models[0]
	if st := m.Checkpoint.Stage; st != model.StageSFT && st != model.StageRLHF {
		fmt.Fprintf(stderr, "chat: -load needs a chat (sft or rlhf) checkpoint; %s is from the %q stage\n", o.ckpts[0], st)
		return exitError
	}
	fmt.Fprintf(stdout, "load test: %s (%s, %d parameters), %d concurrent streaming clients, %d requests, max_tokens %d, temperature %g\n",
		m.Name, m.Checkpoint.Stage, m.Checkpoint.Model.Config.NumParams(), o.load, o.loadReqs, o.maxTokens, o.temperature)
	runs := []struct {
		name  string
		batch int
	}{{fmt.Sprintf("batched (max batch %d)", o.maxBatch), o.maxBatch}, {"unbatched (max batch 1)", 1}}
	for _, r := range runs {
		s, err := serve.New(serve.Config{MaxBatch: r.batch, Lanes: o.lanes, MaxQueue: o.load}, m)
		if err != nil {
			fmt.Fprintln(stderr, "chat:", err)
			return exitError
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.Close()
			fmt.Fprintln(stderr, "chat:", err)
			return exitError
		}
		srvCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- s.Serve(srvCtx, ln) }()
		cfg := serve.LoadConfig{URL: "http://" + ln.Addr().String(), Clients: o.load, Requests: o.loadReqs, MaxTokens: o.maxTokens, Temperature: o.temperature}
		// A short warm-up, not measured.
		_, err = serve.LoadTest(ctx, serve.LoadConfig{URL: cfg.URL, Clients: o.load, Requests: o.load, MaxTokens: o.maxTokens, Temperature: o.temperature})
		var rep serve.LoadReport
		if err == nil {
			rep, err = serve.LoadTest(ctx, cfg)
		}
		stop()
		<-done
		s.Close()
		if err != nil {
			fmt.Fprintln(stderr, "chat:", err)
			return exitInterrupted
		}
		fmt.Fprintf(stdout, "%-24s %s\n", r.name, rep)
		if rep.Errors > 0 {
			fmt.Fprintln(stdout, "  first error:", rep.FirstError)
		}
	}
	return exitOK
}
