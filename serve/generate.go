package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/retrieval"
	"github.com/tinychat-go/tinychat/tools"
)

// job is one checked generation request.
type job struct {
	m       *loaded
	chat    bool // chat.completion objects, else text_completion
	prompts [][]int32
	p       params
	// msgs is a chat request's conversation (its context turn included); tools says to run
	// it with the server's tools; hits are the passages of its context turn.
	msgs  []data.Message
	tools bool
	hits  []retrieval.Hit
}

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if e := decodeBody(w, r, s.cfg, &req); e != nil {
		writeError(w, e, s.cfg.WriteTimeout)
		return
	}
	m, e := s.pick(req.Model)
	if e != nil {
		writeError(w, e, s.cfg.WriteTimeout)
		return
	}
	if !m.chatModel() {
		writeError(w, badRequest("model", "the model %q is a base (%s) model, not fine-tuned to chat: use /v1/completions", m.Name, m.Checkpoint.Stage), s.cfg.WriteTimeout)
		return
	}
	p, e := req.check(s.cfg, s.cfg.MaxTokens)
	if e != nil {
		writeError(w, e, s.cfg.WriteTimeout)
		return
	}
	msgs, e := req.messages()
	if e != nil {
		writeError(w, e, s.cfg.WriteTimeout)
		return
	}
	var hits []retrieval.Hit
	if s.cfg.Retriever != nil && s.cfg.ContextPassages > 0 && m.toolTokens() {
		last := len(msgs) - 1
		var err error
		hits, err = s.cfg.Retriever.Search(r.Context(), msgs[last].Content, s.cfg.ContextPassages)
		if err != nil {
			writeError(w, errInternal(fmt.Errorf("retrieving passages: %w", err)), s.cfg.WriteTimeout)
			return
		}
		if c, ok := chat.ContextTurn(hits); ok {
			msgs = slices.Insert(msgs, last, c)
		}
	}
	tools := m.toolAsst != nil && !bytes.Equal(bytes.TrimSpace(req.ToolChoice), []byte(`"none"`))
	if tools && p.n > 1 {
		writeError(w, badRequest("n", "n must be 1 when the server runs the model's tools (or send \"tool_choice\": \"none\"), got %d", p.n), s.cfg.WriteTimeout)
		return
	}
	prompt, err := data.RenderPrompt(m.Checkpoint.Tokenizer, msgs)
	if err != nil {
		writeError(w, badRequest("messages", "the %s tokenizer cannot encode the messages: %v", m.Checkpoint.Tokenizer.Kind(), err), s.cfg.WriteTimeout)
		return
	}
	if e := checkLength(m, len(prompt), "messages"); e != nil {
		writeError(w, e, s.cfg.WriteTimeout)
		return
	}
	s.generate(w, r, job{m: m, chat: true, prompts: [][]int32{prompt}, p: p, msgs: msgs, tools: tools, hits: hits})
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	if e := decodeBody(w, r, s.cfg, &req); e != nil {
		writeError(w, e, s.cfg.WriteTimeout)
		return
	}
	m, e := s.pick(req.Model)
	if e != nil {
		writeError(w, e, s.cfg.WriteTimeout)
		return
	}
	p, e := req.check(s.cfg, 16)
	if e != nil {
		writeError(w, e, s.cfg.WriteTimeout)
		return
	}
	switch {
	case req.Echo != nil && *req.Echo:
		e = badRequest("echo", "echo is not supported")
	case req.Suffix != nil && *req.Suffix != "":
		e = badRequest("suffix", "suffix is not supported")
	}
	if e != nil {
		writeError(w, e, s.cfg.WriteTimeout)
		return
	}
	texts, e := stringOrList(req.Prompt, "prompt")
	switch {
	case e != nil:
	case texts == nil:
		e = badRequest("prompt", "prompt is required: a string or an array of strings")
	case len(texts) == 0:
		e = badRequest("prompt", "prompt must hold at least one string")
	case len(texts)*p.n > s.cfg.MaxN:
		e = badRequest("n", "prompts × n must be at most the server's limit of %d, got %d × %d", s.cfg.MaxN, len(texts), p.n)
	}
	if e != nil {
		writeError(w, e, s.cfg.WriteTimeout)
		return
	}
	prompts := make([][]int32, len(texts))
	for i, text := range texts {
		// A document starts after <|bos|>, as in pretraining.
		ids, err := m.Checkpoint.Tokenizer.Encode(text)
		if err != nil {
			writeError(w, badRequest("prompt", "prompt %d: the %s tokenizer cannot encode it: %v", i, m.Checkpoint.Tokenizer.Kind(), err), s.cfg.WriteTimeout)
			return
		}
		p := make([]int32, 1, len(ids)+1)
		p[0] = tokenizer.BOS
		for _, id := range ids {
			p = append(p, int32(id))
		}
		if e := checkLength(m, len(p), "prompt"); e != nil {
			writeError(w, e, s.cfg.WriteTimeout)
			return
		}
		prompts[i] = p
	}
	s.generate(w, r, job{m: m, prompts: prompts, p: p})
}

// checkLength refuses a prompt longer than the model's context.
func checkLength(m *loaded, n int, field string) *apiError {
	if block := m.Checkpoint.Model.Config.BlockSize; n > block {
		return &apiError{status: http.StatusBadRequest, typ: typeInvalidRequest, param: field, code: "context_length_exceeded",
			msg: fmt.Sprintf("the model's context is %d tokens, but the %s take %d", block, field, n)}
	}
	return nil
}

// event is one choice's progress, sent from the batcher's goroutine to the handler.
type event struct {
	choice int
	delta  string
	finish string
	// call is a tool call that has run (delta and finish are empty then).
	call *chat.ToolCall
}

// eventQueue passes events from the batcher's goroutine, which must never block, to the
// handler: an unbounded list (a request makes at most choices × max_tokens of them) and a
// signal.
type eventQueue struct {
	mu     sync.Mutex
	events []event
	signal chan struct{}
}

func (q *eventQueue) push(e event) {
	q.mu.Lock()
	q.events = append(q.events, e)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *eventQueue) take() []event {
	q.mu.Lock()
	defer q.mu.Unlock()
	ev := q.events
	q.events = nil
	return ev
}

// usage is OpenAI's token count.
type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// generate runs j and answers it, whole or streamed.
func (s *Server) generate(w http.ResponseWriter, r *http.Request, j job) {
	select {
	case <-s.stopping:
		writeError(w, errShuttingDown(), s.cfg.WriteTimeout)
		return
	default:
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	stopAfter := context.AfterFunc(s.genCtx, cancel)
	defer stopAfter()

	n := len(j.prompts) * j.p.n
	trackers := make([]*textTracker, n)
	for i := range trackers {
		trackers[i] = &textTracker{tok: j.m.Checkpoint.Tokenizer, stops: j.p.stops, maxNew: j.p.maxTokens}
	}
	q := &eventQueue{signal: make(chan struct{}, 1)}
	sc := model.SampleConfig{
		MaxNewTokens: j.p.maxTokens,
		Temperature:  j.p.temperature,
		TopK:         j.p.topK,
		TopP:         j.p.topP,
		Seed:         j.p.seed,
		NumSamples:   j.p.n,
		OnToken: func(i int, tok int32) bool {
			delta, more := trackers[i].add(tok)
			if delta != "" || !more {
				q.push(event{choice: i, delta: delta, finish: trackers[i].finish})
			}
			return more
		},
	}
	if j.chat {
		sc.StopTokens = []int32{tokenizer.End}
	}
	var (
		samples  []model.Sample
		toolRead int // the prompt and tool-result tokens a reply with tools read
		genErr   error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if j.tools {
			samples, toolRead, genErr = runTools(ctx, j, sc, *s.cfg.Tools, s.cfg.MaxQueue, q)
		} else {
			samples, genErr = j.m.generate(ctx, j.prompts, sc)
		}
	}()

	// countUsage counts the tokens (see the package doc for a reply with tools): the prompts
	// and what was generated.
	countUsage := func() usage {
		promptTokens := toolRead
		if !j.tools {
			for _, p := range j.prompts {
				promptTokens += len(p)
			}
		}
		u := usage{PromptTokens: promptTokens}
		for _, smp := range samples {
			u.CompletionTokens += len(smp.Tokens)
		}
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
		return u
	}
	id, created := newID(j.chat), time.Now().Unix()
	// failure maps a generation error to the answer.
	failure := func(err error) *apiError {
		switch {
		case errors.Is(err, chat.ErrQueueFull):
			return errQueueFull()
		case errors.Is(err, chat.ErrClosed), s.genCtx.Err() != nil:
			return errShuttingDown()
		case errors.Is(err, context.DeadlineExceeded):
			return errTimeout(s.cfg.RequestTimeout)
		default:
			return errInternal(err)
		}
	}

	if !j.p.stream {
		<-done
		if genErr != nil {
			if r.Context().Err() == nil {
				writeError(w, failure(genErr), s.cfg.WriteTimeout)
			}
			return
		}
		var calls []any
		for _, e := range q.take() {
			if e.call != nil {
				calls = append(calls, toolCallJSON(len(calls), *e.call))
			}
		}
		choices := make([]any, n)
		for i, t := range trackers {
			t.close()
			if j.chat {
				msg := map[string]any{"role": "assistant", "content": t.text.String()}
				if len(calls) > 0 {
					msg["executed_tool_calls"] = calls
				}
				if len(j.hits) > 0 {
					msg["context"] = contextJSON(j.hits)
				}
				choices[i] = map[string]any{"index": i, "message": msg, "logprobs": nil, "finish_reason": t.finish}
			} else {
				choices[i] = map[string]any{"index": i, "text": t.text.String(), "logprobs": nil, "finish_reason": t.finish}
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": objectName(j.chat, false), "created": created,
			"model": j.m.Name, "choices": choices, "usage": countUsage()}, s.cfg.WriteTimeout)
		return
	}

	// Streaming: the headers go out with the first event, so that a request refused at once
	// (a full queue) still gets its status code.
	sw := &sseWriter{w: w, rc: http.NewResponseController(w), timeout: s.cfg.WriteTimeout}
	calls := 0 // the tool calls sent
	chunk := func(choices []any) map[string]any {
		return map[string]any{"id": id, "object": objectName(j.chat, true), "created": created, "model": j.m.Name, "choices": choices}
	}
	choiceDelta := func(e event, first bool) any {
		var finish any
		if e.finish != "" {
			finish = e.finish
		}
		if !j.chat {
			return map[string]any{"index": e.choice, "text": e.delta, "logprobs": nil, "finish_reason": finish}
		}
		d := map[string]any{}
		if first {
			d["role"] = "assistant"
			if len(j.hits) > 0 {
				d["context"] = contextJSON(j.hits)
			}
		}
		if e.call != nil {
			d["executed_tool_calls"] = []any{toolCallJSON(calls, *e.call)}
			calls++
			return map[string]any{"index": e.choice, "delta": d, "logprobs": nil, "finish_reason": nil}
		}
		if e.delta != "" || first {
			d["content"] = e.delta
		}
		return map[string]any{"index": e.choice, "delta": d, "logprobs": nil, "finish_reason": finish}
	}
	started := false
	start := func() {
		if started {
			return
		}
		started = true
		sw.start()
		if j.chat {
			// OpenAI's first chunk of each choice gives the role.
			for i := range n {
				sw.data(chunk([]any{choiceDelta(event{choice: i}, true)}))
			}
		}
	}
	// A text delta, the chunk sent once per token, is written from precomputed bytes (the
	// same bytes as the map's encoding: keys in order, the text quoted as encoding/json does).
	deltaChunk := newDeltaChunk(j.chat, chunk(nil))
	send := func(evs []event) {
		if len(evs) > 0 {
			start()
		}
		for _, e := range evs {
			if e.finish != "" && e.delta != "" {
				// The last text and the finish reason in two chunks, as OpenAI sends them.
				sw.raw(deltaChunk.append(sw.buf, e.choice, e.delta))
				e.delta = ""
			}
			if e.call == nil && e.finish == "" {
				sw.raw(deltaChunk.append(sw.buf, e.choice, e.delta))
				continue
			}
			sw.data(chunk([]any{choiceDelta(e, false)}))
		}
		// The events queued since the last write go out in one write.
		sw.commit()
	}
	for {
		select {
		case <-q.signal:
			send(q.take())
			if sw.err != nil {
				cancel() // the client is gone or too slow: stop generating
				<-done
				return
			}
			continue
		case <-done:
		}
		break
	}
	send(q.take())
	if genErr != nil {
		if r.Context().Err() != nil || sw.err != nil {
			return
		}
		e := failure(genErr)
		if !started {
			writeError(w, e, s.cfg.WriteTimeout)
			return
		}
		// Mid-stream, the error is an event (OpenAI's clients raise it); there is no [DONE].
		sw.data(e.body())
		sw.commit()
		return
	}
	start()
	var last []event
	for i, t := range trackers {
		// A reply that the generation stopped without the tracker seeing it end (one cut at
		// max_tokens, or, with tools, at the model's block) ends here with "length".
		if t.finish == "" {
			last = append(last, event{choice: i, delta: t.close(), finish: t.finish})
		}
	}
	send(last)
	if j.p.usage {
		c := chunk([]any{})
		c["usage"] = countUsage()
		sw.data(c)
	}
	sw.done()
}

// toolCallJSON is the i-th tool call of a reply in the response, shaped as an entry of
// OpenAI's "tool_calls" (id, type, function name and arguments, the arguments being the call's
// text after the tool's name) with what the server's run of it gave: "output", and
// "is_error" for an in-band error result.
func toolCallJSON(i int, c chat.ToolCall) map[string]any {
	_, args := tools.ParseCall(c.Text)
	return map[string]any{
		"index": i, "id": fmt.Sprintf("call_%d", i), "type": "function",
		"function": map[string]string{"name": c.Name, "arguments": args},
		"output":   c.Result, "is_error": c.Error,
	}
}

// contextJSON lists the passages of a context turn: the document, the passage's ID in the
// retriever's passages, its text and its score.
func contextJSON(hits []retrieval.Hit) []any {
	out := make([]any, len(hits))
	for i, h := range hits {
		out[i] = map[string]any{"doc": h.Passage.Doc, "id": h.Passage.ID, "text": h.Passage.Text, "score": h.Score}
	}
	return out
}

// runTools generates j's one reply with the model's tool assistant, running the tools it
// calls (one request at a time per model; at most maxQueue wait for their turn, and more get
// chat.ErrQueueFull). Tokens go to sc.OnToken as the tool loop gives them, except those of the
// calls, which come as call events on q when the call has run. It returns the reply's sample,
// whose tokens are every token the model generated (its calls included), and the number of
// tokens the model read without writing them: the prompt and the inserted tool results.
func runTools(ctx context.Context, j job, sc model.SampleConfig, cfg chat.ToolConfig, maxQueue int, q *eventQueue) ([]model.Sample, int, error) {
	select {
	case j.m.toolSlot <- struct{}{}:
	default:
		// The slot is taken: wait for it, if the queue has room.
		if j.m.toolWaiting.Add(1) > int64(maxQueue) {
			j.m.toolWaiting.Add(-1)
			return nil, 0, chat.ErrQueueFull
		}
		select {
		case j.m.toolSlot <- struct{}{}:
			j.m.toolWaiting.Add(-1)
		case <-ctx.Done():
			j.m.toolWaiting.Add(-1)
			return nil, 0, ctx.Err()
		}
	}
	defer func() { <-j.m.toolSlot }()
	onCall := cfg.OnCall
	cfg.OnCall = func(c chat.ToolCall) {
		q.push(event{call: &c})
		if onCall != nil {
			onCall(c)
		}
	}
	onToken, seen := sc.OnToken, 0
	var calls chat.CallTokens // the calls' tokens come as call events, not as text
	sc.OnToken = func(i int, tok int32) bool {
		seen++
		if calls.Next(tok) == chat.TextToken {
			return onToken(i, tok)
		}
		return true
	}
	sc.NumSamples = 1
	r, err := j.m.toolAsst.ReplyWithTools(ctx, j.msgs, sc, cfg)
	if err != nil {
		return nil, 0, err
	}
	var smp model.Sample
	read := len(r.Prompt)
	for i, tok := range r.Tokens {
		if r.Inserted[i] {
			read++
		} else {
			smp.Tokens = append(smp.Tokens, tok)
		}
	}
	smp.Stopped = r.Ended
	// The tool loop passes every generated token to OnToken except the one it stops at when
	// it stops at a special token: <|end|> closing the turn (Ended), a special token out of
	// place, or the <|tool_call_end|> of a call whose result does not fit in the block. The
	// first two end the reply as a special token ends a reply without tools (finish reason
	// "stop"); a call cut off by the block leaves the reply unfinished, as does the loop
	// stopping at max_tokens or at the block's end after a token it passed on: the tracker's
	// close gives those "length".
	if last := len(smp.Tokens) - 1; last >= 0 && len(smp.Tokens) > seen {
		if tok := smp.Tokens[last]; r.Ended || tok != tokenizer.ToolCallEnd || !calls.InCall() {
			onToken(0, tok)
		}
	}
	return []model.Sample{smp}, read, nil
}

// objectName is OpenAI's "object" of a response or chunk.
func objectName(chat, chunk bool) string {
	switch {
	case chat && chunk:
		return "chat.completion.chunk"
	case chat:
		return "chat.completion"
	default:
		return "text_completion"
	}
}

// sseWriter writes server-sent events: data and raw add an event to its buffer, and commit
// writes the buffer and flushes it within one write deadline (so the events that queued up
// while the last write went out cost one write); after a failed write it writes nothing more.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	err     error
	buf     []byte // events not written yet
}

func (sw *sseWriter) start() {
	h := sw.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	sw.w.WriteHeader(http.StatusOK)
}

// data adds v as one "data:" event.
func (sw *sseWriter) data(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		sw.err = err
		return
	}
	sw.buf = append(append(append(sw.buf, "data: "...), b...), '\n', '\n')
}

// raw sets the buffer to buf, which the caller has appended a whole event to.
func (sw *sseWriter) raw(buf []byte) { sw.buf = buf }

// done ends the stream as OpenAI does, writing what is buffered.
func (sw *sseWriter) done() {
	sw.buf = append(sw.buf, "data: [DONE]\n\n"...)
	sw.commit()
}

// commit writes and flushes the buffered events.
func (sw *sseWriter) commit() {
	if sw.err != nil || len(sw.buf) == 0 {
		return
	}
	_ = sw.rc.SetWriteDeadline(time.Now().Add(sw.timeout))
	_, err := sw.w.Write(sw.buf)
	sw.buf = sw.buf[:0]
	if err != nil {
		sw.err = err
		return
	}
	sw.flush()
}

func (sw *sseWriter) flush() {
	if sw.err == nil {
		if err := sw.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			sw.err = err
		}
	}
}

// newID is a fresh response ID.
func newID(chat bool) string {
	var b [12]byte
	rand.Read(b[:])
	if chat {
		return "chatcmpl-" + hex.EncodeToString(b[:])
	}
	return "cmpl-" + hex.EncodeToString(b[:])
}

// randomSeed seeds a request that gives none.
func randomSeed() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}
