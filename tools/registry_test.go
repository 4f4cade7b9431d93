package tools

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func echoTool(name string) Tool {
	return Func{ToolName: name, Desc: "echoes", F: func(_ context.Context, args string) (string, error) { return args, nil }}
}

func TestRegistryCall(t *testing.T) {
	boom := Func{ToolName: "boom", F: func(context.Context, string) (string, error) { panic("kaboom") }}
	fail := Func{ToolName: "fail", F: func(context.Context, string) (string, error) { return "partial", errors.New("no such town") }}
	r, err := NewRegistry(Calculator{}, echoTool("echo"), boom, fail)
	require.NoError(t, err)
	assert.Equal(t, []string{"boom", "calc", "echo", "fail"}, r.Names())
	assert.NotNil(t, r.Tool("calc"))
	assert.Nil(t, r.Tool("nope"))

	ctx := context.Background()
	for _, tc := range []struct{ call, name, want string }{
		{"calc 347 + 28", "calc", "375"},
		{"  calc   3 x 4  ", "calc", "12"},
		{"calc\t1/0", "calc", "error: division by zero (the divisor at byte 2 is 0)"},
		{"calc", "calc", "error: syntax error: empty expression"},
		{"calk 1+1", "calk", `error: unknown tool "calk" (tools: boom, calc, echo, fail)`},
		{"", "", "error: no tool named (tools: boom, calc, echo, fail)"},
		{"boom now", "boom", "error: tool boom failed"},
		{"fail x", "fail", "error: no such town"},
		{"echo <|end|> stays text", "echo", "<|end|> stays text"},
	} {
		name, got := r.Run(ctx, tc.call)
		assert.Equal(t, tc.name, name, "%q", tc.call)
		assert.Equal(t, tc.want, got, "%q", tc.call)
	}
	assert.True(t, IsError("error: x"))
	assert.False(t, IsError("375"))

	// Results are bounded, in bytes, at a character boundary.
	r.MaxResult = 10
	assert.Equal(t, "ééé…", r.Call(ctx, "echo", "éééééééé"))
	assert.Equal(t, "0123456789", r.Call(ctx, "echo", "0123456789"))
	assert.Equal(t, "0123456…", r.Call(ctx, "echo", "0123456789a"))
	assert.Equal(t, "error: …", r.Call(ctx, "nope", ""))
	r.MaxResult = 0
	long := r.Call(ctx, "echo", strings.Repeat("a", 1000))
	assert.Len(t, long, DefaultMaxResult)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	assert.Equal(t, "error: context canceled", r.Call(cctx, "calc", "1+1"))
}

func TestNewRegistryErrors(t *testing.T) {
	_, err := NewRegistry(Calculator{}, Calculator{})
	assert.EqualError(t, err, `tools: two tools are named "calc"`)
	_, err = NewRegistry(echoTool("has space"))
	assert.EqualError(t, err, `tools: tool 0 has the invalid name "has space" (want letters, digits, '_' or '-')`)
	_, err = NewRegistry(echoTool(""))
	assert.Error(t, err)
	_, err = NewRegistry(nil)
	assert.EqualError(t, err, "tools: tool 0 is nil")
}

func TestTruncate(t *testing.T) {
	assert.Equal(t, "abc", Truncate("abc", 3))
	assert.Equal(t, "a…", Truncate("abcdef", 4))
	assert.Equal(t, "ab", Truncate("abcdef", 2))
	assert.Equal(t, "", Truncate("é", 1))
	assert.Equal(t, "\uFFFD", Truncate("\xff", 3))
	assert.Equal(t, "", Truncate("abc", 0))
}

func TestParseCall(t *testing.T) {
	for _, tc := range [][3]string{
		{"calc 1 + 2", "calc", "1 + 2"},
		{" search  anna oakton ", "search", "anna oakton"},
		{"calc", "calc", ""},
		{"", "", ""},
		{"calc\n1", "calc", "1"},
	} {
		n, a := ParseCall(tc[0])
		assert.Equal(t, tc[1], n, "%q", tc[0])
		assert.Equal(t, tc[2], a, "%q", tc[0])
	}
}

func TestRename(t *testing.T) {
	r, err := NewRegistry(Calculator{}, Rename(Calculator{}, "calculator"))
	require.NoError(t, err)
	assert.Equal(t, []string{"calc", "calculator"}, r.Names())
	_, out := r.Run(context.Background(), "calculator 347+215")
	assert.Equal(t, "562", out)
	assert.Equal(t, Calculator{}.Description(), r.Tool("calculator").Description())
	_, err = NewRegistry(Rename(Calculator{}, "bad name"))
	assert.Error(t, err)
}
