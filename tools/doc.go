// Package tools holds what a tinychat model can call while it writes a reply: a safe
// [Calculator] ("calc"), a passage [Search] over a retrieval.Retriever ("search"), a
// [Registry] that runs a call written as "NAME ARGS" and turns every failure into an in-band
// error string, and the [ReAct] loop (thought, action, observation; bounded steps; the whole
// trace returned).
//
// A tool never panics its caller and never runs code: the calculator parses arithmetic only,
// with size and depth limits, and a result is cut to a bounded length. The chat package runs
// these tools inside generation (chat.Assistant.ReplyWithTools), where the calls and results
// are special tokens of the chat format; ReAct runs them over a plain-text trace.
package tools
