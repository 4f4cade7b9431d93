package tools

import (
	"context"

	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultMaxResult is the longest result text a Registry returns, in bytes, when
// Registry.MaxResult is zero.
const DefaultMaxResult = 200

// ErrorPrefix starts every in-band error string a Registry returns.
const ErrorPrefix = "error: "

// Tool is something the model can call: it takes the call's argument text and returns a
// result text. An error is reported to the model in-band (see Registry.Call), so its text
// should say what was wrong in a few words.
type Tool interface {
	// Name is the word the model writes to call the tool: letters, digits, '_' or '-'.
	Name() string
	// Description says in one line what the tool does and how to call it.
	Description() string
	// Run runs the tool on args. It should honour ctx's cancellation if it may take long.
	Run(ctx context.Context, args string) (string, error)
}

// Func adapts a function to a Tool.
type Func struct {
	ToolName, Desc string
	F              func(ctx context.Context, args string) (string, error)
}

// Name returns f.ToolName.
func (f Func) Name() string { return f.ToolName }

// Description returns f.Desc.
func (f Func) Description() string { return f.Desc }

// Run calls f.F.
func (f Func) Run(ctx context.Context, args string) (string, error) { return f.F(ctx, args) }

// Registry maps tool names to tools and runs calls. Whatever goes wrong in a call (an
// unknown tool, bad arguments, a tool that fails or panics) becomes a result text starting
// with ErrorPrefix, so the model reads what happened and the caller never has to handle an
// error. A Registry is safe for concurrent use if its tools are.
type Registry struct {
	// MaxResult bounds a result's length in bytes; 0 means DefaultMaxResult. A longer result
	// is cut at a character boundary and ends with "…".
	MaxResult int

	tools map[string]Tool
}

// NewRegistry returns a registry of the given tools. It fails if a tool is nil, has an
// invalid name, or shares its name with another.
func NewRegistry(tools ...Tool) (*Registry, error) {
	r := &Registry{tools: make(map[string]Tool, len(tools))}
	for i, t := range tools {
		if t == nil {
			return nil, fmt.Errorf("tools: tool %d is nil", i)
		}
		name := t.Name()
		if !validName(name) {
			return nil, fmt.Errorf("tools: tool %d has the invalid name %q (want letters, digits, '_' or '-')", i, name)
		}
		if _, dup := r.tools[name]; dup {
			return nil, fmt.Errorf("tools: two tools are named %q", name)
		}
		r.tools[name] = t
	}
	return r, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '-' || c < utf8.RuneSelf && (unicode.IsLetter(c) || unicode.IsDigit(c))) {
			return false
		}
	}
	return true
}

// Names lists the registered tools' names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.tools))
	for n := range r.tools {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Tool returns the named tool, or nil.
func (r *Registry) Tool(name string) Tool { return r.tools[name] }

// ParseCall splits a call's text, "NAME ARGS", into the tool name (the first word) and its
// arguments (the rest, trimmed of spaces).
func ParseCall(call string) (name, args string) {
	call = strings.TrimSpace(call)
	i := strings.IndexFunc(call, unicode.IsSpace)
	if i < 0 {
		return call, ""
	}
	return call[:i], strings.TrimSpace(call[i:])
}

// Run runs a call written as "NAME ARGS" (see ParseCall) and returns the tool's name and
// result text, as Call does.
func (r *Registry) Run(ctx context.Context, call string) (name, result string) {
	name, args := ParseCall(call)
	return name, r.Call(ctx, name, args)
}

// Call runs the named tool on args and returns its result, cut to MaxResult bytes. An
// unknown tool, a tool's error or panic, and a cancelled ctx give a result starting with
// ErrorPrefix instead, e.g. "error: unknown tool \"calk\" (tools: calc, search)" or
// "error: division by zero".
func (r *Registry) Call(ctx context.Context, name, args string) (result string) {
	max := r.MaxResult
	if max <= 0 {
		max = DefaultMaxResult
	}
	defer func() {
		if p := recover(); p != nil {
			result = Truncate(fmt.Sprintf("%stool %s failed", ErrorPrefix, name), max)
		}
	}()
	if err := ctx.Err(); err != nil {
		return Truncate(ErrorPrefix+err.Error(), max)
	}
	t, ok := r.tools[name]
	if !ok {
		if name == "" {
			return Truncate(fmt.Sprintf("%sno tool named (tools: %s)", ErrorPrefix, strings.Join(r.Names(), ", ")), max)
		}
		return Truncate(fmt.Sprintf("%sunknown tool %q (tools: %s)", ErrorPrefix, name, strings.Join(r.Names(), ", ")), max)
	}
	out, err := t.Run(ctx, args)
	if err != nil {
		return Truncate(ErrorPrefix+err.Error(), max)
	}
	return Truncate(out, max)
}

// IsError reports whether a result text is an in-band error.
func IsError(result string) bool { return strings.HasPrefix(result, ErrorPrefix) }

// Truncate returns s cut to at most max bytes at a UTF-8 character boundary, ending with
// "…" when it was cut (max < 4 cuts without the mark). Invalid UTF-8 is replaced by U+FFFD
// first, so the result is always valid UTF-8.
func Truncate(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= max {
		return s
	}
	const mark = "…"
	if max < len(mark)+1 {
		return cutUTF8(s, max)
	}
	return cutUTF8(s, max-len(mark)) + mark
}

// cutUTF8 returns the longest prefix of s of at most n bytes that ends at a character
// boundary.
func cutUTF8(s string, n int) string {
	if n <= 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Rename returns t under another name (its description unchanged), so that one tool can be
// registered under the name a dataset uses: Rename(Calculator{}, "calculator").
func Rename(t Tool, name string) Tool { return renamed{t, name} }

type renamed struct {
	Tool
	name string
}

func (r renamed) Name() string { return r.name }
