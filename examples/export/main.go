// Command export moves tinychat checkpoints to llama.cpp and Hugging Face, and imports
// Hugging Face GPT-2 directories:
//
//	go run ./examples/export -ckpt runs/tinychat/rlhf.safetensors -format gguf -out tinychat.gguf
//	go run ./examples/export -ckpt runs/tinychat/rlhf.safetensors -format gguf -f16 -out tinychat-f16.gguf
//	go run ./examples/export -ckpt runs/tinychat/rlhf.safetensors -format hf -out tinychat-hf/
//	go run ./examples/export -import gpt2/ -out gpt2.safetensors
//
// -format gguf writes one GGUF file (architecture gpt2, float32, or float16 with -f16) that
// llama.cpp, Ollama and LM Studio load; -format hf writes a Hugging Face GPT-2 directory that
// transformers loads (GPT2LMHeadModel, AutoTokenizer, the chat template). Pretraining, SFT and
// RLHF checkpoints can be exported; a reward model cannot (its scalar head has no place in
// these formats).
//
// -import reads a Hugging Face GPT-2 directory (config.json, model.safetensors, tokenizer.json
// or vocab.json + merges.txt; pickled weights are never read) and writes a tinychat checkpoint
// (stage pretrain) with the chat special tokens added, ready for SFT.
//
// It prints one line saying what it wrote. Exit status: 0 on success, 1 on an error (a
// missing, corrupt or unsupported input, a failed write), 2 on bad flags, 130 when
// interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/tinychat-go/tinychat/export"
	"github.com/tinychat-go/tinychat/model"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the command with its arguments (without the program name); it returns the exit
// status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ckpt := fs.String("ckpt", "", "tinychat checkpoint to export (pretrain, sft or rlhf)")
	format := fs.String("format", "", `export format: "gguf" (llama.cpp) or "hf" (Hugging Face GPT-2 directory)`)
	f16 := fs.Bool("f16", false, "gguf: store the weight matrices as float16")
	name := fs.String("name", "", `gguf: general.name (default "tinychat-<stage>")`)
	imp := fs.String("import", "", "Hugging Face GPT-2 directory to import as a tinychat checkpoint")
	out := fs.String("out", "", "output: a .gguf file, a directory (hf), or a checkpoint file (-import)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usage := func(msg string) int {
		fmt.Fprintln(stderr, "export:", msg)
		fs.Usage()
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return usage(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case *out == "":
		return usage("-out is required")
	case (*ckpt == "") == (*imp == ""):
		return usage("give either -ckpt (export) or -import (import)")
	case *ckpt != "" && *format != "gguf" && *format != "hf":
		return usage(fmt.Sprintf(`-format must be "gguf" or "hf", got %q`, *format))
	case *imp != "" && (*format != "" || *f16 || *name != ""):
		return usage("-format, -f16 and -name apply to exports, not to -import")
	case *format == "hf" && (*f16 || *name != ""):
		return usage("-f16 and -name apply to -format gguf")
	}
	var err error
	var msg string
	switch {
	case *imp != "":
		var ck *model.Checkpoint
		if ck, err = export.ReadHF(ctx, *imp); err == nil {
			err = ck.Save(*out)
			msg = fmt.Sprintf("imported %s (%d parameters, vocabulary %d) as %s", *imp, ck.Model.Config.NumParams(), ck.Model.Config.VocabSize, *out)
		}
	default:
		var ck *model.Checkpoint
		if ck, err = model.LoadStage(*ckpt, model.StagePretrain, model.StageSFT, model.StageRLHF); err != nil {
			break
		}
		if *format == "gguf" {
			err = export.WriteGGUF(ctx, *out, ck, export.GGUFOptions{F16: *f16, Name: *name})
		} else {
			err = export.WriteHF(ctx, *out, ck)
		}
		msg = fmt.Sprintf("wrote %s (%s, %s checkpoint)", *out, *format, ck.Stage)
	}
	if err != nil {
		fmt.Fprintln(stderr, "export:", err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	fmt.Fprintln(stdout, msg)
	return 0
}
