// Package serve serves tinychat checkpoints over HTTP with an OpenAI-compatible API and a
// small web chat page.
//
// The API speaks the subset of OpenAI's that chat clients use:
//
//	POST /v1/chat/completions   chat models (sft, rlhf): messages → reply
//	POST /v1/completions        any generative model (pretrain too): text → continuation
//	GET  /v1/models             the loaded checkpoints; GET /v1/models/{id} one of them
//	GET  /health                200 while serving
//	GET  /                      the chat page (embedded in the binary: no CDN, no build step)
//
// Both generation endpoints answer with one JSON object, or with server-sent events in
// OpenAI's chunk format ending with "data: [DONE]" when "stream" is true. They honour
// temperature, top_p, top_k (an extension), max_tokens, stop, seed, n and
// stream_options.include_usage, and count tokens in "usage". The same seed gives the same
// reply as chat.Assistant with the same settings (exactly for a request served alone; with
// concurrent requests decoded together, up to float32 round-off in the logits). A reply ends
// at the model's first special token (<|end|>), at a stop sequence or at max_tokens, and
// the page keeps a conversation within the model's short context by leaving out its oldest
// turns. Errors are OpenAI's error JSON
// ({"error": {"message", "type", "param", "code"}}) with the usual status codes: 400 bad
// input, 401 a missing or wrong API key, 404 an unknown model or path, 405, 413 a body over
// Config.MaxBodyBytes, 429 a full queue (with Retry-After), 503 while shutting down and 504
// past Config.RequestTimeout.
//
// Tools and retrieval are off unless the program turns them on. With Config.Tools set, the
// chat models whose tokenizer has the tool tokens run the tools they call
// (chat.Assistant.ReplyWithTools; such requests take n = 1 and are generated one at a time
// per model, outside the batcher, at most Config.MaxQueue of them waiting for their turn
// before new ones get 429; "tool_choice": "none" turns them off for a request). The
// server, not the client, runs them, so a reply does not hand them over in OpenAI's
// "tool_calls" (which asks the client to run them and send the results back): the assistant
// message carries them in the extension field "executed_tool_calls", each shaped as an entry
// of "tool_calls" plus what the run gave,
//
//	{"index": 0, "id": "call_0", "type": "function", "function": {"name": "calc", "arguments": "3*28"}, "output": "84", "is_error": false}
//
// and "content" is the assistant's text around the calls. Such a reply's "finish_reason" is
// "stop" when the model ended it (with <|end|>, or with a special token out of place, as a
// reply without tools ends at any special token) or at a stop sequence, and "length" when it
// was cut at max_tokens or at the end of the model's context (a call whose result no longer
// fits included). max_tokens counts every token the model generates, its calls' tokens
// included. Its "usage" counts as prompt_tokens the tokens the model read without writing
// them: the prompt and each inserted tool result (<|tool_result|>, the result's tokens,
// <|tool_result_end|>); and as completion_tokens every token the model wrote: the text, each
// call with its <|tool_call|> and <|tool_call_end|> markers, and the closing <|end|> (the
// tokens max_tokens counts). Streamed, each call is a delta of its own
// ({"executed_tool_calls": [one call]}) sent when the call has run, between the content
// deltas; OpenAI's clients pass the unknown field through. With Config.Retriever and
// Config.ContextPassages, the passages that best match a chat request's last user message go
// before it in a context turn, and the message (or, streamed, the first delta, with the role)
// lists them in "context": [{"doc", "id", "text", "score"}]. GET /v1/models says which models
// run tools ("tools": true), and the page shows the calls and the passages in the reply's
// bubble.
//
// A model's requests that run no tools share its lanes (Config.Lanes, by default one per core
// up to 4): chat.Batchers that each decode the sequences of concurrent requests together in
// one KV-cache engine, on a goroutine of their own, a request going to the least loaded. The
// requests that run tools are decoded one at a time, each alone, on the model's tool
// assistant. A request stops generating as soon as its client goes away (the request's
// context), and a slow reader is cut off after Config.WriteTimeout. [Server.Serve] shuts down gracefully when its context ends: streams get
// Config.ShutdownGrace to finish, then they are cancelled and end with an error event.
//
// The library never prints: it logs to Config.Logger. Binding an address other than loopback
// is logged as a warning, since the API has no authentication unless Config.APIKey is set.
package serve
