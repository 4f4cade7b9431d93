package serve

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/retrieval"
)

// Config sets a Server's limits. The zero value gives the defaults documented on each field.
type Config struct {
	// APIKey, when set, is required on every /v1/ request as "Authorization: Bearer <key>"
	// (the page asks for it). Empty means no authentication.
	APIKey string
	// MaxBodyBytes is the largest request body accepted (default 1 MiB); larger ones get 413.
	MaxBodyBytes int64
	// MaxTokens caps max_tokens (default 1024): a request asking for more gets 400. A chat
	// request that does not say gets MaxTokens; a completion request gets 16, as OpenAI's.
	MaxTokens int
	// MaxN caps n, the replies per request, and for completions the prompts × n (default 8).
	MaxN int
	// MaxBatch is the most sequences a model decodes together (default 8); 1 serves them one
	// after another.
	MaxBatch int
	// Lanes is the number of batchers a model's requests are shared out among (default:
	// GOMAXPROCS, at most 4; never more than MaxBatch): each decodes its sequences in a
	// KV-cache engine on a goroutine of its own, so that concurrent requests keep more than one
	// core busy, and holds MaxBatch/Lanes of them (the first lanes one more when it does not
	// divide). A request goes to the least loaded lane. 1: one batcher decodes every sequence.
	Lanes int
	// MaxQueue is the most requests per model waiting for the model before new ones get 429
	// (default 64). The requests that run tools wait in a queue of their own, bounded by
	// MaxQueue too.
	MaxQueue int
	// RequestTimeout bounds a request's generation (default 5 minutes): past it a request gets
	// 504, or a stream ends with an error event.
	RequestTimeout time.Duration
	// ReadTimeout bounds reading a request's headers and body (default 30 s), so a slow sender
	// cannot hold a connection.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write of a response (default 30 s): a client that stops reading
	// a stream is cut off and its generation cancelled.
	WriteTimeout time.Duration
	// ShutdownGrace is how long Serve lets running requests finish once its context ends
	// before cancelling them (default 10 s).
	ShutdownGrace time.Duration
	// Logger receives the server's notes (nil: none).
	Logger *slog.Logger
	// Tools, when set, has the chat models whose tokenizer has the tool tokens run the tools
	// they call (chat.Assistant.ReplyWithTools with this configuration; its OnCall, if set, is
	// called too). Such requests are generated one at a time per model, outside the batcher
	// (at most MaxQueue waiting), and take n = 1; a request with "tool_choice": "none" is generated without tools. Nil
	// (the default) runs no tools.
	Tools *chat.ToolConfig
	// Retriever, with ContextPassages > 0, puts the ContextPassages passages that best match
	// a chat request's last user message in a context turn before it (data.ContextMessage),
	// for the chat models whose tokenizer has the context token. Nil: no retrieval.
	Retriever       retrieval.Retriever
	ContextPassages int
}

// withDefaults checks c and fills in the defaults.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	neg := func(name string, bad bool) {
		if bad {
			errs = append(errs, fmt.Errorf("%s must be >= 0", name))
		}
	}
	neg("MaxBodyBytes", c.MaxBodyBytes < 0)
	neg("MaxTokens", c.MaxTokens < 0)
	neg("MaxN", c.MaxN < 0)
	neg("MaxBatch", c.MaxBatch < 0)
	neg("Lanes", c.Lanes < 0)
	neg("MaxQueue", c.MaxQueue < 0)
	neg("RequestTimeout", c.RequestTimeout < 0)
	neg("ReadTimeout", c.ReadTimeout < 0)
	neg("WriteTimeout", c.WriteTimeout < 0)
	neg("ShutdownGrace", c.ShutdownGrace < 0)
	neg("ContextPassages", c.ContextPassages < 0)
	if c.ContextPassages > 0 && c.Retriever == nil {
		errs = append(errs, errors.New("ContextPassages needs a Retriever"))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("serve: invalid config: %w", err)
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxTokens, 1024)
	def(&c.MaxN, 8)
	def(&c.MaxBatch, 8)
	def(&c.MaxQueue, 64)
	def(&c.Lanes, min(runtime.GOMAXPROCS(0), 4))
	c.Lanes = min(c.Lanes, c.MaxBatch)
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defDur(&c.RequestTimeout, 5*time.Minute)
	defDur(&c.ReadTimeout, 30*time.Second)
	defDur(&c.WriteTimeout, 30*time.Second)
	defDur(&c.ShutdownGrace, 10*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
