// Package chat is the inference home of tinychat models: it turns text into replies.
//
// [Assistant] answers conversations with a chat (SFT or RLHF) model: it renders the prompt with
// the chat template, samples a reply with the KV-cache engine until <|end|>, and parses it
// ([ParseReply]). [Assistant.ReplyWithTools] does the same while running the tools the model
// calls (a tools.Registry): each result is fed back in the same KV cache before the model goes
// on, and the reply comes back with its calls, its results and which tokens were inserted.
// [Streamer] shows a reply while it is generated, a whole UTF-8 character at a time. The stages (sft's evaluation, rlhf's rollouts), the example programs and a server all
// use this one package, so a model is asked the same way everywhere. [Batcher] serves many
// concurrent callers with one model, decoding their sequences together in one engine (the
// serve package's HTTP API runs on several of them, one per core). [Lanes] answer a batch of
// conversations on several assistants at once, with the replies one call would give.
package chat
