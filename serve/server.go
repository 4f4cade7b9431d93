package serve

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

// Model is a checkpoint to serve under a name.
type Model struct {
	// Name is what a request's "model" field says to pick this model. It must be unique and
	// not empty.
	Name string
	// Checkpoint is a pretrain, sft or rlhf checkpoint (reward models cannot generate).
	Checkpoint *model.Checkpoint
}

// LoadModel loads the checkpoint at path, named after its file without the extension
// (runs/tinychat/rlhf.safetensors → "rlhf"). It refuses reward-model checkpoints.
func LoadModel(path string) (Model, error) {
	ck, err := model.LoadStage(path, model.StagePretrain, model.StageSFT, model.StageRLHF)
	if err != nil {
		return Model{}, fmt.Errorf("serve: %w", err)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return Model{Name: name, Checkpoint: ck}, nil
}

// loaded is a model being served.
type loaded struct {
	Model
	// lanes decode the requests that run no tools (Config.Lanes); maxQueue bounds the
	// requests waiting in all of them together.
	lanes    []*chat.Batcher
	maxQueue int
	created  int64
	// toolAsst runs the requests with tools (nil when the server runs none for this model),
	// one at a time: toolSlot holds a token while one runs, and toolWaiting counts the
	// requests waiting for it (at most Config.MaxQueue).
	toolAsst    *chat.Assistant
	toolSlot    chan struct{}
	toolWaiting atomic.Int64
}

// generate runs prompts on the least loaded lane (the first of equals: requests one after
// another all go to the first lane). It fails with chat.ErrQueueFull when the lanes hold
// maxQueue waiting requests.
func (l *loaded) generate(ctx context.Context, prompts [][]int32, sc model.SampleConfig) ([]model.Sample, error) {
	best, bestLoad, waiting := l.lanes[0], -1, 0
	for _, b := range l.lanes {
		st := b.Stats()
		waiting += st.Waiting
		if load := st.Active + st.Waiting; bestLoad < 0 || load < bestLoad {
			best, bestLoad = b, load
		}
	}
	if waiting >= l.maxQueue {
		return nil, chat.ErrQueueFull
	}
	return best.Generate(ctx, prompts, sc)
}

// stats sums the lanes' loads.
func (l *loaded) stats() chat.BatcherStats {
	var sum chat.BatcherStats
	for _, b := range l.lanes {
		st := b.Stats()
		sum.Active += st.Active
		sum.Waiting += st.Waiting
	}
	return sum
}

// close stops the model's lanes.
func (l *loaded) close() {
	for _, b := range l.lanes {
		b.Close()
	}
}

// toolTokens reports whether the model's tokenizer has the tool and context tokens.
func (l *loaded) toolTokens() bool { return tokenizer.HasToolTokens(l.Checkpoint.Tokenizer) }

// chatModel reports whether the model was fine-tuned to chat.
func (l *loaded) chatModel() bool {
	return l.Checkpoint.Stage == model.StageSFT || l.Checkpoint.Stage == model.StageRLHF
}

// Server answers the API for one or more models. Its Handler can be mounted on any
// http.Server; Serve runs one with the Config's timeouts and a graceful shutdown.
type Server struct {
	cfg    Config
	models []*loaded
	byName map[string]*loaded

	// stopping is closed when Serve's shutdown starts: new generation requests get 503.
	// cancelAll ends every running generation once the grace period is over.
	stopOnce  sync.Once
	stopping  chan struct{}
	genCtx    context.Context
	cancelAll context.CancelFunc
}

// New prepares a Server for models; the first one answers requests that name no model.
// Close releases it.
func New(cfg Config, models ...Model) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(models) == 0 {
		return nil, errors.New("serve: no models to serve")
	}
	s := &Server{cfg: cfg, byName: map[string]*loaded{}, stopping: make(chan struct{})}
	s.genCtx, s.cancelAll = context.WithCancel(context.Background())
	now := time.Now().Unix()
	for i, m := range models {
		var err error
		switch {
		case m.Name == "":
			err = fmt.Errorf("model %d has no name", i)
		case s.byName[m.Name] != nil:
			err = fmt.Errorf("two models are named %q", m.Name)
		case m.Checkpoint == nil || m.Checkpoint.Model == nil || m.Checkpoint.Tokenizer == nil:
			err = fmt.Errorf("model %q has no checkpoint, weights or tokenizer", m.Name)
		case m.Checkpoint.Stage == model.StageReward || m.Checkpoint.Model.Config.ScalarHead:
			err = fmt.Errorf("model %q is a reward model: it scores replies and cannot generate them", m.Name)
		case m.Checkpoint.Stage != model.StagePretrain && m.Checkpoint.Stage != model.StageSFT && m.Checkpoint.Stage != model.StageRLHF:
			err = fmt.Errorf("model %q is from the unknown stage %q", m.Name, m.Checkpoint.Stage)
		}
		l := &loaded{Model: m, created: now, maxQueue: cfg.MaxQueue}
		for i := 0; i < cfg.Lanes && err == nil; i++ {
			batch := cfg.MaxBatch / cfg.Lanes // MaxBatch shared out, the first lanes taking the remainder
			if i < cfg.MaxBatch%cfg.Lanes {
				batch++
			}
			var b *chat.Batcher
			if b, err = chat.NewBatcher(m.Checkpoint.Model, chat.BatcherConfig{MaxBatch: batch, MaxQueue: cfg.MaxQueue}); err == nil {
				l.lanes = append(l.lanes, b)
			}
		}
		if err != nil {
			l.close()
			s.Close()
			return nil, fmt.Errorf("serve: %w", err)
		}
		if cfg.Tools != nil && l.chatModel() && l.toolTokens() {
			l.toolAsst, err = chat.NewAssistant(m.Checkpoint.Model, m.Checkpoint.Tokenizer, 1)
			l.toolSlot = make(chan struct{}, 1)
		}
		if err != nil {
			l.close()
			s.Close()
			return nil, fmt.Errorf("serve: %w", err)
		}
		s.models = append(s.models, l)
		s.byName[m.Name] = l
	}
	return s, nil
}

// Close stops the models' batchers: running requests end with an error. Call it after the
// Handler is no longer served.
func (s *Server) Close() {
	s.cancelAll()
	for _, m := range s.models {
		m.close()
	}
}

// Handler returns the HTTP handler of the API and the page.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.route)
}

// route dispatches a request. Every answer outside the page is JSON, 404 and 405 included.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	path := r.URL.Path
	if !strings.HasPrefix(path, "/v1/") {
		switch path {
		case "/health":
			if methodIs(w, r, http.MethodGet, http.MethodHead) {
				writeJSON(w, http.StatusOK, map[string]string{"status": "ok"}, s.cfg.WriteTimeout)
			}
		default:
			s.servePage(w, r)
		}
		return
	}
	if !s.authorized(r) {
		writeError(w, errUnauthorized(), s.cfg.WriteTimeout)
		return
	}
	switch {
	case path == "/v1/chat/completions":
		if methodIs(w, r, http.MethodPost) {
			s.chatCompletions(w, r)
		}
	case path == "/v1/completions":
		if methodIs(w, r, http.MethodPost) {
			s.completions(w, r)
		}
	case path == "/v1/models":
		if methodIs(w, r, http.MethodGet, http.MethodHead) {
			s.listModels(w)
		}
	case strings.HasPrefix(path, "/v1/models/"):
		if methodIs(w, r, http.MethodGet, http.MethodHead) {
			s.getModel(w, strings.TrimPrefix(path, "/v1/models/"))
		}
	default:
		writeError(w, errNotFound(r), s.cfg.WriteTimeout)
	}
}

// methodIs reports whether r uses one of methods, answering 405 when it does not.
func methodIs(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeError(w, &apiError{status: http.StatusMethodNotAllowed, typ: typeInvalidRequest,
		msg: fmt.Sprintf("%s %s is not allowed; use %s", r.Method, r.URL.Path, strings.Join(methods, " or "))}, 0)
	return false
}

// authorized checks the API key, in constant time.
func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.APIKey == "" {
		return true
	}
	auth := r.Header.Get("Authorization")
	key, ok := strings.CutPrefix(auth, "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(key)), []byte(s.cfg.APIKey)) == 1
}

// modelInfo is one entry of /v1/models. stage, context_length and chat are tinychat's
// additions (the page uses them).
type modelInfo struct {
	ID            string `json:"id"`
	Object        string `json:"object"`
	Created       int64  `json:"created"`
	OwnedBy       string `json:"owned_by"`
	Stage         string `json:"stage"`
	Chat          bool   `json:"chat"`
	ContextLength int    `json:"context_length"`
	Parameters    int    `json:"parameters"`
	// Tools reports that the server runs the tools this model calls (an extension).
	Tools bool `json:"tools"`
}

func (l *loaded) info() modelInfo {
	cfg := l.Checkpoint.Model.Config
	return modelInfo{ID: l.Name, Object: "model", Created: l.created, OwnedBy: "tinychat",
		Stage: string(l.Checkpoint.Stage), Chat: l.chatModel(), ContextLength: cfg.BlockSize, Parameters: cfg.NumParams(), Tools: l.toolAsst != nil}
}

func (s *Server) listModels(w http.ResponseWriter) {
	list := struct {
		Object string      `json:"object"`
		Data   []modelInfo `json:"data"`
	}{Object: "list"}
	for _, m := range s.models {
		list.Data = append(list.Data, m.info())
	}
	writeJSON(w, http.StatusOK, list, s.cfg.WriteTimeout)
}

func (s *Server) getModel(w http.ResponseWriter, name string) {
	m := s.byName[name]
	if m == nil {
		writeError(w, errModelNotFound(name), s.cfg.WriteTimeout)
		return
	}
	writeJSON(w, http.StatusOK, m.info(), s.cfg.WriteTimeout)
}

// pick returns the model a request names ("" is the first one).
func (s *Server) pick(name string) (*loaded, *apiError) {
	if name == "" {
		return s.models[0], nil
	}
	if m := s.byName[name]; m != nil {
		return m, nil
	}
	return nil, errModelNotFound(name)
}

// IsLoopback reports whether addr (host:port, as http.Server takes it) binds only the
// loopback interface. An empty host (":8080") binds every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Serve answers on ln until ctx ends, then shuts down gracefully: it stops accepting, lets
// running requests finish for Config.ShutdownGrace, then cancels their generation (streams
// end with an error event) and returns once every handler is done. It returns nil after a
// shutdown caused by ctx, or the error that stopped serving. It logs a warning when ln is
// not on loopback.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if !IsLoopback(ln.Addr().String()) {
		s.cfg.Logger.Warn("serving on a non-loopback address: anyone who can reach it can use the models"+
			map[bool]string{true: " (an API key is required)", false: " (no API key is set)"}[s.cfg.APIKey != ""],
			"addr", ln.Addr().String())
	}
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.ReadTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slogErrorLog(s.cfg.Logger),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.cfg.Logger.Info("serving", "addr", ln.Addr().String(), "models", len(s.models))
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.stopOnce.Do(func() { close(s.stopping) })
	graceCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	err := hs.Shutdown(graceCtx)
	if err != nil {
		// The grace period is over: cancel the generations, and wait for their handlers.
		s.cfg.Logger.Info("cancelling the requests still running")
		s.cancelAll()
		waitCtx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout+5*time.Second)
		defer cancel()
		err = hs.Shutdown(waitCtx)
	}
	<-errc
	if err != nil {
		hs.Close()
		return fmt.Errorf("serve: shutting down: %w", err)
	}
	return nil
}

// ListenAndServe listens on addr (host:port) and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return s.Serve(ctx, ln)
}
