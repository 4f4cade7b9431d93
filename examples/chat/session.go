package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/prompt"
)

// session is one conversation with a chat model, or with -fewshot and a base model, a series
// of k-shot prompts.
type session struct {
	ck   *model.Checkpoint
	asst *chat.Assistant
	opts options
	ex   extras
	// base is set for a base (pretrain) model: each message becomes a k-shot text prompt.
	base bool
	// limit is the longest prompt, in tokens, before the oldest turns are dropped: the
	// model's block less the room kept for the reply (-max-tokens, at most half the block).
	limit int
	// history holds the conversation's exchanges, oldest first: each a user turn and the
	// assistant's turn (its tool calls and their results included); the system message, the
	// few-shot examples and the context turns are not part of it.
	history []data.Message
	// replies counts the replies generated, to vary the seed from one reply to the next.
	replies uint64
	// warn receives notes that are not part of the conversation (stderr).
	warn io.Writer
}

// newSession prepares a conversation with ck's model; notes go to warn.
func newSession(ck *model.Checkpoint, o options, ex extras, warn io.Writer) (*session, error) {
	asst, err := chat.NewAssistant(ck.Model, ck.Tokenizer, 1)
	if err != nil {
		return nil, fmt.Errorf("preparing the model: %w", err)
	}
	block := ck.Model.Config.BlockSize
	s := &session{
		ck:    ck,
		asst:  asst,
		opts:  o,
		ex:    ex,
		base:  ck.Stage == model.StagePretrain,
		limit: max(block-min(o.maxTokens, block/2), 1),
		warn:  warn,
	}
	if o.system != "" && !s.base {
		if _, err := data.RenderPrompt(ck.Tokenizer, s.conversation(nil, nil, nil, "")); err != nil {
			return nil, fmt.Errorf("-system message: %w", err)
		}
	}
	return s, nil
}

// conversation is the system message (if any), the few-shot examples as earlier turns, then
// turns, the context turn (if any) and a user turn saying user.
func (s *session) conversation(shots []prompt.Example, turns []data.Message, context *data.Message, user string) []data.Message {
	msgs := make([]data.Message, 0, len(turns)+2*len(shots)+3)
	if s.opts.system != "" {
		msgs = append(msgs, data.Message{Role: data.RoleSystem, Content: s.opts.system})
	}
	if len(shots) > 0 {
		ex := prompt.Chat(shots, "", prompt.Options{Reasoning: s.opts.cot})
		msgs = append(msgs, ex[:len(ex)-1]...)
	}
	msgs = append(msgs, turns...)
	if context != nil {
		msgs = append(msgs, *context)
	}
	return append(msgs, data.Message{Role: data.RoleUser, Content: user})
}

// fit builds the prompt messages for a new user turn: the system message, the few-shot
// examples, as many of the newest history exchanges as fit in s.limit tokens (dropping the
// oldest exchanges, a user turn and the assistant's turn at a time), the context turn and the
// user turn. It returns the messages, the prompt's tokens and how many history messages were
// left out. The system message, the examples, the context and the new turn are always kept,
// even if they alone exceed the limit.
func (s *session) fit(shots []prompt.Example, context *data.Message, user string) (msgs []data.Message, prompt []int32, dropped int, err error) {
	for dropped = 0; ; dropped = s.nextExchange(dropped) {
		msgs = s.conversation(shots, s.history[dropped:], context, user)
		p, err := data.RenderPrompt(s.ck.Tokenizer, msgs)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("cannot encode the message: %w", err)
		}
		if len(p) <= s.limit || dropped == len(s.history) {
			return msgs, p, dropped, nil
		}
	}
}

// nextExchange is the index in history of the exchange after the one starting at i
// (len(history) after the last).
func (s *session) nextExchange(i int) int {
	for j := i + 1; j < len(s.history); j++ {
		if s.history[j].Role == data.RoleUser {
			return j
		}
	}
	return len(s.history)
}

// sampling is the reply's sampling settings.
func (s *session) sampling() model.SampleConfig {
	sc := model.SampleConfig{
		MaxNewTokens: s.opts.maxTokens,
		Temperature:  s.opts.temperature,
		TopK:         s.opts.topK,
		TopP:         s.opts.topP,
		StopTokens:   []int32{tokenizer.End},
		Seed:         s.opts.seed + s.replies,
	}
	s.replies++
	return sc
}

// reply generates the model's reply to user, given the conversation so far, and adds the
// exchange to the history. It returns the reply's text (all of the assistant's text, around
// its tool calls too). With w set, the reply is printed to w as it is generated (without a
// final newline), after a line naming the passages of the context turn (-rag) and with a line
// for each tool call; without, those lines go to s.warn.
func (s *session) reply(ctx context.Context, user string, w io.Writer) (string, error) {
	if s.base {
		return s.complete(ctx, user, w)
	}
	notes := w
	if notes == nil {
		notes = s.warn
	}
	var context *data.Message
	if s.opts.rag > 0 {
		hits, err := s.ex.retriever.Search(ctx, user, s.opts.rag)
		if err != nil {
			return "", fmt.Errorf("retrieving passages: %w", err)
		}
		if c, ok := chat.ContextTurn(hits); ok {
			context = &c
			fmt.Fprintf(notes, "[context: %s]\n", passageNames(hits))
		}
	}
	var shots []prompt.Example
	if len(s.ex.examples) > 0 {
		var err error
		if shots, err = nearestShots(ctx, s.ex.examples, user, s.opts.shots); err != nil {
			return "", err
		}
	}
	msgs, p, dropped, err := s.fit(shots, context, user)
	if err != nil {
		return "", err
	}
	s.note(p)
	sc := s.sampling()
	var turn []data.Message
	var text string
	if s.ex.tools != nil {
		turn, text, err = s.replyWithTools(ctx, msgs, sc, w, notes)
	} else {
		text, err = s.plainReply(ctx, msgs, sc, w)
		turn = []data.Message{{Role: data.RoleAssistant, Content: text}}
	}
	if err != nil {
		return "", err
	}
	s.history = append(s.history[dropped:], data.Message{Role: data.RoleUser, Content: user})
	s.history = append(s.history, turn...)
	return text, nil
}

// note warns about a prompt longer than the model's context and, with -show-prompt, prints
// it.
func (s *session) note(p []int32) {
	if block := s.ck.Model.Config.BlockSize; len(p) > block {
		fmt.Fprintf(s.warn, "chat: note: the prompt is %d tokens, longer than the model's context of %d; it sees only the last %d\n", len(p), block, block)
	}
	if s.opts.showPrompt {
		text, err := s.ck.Tokenizer.Decode(p)
		if err != nil {
			text = fmt.Sprint(p)
		}
		fmt.Fprintf(s.warn, "%s\n", text)
	}
}

// plainReply generates the reply to msgs without tools, streaming it to w if set.
func (s *session) plainReply(ctx context.Context, msgs []data.Message, sc model.SampleConfig, w io.Writer) (string, error) {
	var st *chat.Streamer
	if w != nil {
		st = chat.NewStreamer(s.ck.Tokenizer, w)
		sc.OnToken = func(_ int, tok int32) bool { return st.Add(tok) }
	}
	r, err := s.asst.Reply(ctx, msgs, sc)
	if err != nil {
		return "", fmt.Errorf("generating the reply: %w", err)
	}
	if st != nil {
		if err := st.Finish(r.Text); err != nil {
			return "", err
		}
	}
	return r.Text, nil
}

// replyWithTools generates the reply to msgs running the tools the model calls. The text
// streams to w if set; each call is shown on a line of its own, "[calc 3*28 → 84]", on notes.
// It returns the assistant's turn as messages and its text.
func (s *session) replyWithTools(ctx context.Context, msgs []data.Message, sc model.SampleConfig, w, notes io.Writer) ([]data.Message, string, error) {
	tok := s.ck.Tokenizer
	var (
		st      *chat.Streamer // the current text segment's streamer
		segment []int32        // its tokens
		calls   chat.CallTokens
		werr    error
	)
	newSegment := func() {
		segment = segment[:0]
		if w != nil {
			st = chat.NewStreamer(tok, w)
		}
	}
	// endSegment prints the rest of the segment, and a line break if it printed any text.
	endSegment := func() {
		if st == nil || len(segment) == 0 {
			return
		}
		text, err := tok.Decode(segment)
		if err == nil {
			err = st.Finish(text)
		}
		if err == nil {
			_, err = io.WriteString(w, "\n")
		}
		werr = cmp.Or(werr, err)
	}
	newSegment()
	sc.OnToken = func(_ int, t int32) bool {
		switch role := calls.Next(t); {
		case role == chat.CallOpen:
			endSegment()
		case role == chat.CallClose:
			newSegment()
		case role == chat.TextToken && !tokenizer.IsSpecial(tok, t):
			segment = append(segment, t)
			if st != nil && !st.Add(t) {
				return false
			}
		}
		return werr == nil
	}
	cfg := chat.ToolConfig{Tools: s.ex.tools, OnCall: func(c chat.ToolCall) {
		if _, err := fmt.Fprintf(notes, "[%s → %s]\n", c.Text, shorten(c.Result)); err != nil {
			werr = cmp.Or(werr, fmt.Errorf("writing the output: %w", err))
		}
	}}
	r, err := s.asst.ReplyWithTools(ctx, msgs, sc, cfg)
	if err != nil {
		return nil, "", fmt.Errorf("generating the reply: %w", err)
	}
	if st != nil {
		if err := st.Finish(r.Text); err != nil {
			return nil, "", err
		}
	}
	if werr != nil {
		return nil, "", werr
	}
	var texts []string
	for _, m := range r.Messages {
		if m.Role == data.RoleAssistant && m.Content != "" {
			texts = append(texts, m.Content)
		}
	}
	return r.Messages, strings.Join(texts, " "), nil
}

// shorten puts a tool result on one line of at most 80 characters.
func shorten(s string) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "\n", " / ")
	if r := []rune(s); len(r) > 80 {
		s = string(r[:79]) + "…"
	}
	return s
}

// complete answers user with a base model: the -shots examples nearest to it and the question
// make a k-shot text prompt, and the model's continuation is cut where the examples' form
// ends an answer. It prints the answer to w if set, and returns it.
func (s *session) complete(ctx context.Context, user string, w io.Writer) (string, error) {
	shots, err := nearestShots(ctx, s.ex.examples, user, s.opts.shots)
	if err != nil {
		return "", err
	}
	text := prompt.Text(shots, user, prompt.Options{Reasoning: s.opts.cot})
	ids, err := s.ck.Tokenizer.Encode(text)
	if err != nil {
		return "", fmt.Errorf("cannot encode the prompt: %w", err)
	}
	if block := s.ck.Model.Config.BlockSize; len(ids)+1 > block-1 {
		return "", fmt.Errorf("the %d-shot prompt is %d tokens, longer than the model's context of %d: give fewer -shots", len(shots), len(ids)+1, block)
	}
	if s.opts.showPrompt {
		fmt.Fprintf(s.warn, "%s\n", text)
	}
	sc := s.sampling()
	sc.StopTokens = nil
	cont, err := s.asst.Complete(ctx, text, sc)
	if err != nil {
		return "", fmt.Errorf("generating the answer: %w", err)
	}
	answer, _ := prompt.CutText(cont, prompt.DefaultTextFormat)
	if w != nil {
		if _, err := io.WriteString(w, answer); err != nil {
			return "", fmt.Errorf("writing the answer: %w", err)
		}
	}
	return answer, nil
}

// reset forgets the conversation (the system message stays).
func (s *session) reset() { s.history = nil }

// oneLine turns line breaks into spaces (and invalid UTF-8 into U+FFFD).
var oneLine = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// answerOnce prints the reply to prompt on one line of w.
func (s *session) answerOnce(ctx context.Context, prompt string, w io.Writer) error {
	text, err := s.reply(ctx, prompt, nil)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(w, oneLine.Replace(strings.ToValidUTF8(text, "\uFFFD"))); err != nil {
		return fmt.Errorf("writing the reply: %w", err)
	}
	return nil
}

// banner describes the model.
func (s *session) banner() string {
	cfg, tok := s.ck.Model.Config, s.ck.Tokenizer
	return fmt.Sprintf("tinychat: %s model, %s parameters, %s tokenizer (%d tokens), context %d tokens\n"+
		"Type a message; /reset clears the conversation, /quit exits.\n",
		s.ck.Stage, formatCount(cfg.NumParams()), tok.Kind(), tok.VocabSize(), cfg.BlockSize)
}

// formatCount writes n briefly: 950, 61.6K, 124.4M, 1.5B.
func formatCount(n int) string {
	switch f := float64(n); {
	case n < 1000:
		return fmt.Sprint(n)
	case n < 999_950:
		return fmt.Sprintf("%.1fK", f/1e3)
	case n < 999_950_000:
		return fmt.Sprintf("%.1fM", f/1e6)
	default:
		return fmt.Sprintf("%.1fB", f/1e9)
	}
}

// stickyWriter remembers the first write error and fails every later write with it.
type stickyWriter struct {
	w   io.Writer
	err error
}

// Write writes p unless an earlier write failed.
func (sw *stickyWriter) Write(p []byte) (int, error) {
	if sw.err != nil {
		return 0, sw.err
	}
	n, err := sw.w.Write(p)
	if err != nil {
		sw.err = fmt.Errorf("writing the output: %w", err)
	}
	return n, err
}

// line is one line of input without its line ending, or the error that ended the input.
type line struct {
	text string
	err  error
}

// readLines reads r line by line in a goroutine, so that waiting for input can be
// interrupted. The channel yields each line, then one line holding the error that ended the
// input (io.EOF at the end). Calling stop lets the goroutine exit after its current read.
func readLines(r io.Reader) (lines <-chan line, stop func()) {
	ch, done := make(chan line), make(chan struct{})
	go func() {
		br := bufio.NewReader(r)
		for {
			s, err := br.ReadString('\n')
			if s != "" {
				select {
				case ch <- line{text: strings.TrimRight(s, "\r\n")}:
				case <-done:
					return
				}
			}
			if err != nil {
				select {
				case ch <- line{err: err}:
				case <-done:
				}
				return
			}
		}
	}()
	return ch, func() { close(done) }
}

// repl runs the interactive loop: it prints the banner, then reads messages from in and
// streams each reply to out until /quit or the end of the input.
func (s *session) repl(ctx context.Context, in io.Reader, out io.Writer) error {
	w := &stickyWriter{w: out}
	io.WriteString(w, s.banner())
	lines, stop := readLines(in)
	defer stop()
	for {
		io.WriteString(w, "> ")
		if w.err != nil {
			return w.err
		}
		var l line
		select {
		case <-ctx.Done():
			return ctx.Err()
		case l = <-lines:
		}
		if errors.Is(l.err, io.EOF) {
			io.WriteString(w, "\n")
			return w.err
		}
		if l.err != nil {
			return fmt.Errorf("reading the input: %w", l.err)
		}
		msg := strings.TrimSpace(l.text)
		switch {
		case msg == "":
			continue
		case msg == "/quit":
			return nil
		case msg == "/reset":
			s.reset()
			io.WriteString(w, "(conversation cleared)\n")
			continue
		case strings.HasPrefix(msg, "/"):
			fmt.Fprintf(w, "unknown command %s; the commands are /reset and /quit\n", msg)
			continue
		}
		_, err := s.reply(ctx, msg, w)
		switch {
		case w.err != nil:
			return w.err
		case ctx.Err() != nil && errors.Is(err, ctx.Err()):
			return err
		case err != nil:
			// A message the tokenizer cannot encode, say: report it and carry on.
			fmt.Fprintln(s.warn, "chat:", err)
		default:
			io.WriteString(w, "\n")
		}
	}
}
