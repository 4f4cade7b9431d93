package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

// session is one conversation with a chat model.
type session struct {
	ck   *model.Checkpoint
	asst *chat.Assistant
	opts options
	// limit is the longest prompt, in tokens, before the oldest turns are dropped: the
	// model's block less the room kept for the reply (-max-tokens, at most half the block).
	limit int
	// history holds the conversation's user and assistant turns, alternating, oldest first;
	// the system message is not part of it.
	history []data.Message
	// replies counts the replies generated, to vary the seed from one reply to the next.
	replies uint64
	// warn receives notes that are not part of the conversation (stderr).
	warn io.Writer
}

// newSession prepares a conversation with ck's model; notes go to warn.
func newSession(ck *model.Checkpoint, o options, warn io.Writer) (*session, error) {
	asst, err := chat.NewAssistant(ck.Model, ck.Tokenizer, 1)
	if err != nil {
		return nil, fmt.Errorf("preparing the model: %w", err)
	}
	block := ck.Model.Config.BlockSize
	s := &session{
		ck:    ck,
		asst:  asst,
		opts:  o,
		limit: max(block-min(o.maxTokens, block/2), 1),
		warn:  warn,
	}
	if o.system != "" {
		if _, err := data.RenderPrompt(ck.Tokenizer, s.conversation(nil, "")); err != nil {
			return nil, fmt.Errorf("-system message: %w", err)
		}
	}
	return s, nil
}

// conversation is the system message (if any), then turns, then a user turn saying user.
func (s *session) conversation(turns []data.Message, user string) []data.Message {
	msgs := make([]data.Message, 0, len(turns)+2)
	if s.opts.system != "" {
		msgs = append(msgs, data.Message{Role: data.RoleSystem, Content: s.opts.system})
	}
	msgs = append(msgs, turns...)
	return append(msgs, data.Message{Role: data.RoleUser, Content: user})
}

// fit builds the prompt messages for a new user turn: the system message, as many of the
// newest history turns as fit in s.limit tokens (dropping the oldest exchanges, a user turn
// and its reply at a time), and the user turn. It returns the messages, the prompt's length in
// tokens and how many history messages were left out. The system message and the new turn are
// always kept, even if they alone exceed the limit.
func (s *session) fit(user string) (msgs []data.Message, tokens, dropped int, err error) {
	for dropped = 0; ; dropped += 2 {
		dropped = min(dropped, len(s.history))
		msgs = s.conversation(s.history[dropped:], user)
		p, err := data.RenderPrompt(s.ck.Tokenizer, msgs)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("cannot encode the message: %w", err)
		}
		if len(p) <= s.limit || dropped == len(s.history) {
			return msgs, len(p), dropped, nil
		}
	}
}

// reply generates the model's reply to user, given the conversation so far, and adds both
// turns to the history. With w set, the reply is printed to w as it is generated (without a
// final newline).
func (s *session) reply(ctx context.Context, user string, w io.Writer) (string, error) {
	msgs, n, dropped, err := s.fit(user)
	if err != nil {
		return "", err
	}
	if block := s.ck.Model.Config.BlockSize; n > block {
		fmt.Fprintf(s.warn, "chat: note: the prompt is %d tokens, longer than the model's context of %d; it sees only the last %d\n", n, block, block)
	}
	sc := model.SampleConfig{
		MaxNewTokens: s.opts.maxTokens,
		Temperature:  s.opts.temperature,
		TopK:         s.opts.topK,
		TopP:         s.opts.topP,
		StopTokens:   []int32{tokenizer.End},
		Seed:         s.opts.seed + s.replies,
	}
	var st *chat.Streamer
	if w != nil {
		st = chat.NewStreamer(s.ck.Tokenizer, w)
		sc.OnToken = func(_ int, tok int32) bool { return st.Add(tok) }
	}
	s.replies++
	r, err := s.asst.Reply(ctx, msgs, sc)
	if err != nil {
		return "", fmt.Errorf("generating the reply: %w", err)
	}
	if st != nil {
		if err := st.Finish(r.Text); err != nil {
			return "", err
		}
	}
	s.history = append(s.history[dropped:],
		data.Message{Role: data.RoleUser, Content: user},
		data.Message{Role: data.RoleAssistant, Content: r.Text})
	return r.Text, nil
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
