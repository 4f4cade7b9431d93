package chat

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/tools"
)

// Tool-loop defaults (used where a ToolConfig field is zero).
const (
	// DefaultMaxCalls is the most tool calls run per reply.
	DefaultMaxCalls = 4
	// DefaultMaxResultTokens is the most tokens of one tool result put back in the context.
	DefaultMaxResultTokens = 24
)

// ToolConfig configures the tool-running generation loop of [Assistant.ReplyWithTools].
type ToolConfig struct {
	// Tools runs the calls. Nil means no tools: every call gets an in-band error result.
	Tools *tools.Registry
	// MaxCalls is the most calls run per reply (0 means DefaultMaxCalls); a call past it gets
	// the result "error: too many tool calls (at most N per reply)" without running.
	MaxCalls int
	// MaxResultTokens bounds each result, in tokens (0 means DefaultMaxResultTokens); a
	// longer result is cut.
	MaxResultTokens int
	// MaxTurnTokens, when positive, bounds the whole turn — the tokens the model generates and
	// the results put back together — as a trainer's rows of fixed length need (PPO lays each
	// prompt and turn out in one row): a result is cut to the room left, keeping one token for
	// the model to go on, and the turn ends unended when it is full. 0: only the block and
	// MaxNewTokens bound it.
	MaxTurnTokens int
	// OnCall, when set, is called after each call has run (so a REPL can show it as it happens).
	OnCall func(ToolCall)
}

// ToolCall is one tool call of a reply: what the model wrote and what came back.
type ToolCall struct {
	// Text is the call as the model wrote it between <|tool_call|> and <|tool_call_end|>,
	// "NAME ARGS"; Name is its first word.
	Text, Name string
	// Result is the text put back in the context (as read back from its tokens, so cut where
	// they were cut); Error reports an in-band error result (unknown tool, bad arguments, too
	// many calls).
	Result string
	Error  bool
}

// ToolReply is an assistant turn generated with tools.
type ToolReply struct {
	// Reply: Text is the answer, the assistant's text after its last tool result (all of its
	// text when it called none), up to <|end|>; Ended reports whether <|end|> closed the turn
	// properly. Tokens are every token after the prompt, the runtime's result tokens included,
	// and LogProbs (when asked for) holds 0 for those.
	Reply
	// Inserted[i] reports that Tokens[i] was appended by the runtime (<|tool_result|>, the
	// result, <|tool_result_end|>), not generated: such tokens are not the model's actions, so
	// training leaves them out of its losses.
	Inserted []bool
	// Calls are the reply's tool calls in order.
	Calls []ToolCall
	// Messages is the turn as conversation messages (assistant texts, tool calls and tool
	// results, ending with an assistant text), ready to append to the conversation; rendered
	// with the chat template they give back Tokens (for a tokenizer that encodes text the way
	// the model wrote it, as a character tokenizer does).
	Messages []data.Message
}

// ReplyWithTools generates one reply to msgs (which end with a user turn) and runs the tools
// the model calls: when the model closes a call with <|tool_call_end|>, the call's text
// ("NAME ARGS") is run by cfg.Tools, and <|tool_result|>, the result's tokens and
// <|tool_result_end|> are fed to the model in the same KV cache, after which it goes on
// writing. Failures of a call (unknown tool, bad arguments, too many calls) are in-band error
// results the model reads; they are not errors of ReplyWithTools.
//
// sc's Temperature, TopK, TopP, Seed and ReturnLogProbs apply; MaxNewTokens (default 64)
// counts the tokens the model generates, not the inserted ones; StopTokens, NumSamples and
// OnToken are ignored except that OnToken, when set, sees each generated token (returning
// false ends the reply). The turn also ends when the model's block is full (a prompt longer
// than the block keeps its last BlockSize−1 tokens), and, with Ended false, when the model
// writes a special token out of place (<|user|>, a result token, a call inside a call...).
//
// The tokenizer must have the tool tokens (tokenizer.RequireToolTokens): a model trained
// before they existed cannot call tools, and the error says so.
func (a *Assistant) ReplyWithTools(ctx context.Context, msgs []data.Message, sc model.SampleConfig, cfg ToolConfig) (ToolReply, error) {
	sc.NumSamples = 1
	rs, err := a.RepliesWithTools(ctx, [][]data.Message{msgs}, sc, cfg)
	if len(rs) == 0 {
		return ToolReply{}, err
	}
	return rs[0], err
}

// RepliesWithTools is ReplyWithTools for sc.NumSamples (default 1) replies to each
// conversation, in order: all the samples of the first conversation, then of the second,
// and so on (as Replies orders them). The replies are decoded together on the engine's
// sequences, as model.Engine.GenerateBatch decodes its samples: each pass of the model feeds
// every reply in progress its next token, or its prompt, or a tool's result, stacked in one
// product per layer (model.Engine.Feed); a prompt is prefilled once for all its samples
// (model.Engine.CopySequence); a reply that ends frees its sequence for the next one. Sample
// i draws from the random stream of sample i of GenerateBatch, so a reply that calls no tool
// is the one GenerateBatch gives, up to float32 round-off in the logits (which the rows
// decoded together can change, as in GenerateBatch). sc.OnToken, when set, gets the reply's
// index in the result; cfg.OnCall sees the calls of all the replies as they run. On an error
// it returns the replies in order up to the first unfinished one.
func (a *Assistant) RepliesWithTools(ctx context.Context, convs [][]data.Message, sc model.SampleConfig, cfg ToolConfig) ([]ToolReply, error) {
	if err := tokenizer.RequireToolTokens(a.tok); err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	prompts := make([][]int32, len(convs))
	for i, msgs := range convs {
		p, err := data.RenderPrompt(a.tok, msgs)
		if err != nil {
			return nil, fmt.Errorf("chat: prompt %d: %w", i, err)
		}
		prompts[i] = p
	}
	l := &toolLoop{block: a.eng.Model().Config.BlockSize, tok: a.tok, cfg: cfg, sc: sc}
	pick := func(i int) (func([]float32) int32, error) {
		samp, err := a.eng.NewSequenceSampler(sc, i)
		if err != nil {
			return nil, err
		}
		return samp.Next, nil
	}
	out, err := l.runBatch(ctx, a.eng, prompts, max(sc.NumSamples, 1), pick)
	if err != nil {
		return out, fmt.Errorf("chat: %w", err)
	}
	return out, nil
}

// decoder is the part of model.Engine the one-reply tool loop uses (a scripted model in tests).
type decoder interface {
	ResetSequence(s int) error
	Prefill(s int, tokens []int32) ([]float32, error)
	Len(s int) int
}

// batchDecoder is the part of model.Engine the batched tool loop uses.
type batchDecoder interface {
	Batch() int
	MaxRows() int
	ResetSequence(s int) error
	Feed(tokens [][]int32) ([]float32, error)
	CopySequence(dst, src int) error
}

// toolLoop holds what the replies of one call share: the block, the tokenizer, the tools and
// the sampling settings. dec and pick serve run, the one-reply loop on sequence 0.
type toolLoop struct {
	dec   decoder
	block int
	pick  func(logits []float32) int32
	tok   tokenizer.Tokenizer
	cfg   ToolConfig
	sc    model.SampleConfig
}

// toolTurn is one reply in progress: the tokens so far and where the model is in them.
type toolTurn struct {
	l                *toolLoop
	pick             func(logits []float32) int32
	index            int // the reply's index, for OnToken
	r                ToolReply
	text             []int32 // ordinary tokens of the current text or call
	inCall           bool    // between <|tool_call|> and <|tool_call_end|>
	generated        int
	maxNew, maxCalls int
}

// start begins a reply to prompt (cropped to its last BlockSize−1 tokens) and returns it with
// the tokens to feed first.
func (l *toolLoop) start(prompt []int32, pick func([]float32) int32, index int) (*toolTurn, []int32, error) {
	if len(prompt) == 0 {
		return nil, nil, errors.New("empty prompt")
	}
	if len(prompt) > l.block-1 {
		prompt = prompt[len(prompt)-(l.block-1):]
	}
	t := &toolTurn{l: l, pick: pick, index: index, maxNew: l.sc.MaxNewTokens, maxCalls: l.cfg.MaxCalls}
	if t.maxNew <= 0 {
		t.maxNew = 64
	}
	if t.maxCalls <= 0 {
		t.maxCalls = DefaultMaxCalls
	}
	t.r.Prompt = prompt
	return t, prompt, nil
}

// run generates one reply on sequence 0 of l.dec.
func (l *toolLoop) run(ctx context.Context, prompt []int32) (ToolReply, error) {
	t, feed, err := l.start(prompt, l.pick, 0)
	if err != nil {
		return ToolReply{}, err
	}
	if err := l.dec.ResetSequence(0); err != nil {
		return t.r, err
	}
	for feed != nil {
		logits, err := l.dec.Prefill(0, feed)
		if err != nil {
			return t.r, err
		}
		if feed, err = t.next(ctx, logits); err != nil {
			return t.r, err
		}
	}
	return t.r, nil
}

// runBatch generates n replies to each prompt on dec's sequences (reply i answers prompt i/n
// and draws its tokens with pick(i)), decoding every reply in progress in one pass.
func (l *toolLoop) runBatch(ctx context.Context, dec batchDecoder, prompts [][]int32, n int, pick func(i int) (func([]float32) int32, error)) ([]ToolReply, error) {
	total := len(prompts) * n
	out := make([]ToolReply, total)
	finished := 0 // out[:finished] are all done
	done := make([]bool, total)
	type slot struct {
		turn    *toolTurn
		idx     int     // the reply on this sequence, -1 when free
		pending []int32 // tokens still to feed before the turn moves on
		leader  int     // the sequence whose prompt this one copies once fed, -1 when none
		ready   bool    // fed: the logits row is the turn's
	}
	B := dec.Batch()
	slots := make([]slot, B)
	for s := range slots {
		slots[s].idx, slots[s].leader = -1, -1
	}
	feed := make([][]int32, B)
	next, active := 0, 0
	for {
		if err := ctx.Err(); err != nil {
			return out[:finished], err
		}
		// Free sequences take the next replies; a reply whose prompt is the one of the reply
		// taken just before it copies that one's prefill.
		lastPrompt, lastSlot := -1, -1
		for s := range slots {
			if slots[s].idx >= 0 || next >= total {
				continue
			}
			i := next
			next++
			pk, err := pick(i)
			if err != nil {
				return out[:finished], err
			}
			t, prompt, err := l.start(prompts[i/n], pk, i)
			if err != nil {
				return out[:finished], fmt.Errorf("prompt %d: %w", i/n, err)
			}
			if err := dec.ResetSequence(s); err != nil {
				return out[:finished], err
			}
			slots[s] = slot{turn: t, idx: i, leader: -1}
			if i/n == lastPrompt {
				slots[s].leader = lastSlot
			} else {
				slots[s].pending = prompt
				lastPrompt, lastSlot = i/n, s
			}
			active++
		}
		if active == 0 {
			return out, nil
		}
		// One pass feeds what every sequence has pending, up to the engine's rows (a longer
		// remainder waits for the next pass).
		room := dec.MaxRows()
		for s := range slots {
			feed[s] = nil
			if k := min(len(slots[s].pending), room); slots[s].idx >= 0 && k > 0 {
				feed[s] = slots[s].pending[:k]
				room -= k
			}
		}
		logits, err := dec.Feed(feed)
		if err != nil {
			return out[:finished], err
		}
		for s := range slots {
			if st := &slots[s]; feed[s] != nil {
				st.pending = st.pending[len(feed[s]):]
				st.ready = len(st.pending) == 0
			}
		}
		for s := range slots {
			if st := &slots[s]; st.leader >= 0 && slots[st.leader].ready {
				if err := dec.CopySequence(s, st.leader); err != nil {
					return out[:finished], err
				}
				st.leader, st.ready = -1, true
			}
		}
		V := len(logits) / B
		for s := range slots {
			st := &slots[s]
			if !st.ready {
				continue
			}
			st.ready = false
			more, err := st.turn.next(ctx, logits[s*V:(s+1)*V])
			if err != nil {
				return out[:finished], fmt.Errorf("prompt %d: %w", st.idx/n, err)
			}
			if more != nil {
				st.pending = more
				continue
			}
			out[st.idx], done[st.idx] = st.turn.r, true
			for finished < total && done[finished] {
				finished++
			}
			st.idx, st.turn = -1, nil
			active--
		}
	}
}

// next takes the logits after everything fed so far, draws the model's next token and
// returns the tokens to feed next (the token, or <|tool_call_end|> with the call's result
// after it), or nil when the turn is over (t.r is then the finished reply).
func (t *toolTurn) next(ctx context.Context, logits []float32) ([]int32, error) {
	l, r := t.l, &t.r
	if t.generated >= t.maxNew {
		return nil, t.finish(false)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if l.cfg.MaxTurnTokens > 0 && len(r.Tokens) >= l.cfg.MaxTurnTokens {
		return nil, t.finish(false) // the turn is as long as it may be
	}
	tok := t.pick(logits)
	var lp float32
	if l.sc.ReturnLogProbs {
		lp = logProb(logits, tok)
	}
	t.add(tok, lp, false)
	t.generated++
	if !tokenizer.IsSpecial(l.tok, tok) {
		t.text = append(t.text, tok)
	} else {
		switch {
		case tok == tokenizer.End && !t.inCall:
			return nil, t.finish(true)
		case tok == tokenizer.ToolCall && !t.inCall:
			s, err := t.segment()
			if err != nil {
				return nil, err
			}
			if s != "" {
				r.Messages = append(r.Messages, data.Message{Role: data.RoleAssistant, Content: s})
			}
			t.inCall = true
		case tok == tokenizer.ToolCallEnd && t.inCall:
			callText, err := t.segment()
			if err != nil {
				return nil, err
			}
			t.inCall = false
			call := l.call(ctx, callText, len(r.Calls), t.maxCalls)
			ids, result, err := l.resultTokens(call.Result, len(r.Prompt)+len(r.Tokens), len(r.Tokens))
			if err != nil {
				return nil, err
			}
			if ids == nil {
				// No room left in the block for the result: the turn ends with the call
				// unanswered (and left out of Messages).
				t.inCall = true
				return nil, t.finish(false)
			}
			call.Result = result
			r.Calls = append(r.Calls, call)
			r.Messages = append(r.Messages,
				data.Message{Role: data.RoleToolCall, Content: callText},
				data.Message{Role: data.RoleToolResult, Content: call.Result})
			if l.cfg.OnCall != nil {
				l.cfg.OnCall(call)
			}
			for _, id := range ids {
				t.add(id, 0, true)
			}
			if l.sc.OnToken != nil && !l.sc.OnToken(t.index, tok) {
				return nil, t.finish(false)
			}
			// Feed <|tool_call_end|> (generated, not yet fed) and the result together.
			return append([]int32{tok}, ids...), nil
		default:
			// A special token out of place: the reply is malformed.
			return nil, t.finish(false)
		}
	}
	if l.sc.OnToken != nil && !l.sc.OnToken(t.index, tok) {
		return nil, t.finish(false)
	}
	if len(r.Prompt)+len(r.Tokens)-1 >= l.block {
		return nil, t.finish(false) // the block is full
	}
	if t.generated >= t.maxNew {
		return nil, t.finish(false) // no token left to draw: the last one need not be fed
	}
	return []int32{tok}, nil
}

func (t *toolTurn) add(tok int32, lp float32, inserted bool) {
	t.r.Tokens = append(t.r.Tokens, tok)
	t.r.Inserted = append(t.r.Inserted, inserted)
	if t.l.sc.ReturnLogProbs {
		t.r.LogProbs = append(t.r.LogProbs, lp)
	}
}

// segment decodes and clears the current text.
func (t *toolTurn) segment() (string, error) {
	s, err := t.l.tok.Decode(t.text)
	t.text = t.text[:0]
	return s, err
}

// finish closes the turn with its final assistant text, dropping an unfinished call.
func (t *toolTurn) finish(ended bool) error {
	r := &t.r
	if t.inCall {
		t.text = t.text[:0]
	}
	s, err := t.segment()
	if err != nil {
		return err
	}
	if n := len(r.Messages); n > 0 && r.Messages[n-1].Role == data.RoleAssistant {
		r.Messages[n-1].Content += s // the text before an unfinished call
	} else {
		r.Messages = append(r.Messages, data.Message{Role: data.RoleAssistant, Content: s})
	}
	r.Text = r.Messages[len(r.Messages)-1].Content
	r.Ended = ended
	return nil
}

// call runs one call (the n-th of the reply) and returns it with its untruncated result.
func (l *toolLoop) call(ctx context.Context, text string, n, maxCalls int) ToolCall {
	name, args := tools.ParseCall(text)
	c := ToolCall{Text: text, Name: name}
	switch {
	case n >= maxCalls:
		c.Result = fmt.Sprintf("%stoo many tool calls (at most %d per reply)", tools.ErrorPrefix, maxCalls)
	case l.cfg.Tools == nil:
		c.Result = tools.ErrorPrefix + "no tools are available"
	default:
		c.Result = l.cfg.Tools.Call(ctx, name, args)
	}
	c.Error = tools.IsError(c.Result)
	return c
}

// resultTokens encodes a result as <|tool_result|> result <|tool_result_end|>, cut to
// MaxResultTokens and to the room left in the block after used positions and in the turn
// after turn tokens (MaxTurnTokens), keeping one position for the model to go on, and returns
// the tokens and the result's text as they give it back; nil tokens when not even the two
// markers fit. Characters the tokenizer cannot encode (a character tokenizer's unknown runes)
// are dropped.
func (l *toolLoop) resultTokens(result string, used, turn int) ([]int32, string, error) {
	maxTok := l.cfg.MaxResultTokens
	if maxTok <= 0 {
		maxTok = DefaultMaxResultTokens
	}
	room := l.block - used - 1 - 2
	if l.cfg.MaxTurnTokens > 0 {
		room = min(room, l.cfg.MaxTurnTokens-turn-1-2)
	}
	if room < 0 {
		return nil, "", nil
	}
	ids := encodeLossy(l.tok, result)
	ids = ids[:min(len(ids), maxTok, room)]
	text, err := l.tok.Decode(ids)
	if err != nil {
		return nil, "", err
	}
	out := make([]int32, 0, len(ids)+2)
	out = append(out, tokenizer.ToolResult)
	out = append(out, ids...)
	return append(out, tokenizer.ToolResultEnd), text, nil
}

// encodeLossy encodes s, dropping the characters tok cannot encode.
func encodeLossy(tok tokenizer.Tokenizer, s string) []int32 {
	ids, err := tok.Encode(s)
	if err == nil {
		return ids
	}
	var sb strings.Builder
	for _, r := range s {
		if _, err := tok.Encode(string(r)); err == nil {
			sb.WriteRune(r)
		}
	}
	ids, err = tok.Encode(sb.String())
	if err != nil {
		return nil
	}
	return ids
}

// logProb is log softmax(logits)[tok].
func logProb(logits []float32, tok int32) float32 {
	mx := logits[0]
	for _, x := range logits {
		mx = max(mx, x)
	}
	var sum float64
	for _, x := range logits {
		sum += math.Exp(float64(x - mx))
	}
	return float32(float64(logits[tok]-mx) - math.Log(sum))
}
