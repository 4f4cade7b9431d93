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
// Tools, retrieval and few-shot prompts:
//
//	go run ./examples/chat -ckpt runs/tinychat/rlhf.safetensors -docs notes/ -rag 2
//	go run ./examples/chat -ckpt runs/tinychat/pretrain.safetensors -fewshot shots.jsonl -shots 3
//
// With a checkpoint whose tokenizer has the tool tokens, the model runs the tools it calls
// (-tools, on by default for such a checkpoint without -fewshot; -tools=false turns it off): the calculator,
// and with -docs the search tool over the passages. The REPL shows each call and its result on
// a line of its own, "[calc 3*28 → 84]", before the rest of the reply. -docs names a folder of
// .txt and .md files (or one such file), or a JSONL file of {"text": ..., "doc": ...}
// passages; the documents are split into passages and indexed with BM25 (or, with -encoder
// PATH, by the vectors of a retrieval encoder that retrieval.Encoder.Save wrote). With -rag K,
// the K passages that best match each message go before it in a context turn, and the REPL
// names them first: "[context: notes.txt#0, faq.md#3]" (document and passage number). With
// -prompt, these lines go to stderr.
//
// With -fewshot FILE (JSONL of {"question", "answer"} examples, optional "reasoning" and
// "conclusion", as prompt.ReadExamples reads them) and a base (pretrain) checkpoint, each
// message becomes a k-shot prompt of the -shots examples nearest to it (prompt.Text; -cot shows
// their reasoning), and the model's continuation is cut where the examples' form ends an
// answer (prompt.CutText). With a chat checkpoint, the examples are earlier turns of the
// conversation. -show-prompt prints each prompt as the model reads it to stderr.
//
// With -serve ADDR, chat serves one or more checkpoints (-ckpt repeated, each PATH or
// NAME=PATH; pretrain checkpoints too, for /v1/completions) over an OpenAI-compatible HTTP API
// with a web chat page at http://ADDR/, until interrupted:
//
//	go run ./examples/chat -serve 127.0.0.1:8080 -ckpt runs/tinychat/rlhf.safetensors -ckpt runs/tinychat/sft.safetensors
//
// -tools, -docs and -rag apply to the served chat models with the tool tokens as in the REPL,
// and the page shows the tool calls and passages. An address other than loopback is served
// only when given explicitly, with a warning; set -api-key (or $TINYCHAT_API_KEY) to require
// a key. With -load N, chat measures the server instead: N concurrent streaming clients send
// -load-requests requests to the first checkpoint served on loopback, once with batching
// (-max-batch, -lanes) and once unbatched, and it prints tokens/s, time to first token (p50, p95) and
// errors for both.
//
// Exit status: 0 on success, 1 on an error (a missing, corrupt or wrong-stage checkpoint, a
// message the tokenizer cannot encode in -prompt mode, a failed write), 2 on bad flags (a
// -docs or -fewshot file that cannot be read, or a flag the checkpoint cannot honour, such as
// -tools or -rag for one from before the tool tokens, included) and 130 when interrupted.
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
	lanes       int
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
	// tools is -tools; toolsSet reports that it was given (else it follows the checkpoint).
	tools, toolsSet bool
	docs            string
	encoder         string
	rag             int
	fewshot         string
	shots           int
	cot             bool
	showPrompt      bool
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
	fs.IntVar(&o.lanes, "lanes", 0, "with -serve or -load, the batchers the sequences are shared out among, each on a core (0: one per core, up to 4)")
	fs.IntVar(&o.load, "load", 0, "measure the server with this many concurrent streaming clients, batched and unbatched, and exit")
	fs.IntVar(&o.loadReqs, "load-requests", 64, "with -load, the number of requests in all")
	fs.Float64Var(&o.temperature, "temperature", 0.8, "sampling temperature; 0 decodes greedily")
	fs.IntVar(&o.topK, "top-k", 0, "sample only among the k most likely tokens (0: off)")
	fs.Float64Var(&o.topP, "top-p", 0, "sample only from the top-p nucleus, p in (0, 1) (0 or 1: off)")
	fs.IntVar(&o.maxTokens, "max-tokens", 64, "most tokens generated per reply")
	fs.Uint64Var(&o.seed, "seed", 1, "sampling seed (reply n of the session uses seed+n)")
	fs.StringVar(&o.system, "system", "", "system message starting the conversation (optional)")
	fs.StringVar(&o.prompt, "prompt", "", "print the reply to this one message, on one line, and exit (no banner)")
	fs.BoolVar(&o.tools, "tools", false, "run the tools the model calls (the calculator, and search over -docs) and show each call; default: on when the checkpoint's tokenizer has the tool tokens")
	fs.StringVar(&o.docs, "docs", "", "passages for the search tool and -rag: a folder of .txt and .md files, or a JSONL file of {\"text\", \"doc\"} objects")
	fs.StringVar(&o.encoder, "encoder", "", "with -docs, find passages by the vectors of this retrieval encoder (a file retrieval.Encoder.Save wrote) instead of BM25")
	fs.IntVar(&o.rag, "rag", 0, "put the `K` passages of -docs that best match each message in front of it as a context turn, and show which")
	fs.StringVar(&o.fewshot, "fewshot", "", "few-shot examples (JSONL of {\"question\", \"answer\", \"reasoning\"}): with a base (pretrain) checkpoint each message becomes a k-shot prompt; with a chat one the examples are earlier turns")
	fs.IntVar(&o.shots, "shots", 3, "with -fewshot, the number of examples in each prompt (the nearest to the message)")
	fs.BoolVar(&o.cot, "cot", false, "with -fewshot, show the examples' reasoning before their answers (chain of thought)")
	fs.BoolVar(&o.showPrompt, "show-prompt", false, "print each prompt as the model reads it to stderr before the reply")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: chat -ckpt PATH [flags]")
		fmt.Fprintln(fs.Output(), "Chat with an sft or rlhf checkpoint (with -fewshot, a pretrain one too); in the REPL, /reset clears the conversation and /quit exits.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		// The flag package has printed the problem and the usage.
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.hasPrompt, o.toolsSet = set["prompt"], set["tools"]
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
	if o.lanes < 0 {
		problems = append(problems, fmt.Sprintf("-lanes must be >= 0, got %d", o.lanes))
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
	if o.rag < 0 {
		problems = append(problems, fmt.Sprintf("-rag must be >= 0, got %d", o.rag))
	}
	if o.rag > 0 && o.docs == "" {
		problems = append(problems, "-rag needs -docs")
	}
	if o.encoder != "" && o.docs == "" {
		problems = append(problems, "-encoder needs -docs")
	}
	if o.shots < 1 {
		problems = append(problems, fmt.Sprintf("-shots must be >= 1, got %d", o.shots))
	}
	if (set["shots"] || o.cot) && o.fewshot == "" {
		problems = append(problems, "-shots and -cot go with -fewshot")
	}
	if o.fewshot != "" && (o.serve != "" || o.load > 0) {
		problems = append(problems, "-fewshot does not go with -serve or -load")
	}
	if o.fewshot != "" && (o.tools || o.docs != "") {
		problems = append(problems, "-fewshot does not go with -tools, -docs or -rag")
	}
	if o.load > 0 && (o.tools || o.docs != "") {
		problems = append(problems, "-load does not go with -tools, -docs or -rag")
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
	// The files the flags name are read first: a mistake in one is a usage error.
	var ex extras
	if ex, err = loadExtras(ctx, o); err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		return exitUsage
	}
	switch {
	case o.serve != "":
		return serveCheckpoints(ctx, o, ex, stderr)
	case o.load > 0:
		return loadTest(ctx, o, stdout, stderr)
	}
	stages := []model.Stage{model.StageSFT, model.StageRLHF}
	if o.fewshot != "" {
		stages = append([]model.Stage{model.StagePretrain}, stages...)
	}
	ck, err := model.LoadStage(o.ckpt, stages...)
	if err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		return exitError
	}
	if ck.Stage == model.StagePretrain && o.system != "" {
		fmt.Fprintf(stderr, "chat: -system: %s is a base (pretrain) checkpoint: its -fewshot prompts are plain text, without a system message\n", o.ckpt)
		return exitUsage
	}
	if err := ex.fit(o, ck.Tokenizer); err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		return exitUsage
	}
	s, err := newSession(ck, o, ex, stderr)
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
