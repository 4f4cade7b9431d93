// Package export moves tinychat models to the tools where people run and train models, and
// back:
//
//   - [WriteGGUF] writes a checkpoint as a GGUF file for llama.cpp (and Ollama, LM Studio and
//     the other llama.cpp front ends), architecture "gpt2", float32 or float16 ([GGUFOptions]);
//     [ReadGGUF] reads such files back for inspection.
//   - [WriteHF] writes a checkpoint as a Hugging Face GPT-2 directory (config.json,
//     model.safetensors under transformers' names, tokenizer.json, tokenizer_config.json with
//     the chat template in Jinja, generation_config.json, and GPT-2's vocab.json and
//     merges.txt for the slow GPT2Tokenizer when the tokenizer pre-splits as GPT-2 does, see
//     [GPT2Files]), which transformers loads with GPT2LMHeadModel and AutoTokenizer, so
//     training can continue with transformers or TRL on GPUs.
//   - [ReadHF] imports a Hugging Face GPT-2 directory (safetensors weights only; pickled
//     weights are never read) as a checkpoint, GPT-2's linear biases and byte-level BPE
//     tokenizer included, with the chat special tokens added, ready for SFT here.
//
// Token IDs are unchanged by the exports. An import maps the file's IDs onto this
// repository's layout (specials first, then the 256 bytes, then the merges) by token string,
// so every token keeps its text and its embedding row.
//
// Any checkpoint that generates text can be exported: pretraining, SFT and RLHF. A reward
// model's scalar head has no place in these formats and is refused ([ErrUnsupported]), as is
// a character-level tokenizer (both formats need a byte-level BPE).
//
// Every export was checked with the real clients: node-llama-cpp (llama.cpp's CPU build)
// tokenizes like our tokenizer, continues greedily like our engine and gives logits within
// 5e-3 of it (2.2e-3 measured with an f32 KV cache and flash attention off, 3.1e-3 at
// llama.cpp's defaults, f16 KV cache and flash attention); @huggingface/tokenizers encodes
// like our tokenizer (from tokenizer.json, and from vocab.json and merges.txt as transformers
// converts them) and @huggingface/jinja renders the chat template to exactly our
// template's text; an independent GPT-2 forward pass reading the Hugging Face directory as
// transformers does agrees with our engine. The package tests repeat these checks when the
// clients are installed (.ci/run installs them).
//
// Files are written atomically (a temporary file renamed into place). The package never
// prints.
package export
