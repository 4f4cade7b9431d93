// Package tools holds what a tinychat model can call while it writes a reply: a safe
// [Calculator] ("calc") and a [Registry] that runs a call written as "NAME ARGS" and turns
// every failure into an in-band error string.
//
// A tool never panics its caller and never runs code: the calculator parses arithmetic only,
// with size and depth limits, and a result is cut to a bounded length.
package tools
