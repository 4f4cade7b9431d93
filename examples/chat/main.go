// Command chat talks with a fine-tuned tinychat model: it loads an sft or rlhf checkpoint and
// opens a REPL in which each reply streams to the terminal token by token as it is generated.
//
//	go run ./examples/chat -ckpt runs/chat/sft.safetensors
//	go run ./examples/chat -ckpt runs/chat/rlhf.safetensors -temperature 0 -prompt "repeat kibo"
//
// The conversation is kept: every reply sees the previous turns (and the -system message),
// rendered with the chat template. When the prompt would not leave room in the model's context
// for the reply (-max-tokens, but at most half the block), the oldest turns are dropped. Type
// /reset to clear the conversation and /quit (or end the input) to leave.
//
// With -prompt, chat prints only the reply to that one message, on one line (line breaks in
// the reply become spaces), and exits: handy for scripts.
//
// With -serve ADDR, chat serves one or more checkpoints (-ckpt repeated, each PATH or
// NAME=PATH; pretrain checkpoints too, for /v1/completions) over an OpenAI-compatible HTTP API
// with a web chat page at http://ADDR/, until interrupted:
//
//	go run ./examples/chat -serve 127.0.0.1:8080 -ckpt runs/tinychat/rlhf.safetensors -ckpt runs/tinychat/sft.safetensors
//
// An address other than loopback is served only when given explicitly, with a warning; set
// -api-key (or $TINYCHAT_API_KEY) to require a key. With -load N, chat measures the server
// instead: N concurrent streaming clients send -load-requests requests to the first
// checkpoint served on loopback, once with batching (-max-batch) and once unbatched, and it
// prints tokens/s, time to first token (p50, p95) and errors for both.
//
// Exit status: 0 on success, 1 on an error (a missing, corrupt or wrong-stage checkpoint, a
// message the tokenizer cannot encode in -prompt mode, a failed write), 2 on bad flags and 130
// when interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/tinychat-go/tinychat/model"
)

// Exit statuses returned by run.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first interrupt, let a second one kill the program the default way.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command-line flags.
type options struct {
	ckpt string
	// ckpts are every -ckpt given (serving takes several; the REPL one).
	ckpts       []string
	serve       string
	apiKey      string
	maxBatch    int
	load        int
	loadReqs    int
	temperature float64
	topK        int
	topP        float64
	maxTokens   int
	seed        uint64
	system      string
	prompt      string
	// hasPrompt is set when -prompt was given (even as "").
	hasPrompt bool
}

// errUsage marks command-line mistakes (exit status 2); the usage text has been printed.
var errUsage = errors.New("usage error")

// parseFlags parses args (without the program name) and checks the values, printing the
// usage text to stderr on a mistake. -h gives flag.ErrHelp; other mistakes wrap errUsage.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Func("ckpt", "path of an sft or rlhf checkpoint (required); with -serve, repeatable, as PATH or NAME=PATH, pretrain checkpoints too", func(v string) error {
		o.ckpts = append(o.ckpts, v)
		o.ckpt = v
		return nil
	})
	fs.StringVar(&o.serve, "serve", "", "serve the checkpoints over an OpenAI-compatible HTTP API and a chat page at this host:port (e.g. 127.0.0.1:8080)")
	fs.StringVar(&o.apiKey, "api-key", os.Getenv("TINYCHAT_API_KEY"), "with -serve, require this API key (Authorization: Bearer); default $TINYCHAT_API_KEY")
	fs.IntVar(&o.maxBatch, "max-batch", 8, "with -serve or -load, the most sequences decoded together")
	fs.IntVar(&o.load, "load", 0, "measure the server with this many concurrent streaming clients, batched and unbatched, and exit")
	fs.IntVar(&o.loadReqs, "load-requests", 64, "with -load, the number of requests in all")
	fs.Float64Var(&o.temperature, "temperature", 0.8, "sampling temperature; 0 decodes greedily")
	fs.IntVar(&o.topK, "top-k", 0, "sample only among the k most likely tokens (0: off)")
	fs.Float64Var(&o.topP, "top-p", 0, "sample only from the top-p nucleus, p in (0, 1) (0 or 1: off)")
	fs.IntVar(&o.maxTokens, "max-tokens", 64, "most tokens generated per reply")
	fs.Uint64Var(&o.seed, "seed", 1, "sampling seed (reply n of the session uses seed+n)")
	fs.StringVar(&o.system, "system", "", "system message starting the conversation (optional)")
	fs.StringVar(&o.prompt, "prompt", "", "print the reply to this one message, on one line, and exit (no banner)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: chat -ckpt PATH [flags]")
		fmt.Fprintln(fs.Output(), "Chat with an sft or rlhf checkpoint; in the REPL, /reset clears the conversation and /quit exits.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		// The flag package has printed the problem and the usage.
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	fs.Visit(func(f *flag.Flag) { o.hasPrompt = o.hasPrompt || f.Name == "prompt" })
	var problems []string
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected arguments %q (flags only)", fs.Args()))
	}
	if o.ckpt == "" {
		problems = append(problems, "-ckpt is required")
	}
	if len(o.ckpts) > 1 && o.serve == "" {
		problems = append(problems, "several -ckpt are for -serve only")
	}
	if o.serve != "" && (o.hasPrompt || o.load > 0) {
		problems = append(problems, "-serve does not go with -prompt or -load")
	}
	if o.maxBatch < 1 {
		problems = append(problems, fmt.Sprintf("-max-batch must be >= 1, got %d", o.maxBatch))
	}
	if o.load < 0 || o.loadReqs < 1 {
		problems = append(problems, fmt.Sprintf("-load must be >= 0 and -load-requests >= 1, got %d and %d", o.load, o.loadReqs))
	}
	if t := o.temperature; math.IsNaN(t) || math.IsInf(t, 0) || t < 0 {
		problems = append(problems, fmt.Sprintf("-temperature must be finite and >= 0, got %g", t))
	}
	if o.topK < 0 {
		problems = append(problems, fmt.Sprintf("-top-k must be >= 0, got %d", o.topK))
	}
	if p := o.topP; math.IsNaN(p) || p < 0 || p > 1 {
		problems = append(problems, fmt.Sprintf("-top-p must be in [0, 1], got %g", p))
	}
	if o.maxTokens < 1 {
		problems = append(problems, fmt.Sprintf("-max-tokens must be >= 1, got %d", o.maxTokens))
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, "chat:", p)
		}
		fs.Usage()
		return o, fmt.Errorf("%w: %s", errUsage, strings.Join(problems, "; "))
	}
	return o, nil
}

// run is the whole program: it parses args, loads the checkpoint, then either answers
// -prompt or runs the REPL on stdin, and returns the exit status. Replies go to stdout,
// errors to stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		return exitUsage
	}
	switch {
	case o.serve != "":
		return serveCheckpoints(ctx, o, stderr)
	case o.load > 0:
		return loadTest(ctx, o, stdout, stderr)
	}
	ck, err := model.LoadStage(o.ckpt, model.StageSFT, model.StageRLHF)
	if err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		return exitError
	}
	s, err := newSession(ck, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		return exitError
	}
	if o.hasPrompt {
		err = s.answerOnce(ctx, o.prompt, stdout)
	} else {
		err = s.repl(ctx, stdin, stdout)
	}
	switch {
	case err == nil:
		return exitOK
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		fmt.Fprintln(stderr, "\nchat: interrupted")
		return exitInterrupted
	default:
		fmt.Fprintln(stderr, "chat:", err)
		return exitError
	}
}
