package serve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/internal/extools"
	"github.com/tinychat-go/tinychat/retrieval"
)

// browser starts a headless Chromium and returns a context driving one tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(extools.Chromium(t)),
		chromedp.NoSandbox,
		chromedp.WindowSize(900, 640),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(alloc)
	// Generous: only a broken page runs into it.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancel()
		cancelTab()
		cancelAlloc()
	})
	return ctx
}

// until evaluates the JavaScript expression until it is true.
func until(expr string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		for {
			var ok bool
			if err := chromedp.Evaluate(expr, &ok).Do(ctx); err != nil {
				return fmt.Errorf("evaluating %s: %w", expr, err)
			}
			if ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w", expr, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
}

// TestBrowser drives the page in headless Chromium: type a message, see the reply stream in,
// stop a long reply (which stops the generation on the server), get a whole reply, start a new
// chat. It keeps a screenshot in its temporary directory.
func TestBrowser(t *testing.T) {
	ctx := browser(t)
	// A write timeout longer than the test: a loaded machine's browser may read the endless stream
	// slowly, and being cut off would end the reply before Stop is clicked.
	s, ts := newTestServer(t, Config{MaxTokens: 1 << 20, WriteTimeout: 5 * time.Minute}, loopModel(t, "loop", 'a'))
	m := s.models[0]
	var (
		userText, info, firstText, meta, secondText, status string
		msgs                                                int
		shot                                                []byte
	)
	err := chromedp.Run(ctx,
		chromedp.Navigate(ts.URL),
		until(`document.querySelectorAll("#model option").length === 1`),
		chromedp.Text("#model-info", &info, chromedp.ByID),
		chromedp.SetValue("#temperature", "0", chromedp.ByID),
		chromedp.SetValue("#max-tokens", "1000000", chromedp.ByID),
		chromedp.SendKeys("#input", "hello there", chromedp.ByID),
		chromedp.Click("#send", chromedp.ByID),
		// The reply appears while it is generated.
		until(`(document.querySelector(".msg.assistant.streaming .text")?.textContent.length ?? 0) >= 30`),
		chromedp.Text(".msg.user .text", &userText, chromedp.ByQuery),
		until(`!document.getElementById("stop").hidden && document.getElementById("send").hidden`),
		chromedp.Click("#stop", chromedp.ByID),
		until(`document.querySelector(".msg.assistant.stopped") !== null`),
		chromedp.Text(".msg.assistant .text", &firstText, chromedp.ByQuery),
	)
	require.NoError(t, err)
	assert.Equal(t, "hello there", userText)
	assert.Contains(t, info, "sft model")
	assert.Regexp(t, `^a{30,}$`, firstText)
	waitFor(func() bool { return m.stats().Active == 0 }) // stopped on the server too

	// A second turn, sent with Enter, ends at max tokens; its meta line says so.
	err = chromedp.Run(ctx,
		chromedp.SetValue("#max-tokens", "5", chromedp.ByID),
		chromedp.SendKeys("#input", "again"+kb.Enter, chromedp.ByID),
		until(`document.querySelectorAll(".msg.assistant .meta").length === 2 && !document.querySelector(".streaming")`),
		chromedp.Text(".msg.assistant:last-child .text", &secondText, chromedp.ByQuery),
		chromedp.Text(".msg.assistant:last-child .meta", &meta, chromedp.ByQuery),
		chromedp.Text("#status", &status, chromedp.ByID),
		chromedp.CaptureScreenshot(&shot),
		chromedp.Click("#new-chat", chromedp.ByID),
		until(`!document.getElementById("empty").hidden`),
		chromedp.Evaluate(`document.querySelectorAll(".msg").length`, &msgs),
	)
	require.NoError(t, err)
	assert.Equal(t, "aaaaa", secondText)
	assert.Contains(t, meta, "5 tokens · cut at max tokens")
	// The stopped reply is too long for the model's context of 16 tokens: the page left the
	// first exchange out of the second request.
	assert.Contains(t, status, "The 2 oldest messages no longer fit")
	assert.Zero(t, msgs)
	require.Greater(t, len(shot), 1000)
	path := filepath.Join(t.TempDir(), "chat.png")
	require.NoError(t, os.WriteFile(path, shot, 0o644))
	t.Logf("screenshot: %s", path)
}

// TestScreenshotForDocs takes the README's screenshot of a real checkpoint: it runs only with
// TINYCHAT_SCREENSHOT_CKPT set (a checkpoint path) and writes TINYCHAT_SCREENSHOT_OUT
// (default: chat.png in the test's temporary directory):
//
//	TINYCHAT_SCREENSHOT_CKPT=runs/tinychat/rlhf.safetensors TINYCHAT_SCREENSHOT_OUT=$PWD/docs/serve/chat.png go test -run ScreenshotForDocs ./serve
func TestScreenshotForDocs(t *testing.T) {
	path := os.Getenv("TINYCHAT_SCREENSHOT_CKPT")
	if path == "" {
		t.Skip("skipped: set TINYCHAT_SCREENSHOT_CKPT to a checkpoint to take the docs' screenshot")
	}
	out := os.Getenv("TINYCHAT_SCREENSHOT_OUT")
	if out == "" {
		out = filepath.Join(t.TempDir(), "chat.png")
	}
	m, err := LoadModel(path)
	require.NoError(t, err)
	ctx := browser(t)
	_, ts := newTestServer(t, Config{}, m)
	var shot []byte
	actions := []chromedp.Action{
		chromedp.Navigate(ts.URL),
		until(`document.querySelectorAll("#model option").length === 1`),
		chromedp.SetValue("#temperature", "0", chromedp.ByID),
		chromedp.SetValue("#max-tokens", "48", chromedp.ByID),
	}
	for i, q := range []string{"what is Hal's favourite colour?", "can you tell me Hugo's favourite colour?", "in which town does Uma live?"} {
		actions = append(actions,
			chromedp.SendKeys("#input", q+kb.Enter, chromedp.ByID),
			until(fmt.Sprintf(`document.querySelectorAll(".msg.assistant .meta").length === %d`, i+1)),
		)
	}
	actions = append(actions, chromedp.CaptureScreenshot(&shot))
	require.NoError(t, chromedp.Run(ctx, actions...))
	require.NoError(t, os.WriteFile(out, shot, 0o644))
	t.Logf("screenshot: %s", out)
}

// TestBrowserTools: the page shows the tool calls the server ran and the passages of the
// context turn in the assistant's bubble, above the reply.
func TestBrowserTools(t *testing.T) {
	ctx := browser(t)
	m := scriptedModel(t, "calc",
		data.ContextMessage("3 cats cost 28."),
		data.Message{Role: data.RoleUser, Content: "what is 3*28"},
		data.Message{Role: data.RoleToolCall, Content: "calc 3*28"},
		data.Message{Role: data.RoleToolResult, Content: "84"},
		data.Message{Role: data.RoleAssistant, Content: "it is 84"})
	bm, err := retrieval.NewBM25([]retrieval.Passage{{ID: 0, Doc: "cats", Text: "3 cats cost 28."}, {ID: 1, Doc: "dogs", Text: "bo has a dog."}}, 0, 0)
	require.NoError(t, err)
	var calls []string
	_, ts := newTestServer(t, Config{Tools: toolsConfig(t, &calls), Retriever: bm, ContextPassages: 1}, m)
	var info, call, summary, passage, text, order string
	err = chromedp.Run(ctx,
		chromedp.Navigate(ts.URL),
		until(`document.querySelectorAll("#model option").length === 1`),
		chromedp.Text("#model-info", &info, chromedp.ByID),
		chromedp.SetValue("#temperature", "0", chromedp.ByID),
		chromedp.SendKeys("#input", "what is 3*28"+kb.Enter, chromedp.ByID),
		until(`document.querySelector(".msg.assistant .meta") !== null`),
		chromedp.Text(".msg.assistant details.tools .tool-call", &call, chromedp.ByQuery),
		chromedp.Text(".msg.assistant details.tools summary", &summary, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector(".msg.assistant details.context .passage").textContent`, &passage),
		chromedp.Text(".msg.assistant .text", &text, chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelector(".msg.assistant").children].map((e) => e.className).join(",")`, &order),
	)
	require.NoError(t, err)
	assert.Contains(t, info, "runs tools")
	assert.Equal(t, "calc 3*28 → 84", call)
	assert.Equal(t, "1 tool call", summary)
	assert.Equal(t, "cats#0: 3 cats cost 28.", passage, "in a closed block")
	assert.Equal(t, "it is 84", text)
	assert.Equal(t, "context,tools,text,meta", order)
	assert.Equal(t, []string{"calc 3*28 = 84"}, calls)
}
