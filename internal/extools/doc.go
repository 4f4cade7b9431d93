// Package extools finds the real clients that interop tests drive: Node.js with the npm
// packages .ci/run installs into .tools/node (the openai client, node-llama-cpp with
// llama.cpp's CPU build, @huggingface/tokenizers and @huggingface/jinja), and a headless
// Chromium. Each finder skips the calling test with a message naming what is missing and the
// command that installs it, so `go test ./...` passes on a machine without them.
package extools
