package chat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/tinychat-go/tinychat/model"
)

// ErrQueueFull is returned by Batcher.Generate when MaxQueue requests are already waiting.
var ErrQueueFull = errors.New("chat: generation queue is full")

// ErrClosed is returned by Batcher.Generate after Close.
var ErrClosed = errors.New("chat: batcher is closed")

// BatcherConfig sizes a Batcher. The zero value gives the defaults.
type BatcherConfig struct {
	// MaxBatch is the most sequences decoded together in one engine step (default 8). 1 serves
	// the sequences one after another.
	MaxBatch int
	// MaxQueue is the most requests waiting for a free sequence before Generate fails with
	// ErrQueueFull (default 64).
	MaxQueue int
}

// Batcher generates for many concurrent callers with one model: a single goroutine owns a
// KV-cache engine of MaxBatch sequences and decodes every active sequence of every request
// together, one stacked pass per token (continuous batching). A sequence that finishes frees
// its place at once for the next one waiting, whose prompt goes into the next pass with the
// others' tokens (model.Engine.Feed; in chunks when the prompts waiting exceed the engine's
// MaxRows), so a new request neither waits for the others to finish nor stalls them for a
// prefill of its own.
//
// Each sequence is sampled as model.Engine.GenerateBatch samples it (same seed streams, same
// window sliding past BlockSize), so a request alone in the batcher gets exactly the tokens
// that GenerateBatch on an engine of batch 1 gives, and with company the same tokens up to
// float32 round-off in the logits.
type Batcher struct {
	eng *model.Engine
	cfg BatcherConfig

	mu     sync.Mutex
	queue  []*sequence // waiting for a free engine sequence, oldest first
	queued int         // requests with a sequence in queue
	closed bool
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	// active counts the sequences in the engine, for Stats.
	active atomic.Int64
}

// BatcherStats is a snapshot of a Batcher's load.
type BatcherStats struct {
	// Active is the number of sequences being decoded; Waiting the number of requests
	// waiting for the model.
	Active, Waiting int
}

// Stats reports the batcher's load now.
func (b *Batcher) Stats() BatcherStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BatcherStats{Active: int(b.active.Load()), Waiting: b.queued}
}

// NewBatcher starts a Batcher over m's weights (read in place; they must not change while it
// runs). Close stops it.
func NewBatcher(m *model.Model, cfg BatcherConfig) (*Batcher, error) {
	if cfg.MaxBatch < 0 || cfg.MaxQueue < 0 {
		return nil, fmt.Errorf("chat: batcher: MaxBatch and MaxQueue must be >= 0, got %d and %d", cfg.MaxBatch, cfg.MaxQueue)
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 8
	}
	if cfg.MaxQueue == 0 {
		cfg.MaxQueue = 64
	}
	eng, err := model.NewEngine(m, cfg.MaxBatch)
	if err != nil {
		return nil, fmt.Errorf("chat: batcher: %w", err)
	}
	b := &Batcher{eng: eng, cfg: cfg, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b, nil
}

// Config returns the batcher's configuration, defaults filled in.
func (b *Batcher) Config() BatcherConfig { return b.cfg }

// request is one Generate call.
type request struct {
	ctx     context.Context
	cfg     model.SampleConfig
	maxNew  int
	out     []model.Sample
	pending int  // sequences not finished yet
	started bool // a sequence has left the queue
	err     error
	done    chan struct{}
}

// sequence is one sample of a request.
type sequence struct {
	req    *request
	index  int     // in the request's result
	prompt []int32 // cropped to BlockSize
	samp   *model.SequenceSampler
	// hist is the prompt and the tokens generated so far: the engine caches its last
	// Len(slot) tokens, which a window slide prefills again.
	hist []int32
}

// Generate continues every prompt as model.Engine.GenerateBatch does (same arguments, same
// result order, same checks), sharing the engine with the other callers. cfg.OnToken is called
// from the batcher's goroutine: it must return quickly and not call the Batcher. When ctx ends,
// Generate returns the samples so far with ctx.Err(); it fails with ErrQueueFull at once when
// the queue is full.
func (b *Batcher) Generate(ctx context.Context, prompts [][]int32, cfg model.SampleConfig) ([]model.Sample, error) {
	if len(prompts) == 0 {
		return nil, nil
	}
	ns := max(cfg.NumSamples, 1)
	req := &request{ctx: ctx, cfg: cfg, maxNew: cfg.MaxNewTokens, done: make(chan struct{})}
	if req.maxNew == 0 {
		req.maxNew = b.eng.Model().Config.BlockSize
	}
	T, V := b.eng.Model().Config.BlockSize, b.eng.Model().Config.VocabSize
	var seqs []*sequence
	for pi, p := range prompts {
		if len(p) == 0 {
			return nil, fmt.Errorf("chat: batcher: prompt %d is empty", pi)
		}
		for i, t := range p {
			if t < 0 || int(t) >= V {
				return nil, fmt.Errorf("chat: batcher: prompt %d: token %d at position %d is outside the vocabulary [0, %d)", pi, t, i, V)
			}
		}
		if len(p) > T {
			p = p[len(p)-T:]
		}
		for j := range ns {
			i := pi*ns + j
			samp, err := b.eng.NewSequenceSampler(cfg, i)
			if err != nil {
				return nil, fmt.Errorf("chat: batcher: %w", err)
			}
			seqs = append(seqs, &sequence{req: req, index: i, prompt: p, samp: samp})
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	req.out = make([]model.Sample, len(seqs))
	req.pending = len(seqs)
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return nil, ErrClosed
	case b.queued >= b.cfg.MaxQueue:
		b.mu.Unlock()
		return nil, ErrQueueFull
	}
	b.queue = append(b.queue, seqs...)
	b.queued++
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	<-req.done
	return req.out, req.err
}

// Close stops the batcher: requests still running or waiting end with ErrClosed. It waits for
// the batcher's goroutine to exit.
func (b *Batcher) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.stop)
	}
	b.mu.Unlock()
	<-b.done
}

// finish ends seq (err nil when it completed); the request is done when its last sequence is.
func (b *Batcher) finish(seq *sequence, err error) {
	r := seq.req
	if err != nil && r.err == nil {
		r.err = err
	}
	r.pending--
	if r.pending == 0 {
		close(r.done)
	}
}

// loop is the batcher's goroutine. Each pass is one Engine.Feed: the next token of every
// sequence decoding, and as much of the prompts of the sequences just admitted (or of the
// windows of those that slide) as the engine's MaxRows leaves room for, oldest first, so that
// admitting a request costs the others one larger pass rather than a pass of its own.
func (b *Batcher) loop() {
	defer close(b.done)
	B := b.eng.Batch()
	T := b.eng.Model().Config.BlockSize
	V := b.eng.Model().Config.VocabSize
	R := b.eng.MaxRows()
	slots := make([]*sequence, B) // the sequence decoded in each engine sequence, or nil
	// todo holds the tokens slot s has still to be fed before its next token is sampled: its
	// prompt (or a sliding window) after admission, then each sampled token in turn (in one[s]).
	todo := make([][]int32, B)
	one := make([][1]int32, B)
	feeds := make([][]int32, B) // this pass's tokens per slot
	var prefilling []int        // slots with more than a decode token to feed, oldest first
	active := 0

	// emit takes seq's next token, reporting whether the sequence goes on.
	emit := func(seq *sequence, tok int32) bool {
		r := seq.req
		smp := &r.out[seq.index]
		smp.Tokens = append(smp.Tokens, tok)
		seq.hist = append(seq.hist, tok)
		more := len(smp.Tokens) < r.maxNew
		if slices.Contains(r.cfg.StopTokens, tok) {
			smp.Stopped, more = true, false
		}
		if r.cfg.OnToken != nil && !r.cfg.OnToken(seq.index, tok) {
			more = false
		}
		return more
	}
	// release frees slot s, finishing its sequence with err.
	release := func(s int, err error) {
		seq := slots[s]
		slots[s], todo[s], feeds[s] = nil, nil, nil
		if i := slices.Index(prefilling, s); i >= 0 {
			prefilling = slices.Delete(prefilling, i, i+1)
		}
		active--
		b.active.Store(int64(active))
		b.finish(seq, err)
	}
	// refill makes slot s feed toks next, from position 0.
	refill := func(s int, toks []int32) bool {
		if err := b.eng.ResetSequence(s); err != nil {
			release(s, err)
			return false
		}
		todo[s] = toks
		prefilling = append(prefilling, s)
		return true
	}
	// advance samples slot s's next token from logits and queues it for feeding.
	advance := func(s int, logits []float32) {
		seq := slots[s]
		tok := seq.samp.Next(logits)
		if !emit(seq, tok) {
			release(s, nil)
			return
		}
		if b.eng.Len(s) < T {
			one[s][0] = tok
			todo[s] = one[s][:]
			return
		}
		// The sequence is full: its window slides (see model.Engine.GenerateBatch), the last
		// BlockSize−1 tokens prefilled again from position 0, tok the last of them.
		w := max(T-1, 1)
		refill(s, seq.hist[len(seq.hist)-w:])
	}

	for {
		// Take in new sequences, and drop the waiting ones whose caller gave up.
		b.mu.Lock()
		closed := b.closed
		if !closed {
			kept := b.queue[:0]
			for _, seq := range b.queue {
				if err := seq.req.ctx.Err(); err != nil {
					b.dequeued(seq)
					b.finish(seq, err)
					continue
				}
				kept = append(kept, seq)
			}
			clear(b.queue[len(kept):])
			b.queue = kept
		}
		var admit []int
		for s := 0; s < B && len(b.queue) > 0 && !closed; s++ {
			if slots[s] != nil {
				continue
			}
			seq := b.queue[0]
			b.queue[0] = nil
			b.queue = b.queue[1:]
			b.dequeued(seq)
			slots[s] = seq
			admit = append(admit, s)
			active++
			b.active.Store(int64(active))
		}
		b.mu.Unlock()
		if closed {
			for s := range slots {
				if slots[s] != nil {
					release(s, ErrClosed)
				}
			}
			b.mu.Lock()
			for _, seq := range b.queue {
				b.finish(seq, ErrClosed)
			}
			b.queue, b.queued = nil, 0
			b.mu.Unlock()
			return
		}
		for _, s := range admit {
			seq := slots[s]
			seq.hist = append(make([]int32, 0, len(seq.prompt)+min(seq.req.maxNew, 4*T)), seq.prompt...)
			seq.req.out[seq.index].Tokens = make([]int32, 0, min(seq.req.maxNew, 4*T))
			refill(s, seq.prompt)
		}
		// Drop the sequences whose caller gave up.
		for s, seq := range slots {
			if seq != nil {
				if err := seq.req.ctx.Err(); err != nil {
					release(s, err)
				}
			}
		}
		if active == 0 {
			b.mu.Lock()
			waiting := len(b.queue)
			b.mu.Unlock()
			if waiting > 0 {
				continue
			}
			select {
			case <-b.wake:
			case <-b.stop:
			}
			continue
		}
		// This pass: every decoding sequence's token, then prompts (whole or a chunk) in the
		// rows left.
		rows := 0
		for s, seq := range slots {
			if seq != nil && len(todo[s]) > 0 && !slices.Contains(prefilling, s) {
				feeds[s] = todo[s]
				rows += len(todo[s])
			}
		}
		for _, s := range prefilling {
			if rows >= R {
				break
			}
			k := min(len(todo[s]), R-rows)
			feeds[s] = todo[s][:k]
			rows += k
		}
		if rows == 0 {
			continue
		}
		logits, err := b.eng.Feed(feeds)
		if err != nil {
			for s, f := range feeds {
				if len(f) > 0 {
					release(s, fmt.Errorf("chat: batcher: %w", err))
				}
			}
			continue
		}
		for s, f := range feeds {
			if len(f) == 0 {
				continue
			}
			feeds[s] = nil
			todo[s] = todo[s][len(f):]
			if len(todo[s]) > 0 {
				continue // a prompt fed in chunks: more next pass
			}
			if i := slices.Index(prefilling, s); i >= 0 {
				prefilling = slices.Delete(prefilling, i, i+1)
			}
			advance(s, logits[s*V:(s+1)*V])
		}
	}
}

// dequeued counts seq's leaving the queue: its request stops counting as waiting when its
// first sequence leaves (b.mu held).
func (b *Batcher) dequeued(seq *sequence) {
	if !seq.req.started {
		seq.req.started = true
		b.queued--
	}
}
