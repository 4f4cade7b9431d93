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
	rs, err := a.RepliesWithTools(ctx, [][]data.Message{msgs}, sc, cfg)
	if len(rs) == 0 {
		return ToolReply{}, err
	}
	return rs[0], err
}

// RepliesWithTools is ReplyWithTools for sc.NumSamples (default 1) replies to each
// conversation, in order: all the samples of the first conversation, then of the second,
// and so on (as Replies orders them). They are generated one after the other on the
// engine's first sequence; sample i draws from the random stream of sample i of
// model.Engine.GenerateBatch, so a reply that calls no tool is the one GenerateBatch gives
// (up to float32 round-off). On an error it returns the replies finished before it.
func (a *Assistant) RepliesWithTools(ctx context.Context, convs [][]data.Message, sc model.SampleConfig, cfg ToolConfig) ([]ToolReply, error) {
	if err := tokenizer.RequireToolTokens(a.tok); err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	n := max(sc.NumSamples, 1)
	out := make([]ToolReply, 0, len(convs)*n)
	for i, msgs := range convs {
		prompt, err := data.RenderPrompt(a.tok, msgs)
		if err != nil {
			return out, fmt.Errorf("chat: prompt %d: %w", i, err)
		}
		for j := range n {
			samp, err := a.eng.NewSequenceSampler(sc, i*n+j)
			if err != nil {
				return out, fmt.Errorf("chat: %w", err)
			}
			l := &toolLoop{
				dec:   a.eng,
				block: a.eng.Model().Config.BlockSize,
				pick:  samp.Next,
				tok:   a.tok,
				cfg:   cfg,
				sc:    sc,
			}
			r, err := l.run(ctx, prompt)
			if err != nil {
				return out, fmt.Errorf("chat: prompt %d: %w", i, err)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// decoder is the part of model.Engine the tool loop uses (a scripted model in tests).
type decoder interface {
	ResetSequence(s int) error
	Prefill(s int, tokens []int32) ([]float32, error)
	Len(s int) int
}

// toolLoop decodes one sequence (sequence 0 of dec) and runs its tool calls.
type toolLoop struct {
	dec   decoder
	block int
	pick  func(logits []float32) int32
	tok   tokenizer.Tokenizer
	cfg   ToolConfig
	sc    model.SampleConfig
}

func (l *toolLoop) run(ctx context.Context, prompt []int32) (ToolReply, error) {
	maxNew := l.sc.MaxNewTokens
	if maxNew <= 0 {
		maxNew = 64
	}
	maxCalls := l.cfg.MaxCalls
	if maxCalls <= 0 {
		maxCalls = DefaultMaxCalls
	}
	if len(prompt) == 0 {
		return ToolReply{}, errors.New("empty prompt")
	}
	if len(prompt) > l.block-1 {
		prompt = prompt[len(prompt)-(l.block-1):]
	}
	r := ToolReply{Reply: Reply{Prompt: prompt}}
	if err := l.dec.ResetSequence(0); err != nil {
		return r, err
	}
	logits, err := l.dec.Prefill(0, prompt)
	if err != nil {
		return r, err
	}
	add := func(tok int32, lp float32, inserted bool) {
		r.Tokens = append(r.Tokens, tok)
		r.Inserted = append(r.Inserted, inserted)
		if l.sc.ReturnLogProbs {
			r.LogProbs = append(r.LogProbs, lp)
		}
	}
	var text []int32 // ordinary tokens of the current text or call
	inCall := false  // between <|tool_call|> and <|tool_call_end|>
	// segment decodes and clears text.
	segment := func() (string, error) {
		s, err := l.tok.Decode(text)
		text = text[:0]
		return s, err
	}
	// finish closes the turn with its final assistant text, dropping an unfinished call.
	finish := func(ended bool) (ToolReply, error) {
		if inCall {
			text = text[:0]
		}
		s, err := segment()
		if err != nil {
			return r, err
		}
		if n := len(r.Messages); n > 0 && r.Messages[n-1].Role == data.RoleAssistant {
			r.Messages[n-1].Content += s // the text before an unfinished call
		} else {
			r.Messages = append(r.Messages, data.Message{Role: data.RoleAssistant, Content: s})
		}
		r.Text = r.Messages[len(r.Messages)-1].Content
		r.Ended = ended
		return r, nil
	}
	generated := 0
	for generated < maxNew {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		if l.cfg.MaxTurnTokens > 0 && len(r.Tokens) >= l.cfg.MaxTurnTokens {
			return finish(false) // the turn is as long as it may be
		}
		tok := l.pick(logits)
		var lp float32
		if l.sc.ReturnLogProbs {
			lp = logProb(logits, tok)
		}
		add(tok, lp, false)
		generated++
		if !tokenizer.IsSpecial(l.tok, tok) {
			text = append(text, tok)
		} else {
			switch {
			case tok == tokenizer.End && !inCall:
				return finish(true)
			case tok == tokenizer.ToolCall && !inCall:
				s, err := segment()
				if err != nil {
					return r, err
				}
				if s != "" {
					r.Messages = append(r.Messages, data.Message{Role: data.RoleAssistant, Content: s})
				}
				inCall = true
			case tok == tokenizer.ToolCallEnd && inCall:
				callText, err := segment()
				if err != nil {
					return r, err
				}
				inCall = false
				call := l.call(ctx, callText, len(r.Calls), maxCalls)
				ids, result, err := l.resultTokens(call.Result, len(prompt)+len(r.Tokens), len(r.Tokens))
				if err != nil {
					return r, err
				}
				if ids == nil {
					// No room left in the block for the result: the turn ends with the call
					// unanswered (and left out of Messages).
					inCall = true
					return finish(false)
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
					add(id, 0, true)
				}
				if l.sc.OnToken != nil && !l.sc.OnToken(0, tok) {
					return finish(false)
				}
				// Feed <|tool_call_end|> (generated, not yet fed) and the result together.
				if logits, err = l.dec.Prefill(0, append([]int32{tok}, ids...)); err != nil {
					return r, err
				}
				continue
			default:
				// A special token out of place: the reply is malformed.
				return finish(false)
			}
		}
		if l.sc.OnToken != nil && !l.sc.OnToken(0, tok) {
			return finish(false)
		}
		if l.dec.Len(0) >= l.block {
			return finish(false) // the block is full
		}
		var err error
		if logits, err = l.dec.Prefill(0, []int32{tok}); err != nil {
			return r, err
		}
	}
	return finish(false)
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
