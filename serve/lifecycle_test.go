package serve

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/model"
)

// endless asks the loop model for a reply that would take minutes to generate.
func endless(stream bool) map[string]any {
	return map[string]any{"messages": []data.Message{{Role: "user", Content: "go"}}, "max_tokens": 1 << 30, "temperature": 0, "stream": stream}
}

// waitFor polls cond until it holds (the test's own timeout bounds a failure).
func waitFor(cond func() bool) {
	for !cond() {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// TestQueueFull: with the model busy and its queue full, a request gets 429 with Retry-After
// at once; the queued one is served afterwards.
func TestQueueFull(t *testing.T) {
	s, ts := newTestServer(t, Config{MaxBatch: 1, MaxQueue: 1}, loopModel(t, "loop", 'a'))
	m := s.models[0]
	// Hold the batcher's goroutine inside a token callback.
	started, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var once sync.Once
		_, err := m.lanes[0].Generate(context.Background(), [][]int32{{1}}, model.SampleConfig{MaxNewTokens: 2, OnToken: func(int, int32) bool {
			once.Do(func() { close(started) })
			<-release
			return true
		}})
		assert.NoError(t, err)
	})
	<-started
	queued := make(chan int, 1)
	body := map[string]any{"messages": []data.Message{{Role: "user", Content: "go"}}, "max_tokens": 3, "temperature": 0}
	go func() {
		status, _, _ := post(t, ts.URL+"/v1/chat/completions", body)
		queued <- status
	}()
	waitFor(func() bool { return m.stats().Waiting == 1 })
	for _, stream := range []bool{false, true} {
		body["stream"] = stream
		status, h, raw := post(t, ts.URL+"/v1/chat/completions", body)
		require.Equal(t, http.StatusTooManyRequests, status, "%s", raw)
		assert.Equal(t, "1", h.Get("Retry-After"))
		e := decodeErr(t, raw)
		assert.Equal(t, "rate_limit_exceeded", *e.Error.Code)
		assert.Equal(t, "rate_limit_error", e.Error.Type)
	}
	close(release)
	wg.Wait()
	assert.Equal(t, http.StatusOK, <-queued)
}

// TestCancel: a client that goes away mid-stream stops its generation, and one whose
// non-streaming request is cancelled too.
func TestCancel(t *testing.T) {
	s, ts := newTestServer(t, Config{MaxTokens: 1 << 30}, loopModel(t, "loop", 'a'))
	m := s.models[0]
	ctx, cancel := context.WithCancel(context.Background())
	resp, _ := firstEvents(t, ctx, ts.URL+"/v1/chat/completions", endless(true), 5)
	assert.Equal(t, 1, m.stats().Active)
	cancel()
	resp.Body.Close()
	waitFor(func() bool { return m.stats().Active == 0 })

	ctx, cancel = context.WithCancel(context.Background())
	raw, _ := json.Marshal(endless(false))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/v1/chat/completions", strings.NewReader(string(raw)))
	errc := make(chan error, 1)
	go func() {
		_, err := http.DefaultClient.Do(req)
		errc <- err
	}()
	waitFor(func() bool { return m.stats().Active == 1 })
	cancel()
	assert.ErrorIs(t, <-errc, context.Canceled)
	waitFor(func() bool { return m.stats().Active == 0 })
}

// TestTimeout: a generation past RequestTimeout gets 504, or an error event mid-stream.
func TestTimeout(t *testing.T) {
	_, ts := newTestServer(t, Config{MaxTokens: 1 << 30, RequestTimeout: 100 * time.Millisecond}, loopModel(t, "loop", 'a'))
	status, _, raw := post(t, ts.URL+"/v1/chat/completions", endless(false))
	assert.Equal(t, http.StatusGatewayTimeout, status)
	assert.Equal(t, "timeout", *decodeErr(t, raw).Error.Code)

	r := stream(t, ts.URL+"/v1/chat/completions", endless(true))
	assert.False(t, r.done, "no [DONE] after an error")
	assert.Contains(t, r.errData, "longer than the server's limit of 100ms")
	assert.Contains(t, r.texts[0], "aaaa")
}

// TestSlowClient: a client that stops reading is cut off after WriteTimeout and its
// generation cancelled; the server goes on serving.
func TestSlowClient(t *testing.T) {
	s, ts := newTestServer(t, Config{MaxTokens: 1 << 30, WriteTimeout: 200 * time.Millisecond}, loopModel(t, "loop", 'a'))
	m := s.models[0]
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.(*net.TCPConn).SetReadBuffer(4096)) // fills sooner
	raw, _ := json.Marshal(endless(true))
	_, err = io.WriteString(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "+
		strconv.Itoa(len(raw))+"\r\n\r\n"+string(raw))
	require.NoError(t, err)
	// Never read: the socket buffers fill, a write times out, the generation stops.
	waitFor(func() bool { return m.stats().Active == 1 })
	waitFor(func() bool { return m.stats().Active == 0 })
	status, _, body := post(t, ts.URL+"/v1/chat/completions", map[string]any{"messages": []data.Message{{Role: "user", Content: "x"}}, "max_tokens": 2})
	assert.Equal(t, http.StatusOK, status, "%s", body)
}

// TestSlowSender: a client that sends its body too slowly gets cut off; others are served.
func TestSlowSender(t *testing.T) {
	_, ts := newTestServer(t, Config{ReadTimeout: 100 * time.Millisecond}, loopModel(t, "loop", 'a'))
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"messages\":")
	require.NoError(t, err)
	answer, err := io.ReadAll(conn) // the server answers 400 once its read deadline passes, and closes
	require.NoError(t, err)
	assert.Contains(t, string(answer), "400 Bad Request")
	assert.Contains(t, string(answer), "reading the request body")
}

// TestShutdown: when Serve's context ends, a short request in flight finishes, a long stream
// is cancelled after the grace period with an error event, and Serve returns nil.
func TestShutdown(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	s, err := New(Config{MaxTokens: 1 << 30, ShutdownGrace: 300 * time.Millisecond, Logger: logger}, loopModel(t, "loop", 'a'))
	require.NoError(t, err)
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String() + "/v1/chat/completions"
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	resp, br := firstEvents(t, context.Background(), url, endless(true), 3)
	defer resp.Body.Close()
	stop()
	rest, err := io.ReadAll(br)
	require.NoError(t, err)
	r := parseStream(t, readSSE(t, strings.NewReader(string(rest))))
	assert.False(t, r.done)
	assert.Contains(t, r.errData, "server_shutting_down")
	require.NoError(t, <-served)
	_, err = http.Get("http://" + ln.Addr().String() + "/health")
	assert.Error(t, err, "no longer listening")
	mu.Lock()
	assert.Contains(t, logs.String(), "cancelling the requests still running")
	assert.NotContains(t, logs.String(), "non-loopback")
	mu.Unlock()

	// A generation request that arrives while stopping gets 503.
	s.stopOnce.Do(func() { close(s.stopping) })
	rec := &recorder{header: http.Header{}}
	req, _ := http.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(`{"messages":[{"role":"user","content":"a"}]}`))
	s.Handler().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusServiceUnavailable, rec.status)
	assert.Equal(t, "5", rec.header.Get("Retry-After"))
}

// TestShutdownGrace: a request that finishes within the grace period is answered in full.
func TestShutdownGrace(t *testing.T) {
	s, err := New(Config{ShutdownGrace: time.Minute, Lanes: 1}, randomModel(t, "tiny", model.StageSFT))
	require.NoError(t, err)
	defer s.Close()
	m := s.models[0]
	started, release := make(chan struct{}), make(chan struct{})
	var holder sync.WaitGroup
	holder.Go(func() {
		var once sync.Once
		m.lanes[0].Generate(context.Background(), [][]int32{{1}}, model.SampleConfig{MaxNewTokens: 1, OnToken: func(int, int32) bool {
			once.Do(func() { close(started) })
			<-release
			return true
		}})
	})
	<-started
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	answered := make(chan int, 1)
	go func() {
		status, _, _ := post(t, "http://"+ln.Addr().String()+"/v1/chat/completions",
			map[string]any{"messages": []data.Message{{Role: "user", Content: "x"}}, "max_tokens": 3, "stream": true})
		answered <- status
	}()
	waitFor(func() bool { return m.stats().Waiting == 1 }) // the request is in, waiting for the model
	stop()
	close(release) // the model frees up during the grace period
	assert.Equal(t, http.StatusOK, <-answered)
	require.NoError(t, <-served)
	holder.Wait()
}

// TestNonLoopbackWarning: serving beyond loopback is logged as a warning.
func TestNonLoopbackWarning(t *testing.T) {
	var logs strings.Builder
	s, err := New(Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, randomModel(t, "tiny", model.StageSFT))
	require.NoError(t, err)
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	stop()
	require.NoError(t, s.Serve(ctx, publicListener{ln}))
	assert.Contains(t, logs.String(), "level=WARN")
	assert.Contains(t, logs.String(), "non-loopback")
	assert.Contains(t, logs.String(), "no API key is set")
}

// publicListener reports a public address.
type publicListener struct{ net.Listener }

func (publicListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(0, 0, 0, 0), Port: 8080} }

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// recorder is a minimal ResponseWriter.
type recorder struct {
	header http.Header
	status int
	body   strings.Builder
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(status int)      { r.status = status }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }

// TestLanes: with two lanes, a request arriving while the first lane decodes goes to the
// second and gets the same reply for its seed as it gets alone on the first; MaxQueue bounds
// the requests waiting in all lanes together; MaxBatch is shared out among the lanes.
func TestLanes(t *testing.T) {
	rm := randomModel(t, "tiny", model.StageSFT)
	s, ts := newTestServer(t, Config{MaxBatch: 2, Lanes: 2, MaxQueue: 1}, rm)
	m := s.models[0]
	require.Len(t, m.lanes, 2)
	for _, b := range m.lanes {
		assert.Equal(t, 1, b.Config().MaxBatch)
	}
	body := map[string]any{"messages": []data.Message{{Role: "user", Content: "hi"}}, "max_tokens": 12, "temperature": 1, "seed": 5}
	status, _, raw := post(t, ts.URL+"/v1/chat/completions", body)
	require.Equal(t, http.StatusOK, status, "%s", raw)
	reply := func(raw []byte) string {
		var r chatResponse
		require.NoError(t, json.Unmarshal(raw, &r), "%s", raw)
		require.Len(t, r.Choices, 1)
		return r.Choices[0].Message.Content
	}
	alone := reply(raw)
	require.NotEmpty(t, alone)

	// Hold the first lane inside a token callback: the request goes to the second.
	release := make(chan struct{})
	var holders sync.WaitGroup
	hold := func(lane int) {
		started := make(chan struct{})
		holders.Go(func() {
			var once sync.Once
			_, err := m.lanes[lane].Generate(context.Background(), [][]int32{{1}}, model.SampleConfig{MaxNewTokens: 2, OnToken: func(int, int32) bool {
				once.Do(func() { close(started) })
				<-release
				return true
			}})
			assert.NoError(t, err)
		})
		<-started
	}
	hold(0)
	status, _, raw = post(t, ts.URL+"/v1/chat/completions", body)
	require.Equal(t, http.StatusOK, status, "%s", raw)
	assert.Equal(t, alone, reply(raw), "the same seed on another lane")
	assert.Equal(t, 1, m.lanes[0].Stats().Active, "the first lane was busy all along")

	// Both lanes busy: one request waits, the next gets 429.
	hold(1)
	queued := make(chan int, 1)
	go func() {
		status, _, _ := post(t, ts.URL+"/v1/chat/completions", body)
		queued <- status
	}()
	waitFor(func() bool { return m.stats().Waiting == 1 })
	status, _, raw = post(t, ts.URL+"/v1/chat/completions", body)
	require.Equal(t, http.StatusTooManyRequests, status, "%s", raw)
	close(release)
	assert.Equal(t, http.StatusOK, <-queued)
	holders.Wait()

	// MaxBatch 1 means one sequence at a time: one lane whatever Lanes says.
	s1, err := New(Config{MaxBatch: 1, Lanes: 4}, rm)
	require.NoError(t, err)
	defer s1.Close()
	assert.Len(t, s1.models[0].lanes, 1)
	s3, err := New(Config{MaxBatch: 8, Lanes: 3}, rm)
	require.NoError(t, err)
	defer s3.Close()
	var batches []int
	for _, b := range s3.models[0].lanes {
		batches = append(batches, b.Config().MaxBatch)
	}
	assert.Equal(t, []int{3, 3, 2}, batches)
	_, err = New(Config{Lanes: -1}, rm)
	assert.ErrorContains(t, err, "Lanes must be >= 0")
}
