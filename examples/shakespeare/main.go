// Command shakespeare trains nanoGPT's character-level Tiny Shakespeare model (4 layers, 4
// heads, width 128, block 64, batch 12, 2000 steps, lr 1e-3 warming up over 100 steps then
// cosine-decaying to 1e-4, β2 0.99, dropout 0; first 90% of the text for training, last 10% for
// validation), then prints a sample.
//
//	go run ./examples/shakespeare -data tinyshakespeare.txt
//
// The corpus is the public Tiny Shakespeare text (input.txt of Karpathy's char-rnn).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/internal/termprogress"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/pretrain"
)

func main() {
	dataPath := flag.String("data", "", "path to the Tiny Shakespeare text (required)")
	steps := flag.Int("steps", 2000, "optimizer steps")
	out := flag.String("out", "runs/shakespeare/pretrain.safetensors", "checkpoint path (an unfinished run there is resumed; delete it to start over)")
	seed := flag.Uint64("seed", 1337, "random seed")
	evalIters := flag.Int("eval-iters", 100, "validation batches per evaluation")
	sampleLen := flag.Int("sample", 500, "characters to sample at the end (0: none)")
	precision := flag.String("precision", "fp32", "training matrix products: fp32, or bf16 (mixed precision; fast where the CPU has AVX512-BF16)")
	flag.Parse()
	if err := checkFlags(*dataPath, *steps, *evalIters, *sampleLen, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "shakespeare:", err)
		os.Exit(2)
	}
	prec, err := model.ParsePrecision(*precision)
	if err != nil {
		fmt.Fprintln(os.Stderr, "shakespeare: -precision:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *dataPath, *steps, *out, *seed, *evalIters, *sampleLen, prec); err != nil {
		fmt.Fprintln(os.Stderr, "shakespeare:", err)
		os.Exit(1)
	}
}

// checkFlags validates every flag before any work starts.
func checkFlags(dataPath string, steps, evalIters, sampleLen int, args []string) error {
	switch {
	case dataPath == "":
		return errors.New("usage: shakespeare -data PATH (the Tiny Shakespeare text)")
	case len(args) > 0:
		return fmt.Errorf("unexpected arguments %q (flags go before them? see -h)", args)
	case steps <= 0:
		return fmt.Errorf("-steps is %d, want > 0", steps)
	case evalIters <= 0:
		return fmt.Errorf("-eval-iters is %d, want > 0", evalIters)
	case sampleLen < 0:
		return fmt.Errorf("-sample is %d, want ≥ 0 (0: no sample)", sampleLen)
	}
	return nil
}

func run(ctx context.Context, path string, steps int, out string, seed uint64, evalIters, sampleLen int, precision model.Precision) error {
	docs, err := data.ReadCorpus(path)
	if err != nil {
		return err
	}
	var text strings.Builder
	for _, d := range docs {
		text.WriteString(d.Text)
	}
	tok := tokenizer.NewChar(text.String())
	// One stream without separators, as nanoGPT's prepare.py makes it.
	stream, err := data.TokenStream(docs, tok, -1)
	if err != nil {
		return err
	}
	tr, val, err := data.Split(stream, 0.1, 65)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "corpus: %d characters, vocab %d (+%d special), train %d / val %d tokens; BLAS: %s; precision %s (bf16 instructions: %v)\n",
		len(stream), tok.VocabSize()-tokenizer.NumSpecialOf(tok), tokenizer.NumSpecialOf(tok), len(tr), len(val), model.BLASName(), precision, model.HasBF16())
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	cfg := pretrain.DefaultConfig()
	cfg.Steps, cfg.Seed, cfg.EvalIters, cfg.Out, cfg.Precision = steps, seed, evalIters, out, precision
	cfg.OnProgress = termprogress.New(os.Stderr, termprogress.Auto).Update
	res, err := pretrain.Train(ctx, cfg, &pretrain.Corpus{Tokenizer: tok, Train: tr, Val: val})
	if err != nil {
		return err
	}
	m := res.Metrics
	defer fmt.Printf("final: steps=%d train_loss=%.4f val_loss=%.4f ms_per_step=%.1f tokens_per_s=%.0f\n",
		res.Steps, m["loss"], m["val_loss"], m["ms_per_step"], m["tokens_per_s"])
	if sampleLen == 0 {
		return nil
	}
	eng, err := model.NewEngine(res.Checkpoint.Model, 1)
	if err != nil {
		return err
	}
	samples, err := eng.Generate(ctx, []int32{mustID(tok, "\n")}, model.SampleConfig{
		MaxNewTokens: sampleLen, Temperature: 0.8, TopK: 200, Seed: seed,
	})
	if err != nil {
		return err
	}
	sample, err := tok.Decode(samples[0].Tokens)
	if err != nil {
		return err
	}
	fmt.Println("--- sample ---")
	fmt.Println(sample)
	fmt.Println("---")
	return nil
}

func mustID(tok tokenizer.Tokenizer, s string) int32 {
	ids, err := tok.Encode(s)
	if err != nil || len(ids) == 0 {
		return tokenizer.BOS
	}
	return ids[0]
}
