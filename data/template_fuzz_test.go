package data

import (
	"testing"

	"github.com/tinychat-go/tinychat/data/tokenizer"
)

var fuzzRoles = []string{RoleSystem, RoleUser, RoleAssistant, RoleToolCall, RoleToolResult, RoleContext, "bad"}

// fuzzMessages decodes a conversation from s: each message is a role byte followed by its
// content up to the next '|'.
func fuzzMessages(s string) []Message {
	var msgs []Message
	for len(s) > 0 {
		role := fuzzRoles[int(s[0])%len(fuzzRoles)]
		s = s[1:]
		end := 0
		for end < len(s) && s[end] != '|' {
			end++
		}
		msgs = append(msgs, Message{Role: role, Content: s[:end]})
		if end < len(s) {
			end++
		}
		s = s[end:]
	}
	return msgs
}

// FuzzRenderChat renders arbitrary conversations: it never panics, and a valid one gets a
// mask of its length that is 1 only where the model writes (never inside a user, system or
// context turn, nor inside a tool result), with well-nested tool tokens.
func FuzzRenderChat(f *testing.F) {
	for _, s := range []string{
		"\x01hi|\x02yo", "\x05ctx|\x01q|\x03calc 1+1|\x04|2|\x02two", "\x01q|\x02a|\x03c|\x04r|\x03c|\x04r|\x02",
		"\x00sys|\x01<|end|>|\x02<|tool_call|>", "\x03x", "\x04x|\x02y", "\x06x|\x02y",
	} {
		f.Add(s)
	}
	tok, err := tokenizer.NewBPEFromMerges(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		msgs := fuzzMessages(s)
		ids, mask, err := RenderChat(tok, msgs)
		if err != nil {
			if ValidateConversation(msgs) == nil {
				t.Fatalf("valid conversation %q failed: %v", msgs, err)
			}
			return
		}
		if len(ids) != len(mask) {
			t.Fatalf("%d ids, %d mask values", len(ids), len(mask))
		}
		// region: the special token that opened the span a token is in.
		region := int32(-1)
		for i, id := range ids {
			m := mask[i]
			switch id {
			case tokenizer.User, tokenizer.Context, tokenizer.Assistant:
				if m != 0 {
					t.Fatalf("role token %d trained at %d", id, i)
				}
				region = id
			case tokenizer.ToolCall:
				if region != tokenizer.Assistant || m != 1 {
					t.Fatalf("<|tool_call|> at %d in region %d, mask %g", i, region, m)
				}
				region = id
			case tokenizer.ToolCallEnd:
				if region != tokenizer.ToolCall || m != 1 {
					t.Fatalf("<|tool_call_end|> at %d in region %d, mask %g", i, region, m)
				}
				region = tokenizer.Assistant
			case tokenizer.ToolResult:
				if m != 0 || ids[i-1] != tokenizer.ToolCallEnd {
					t.Fatalf("<|tool_result|> at %d after %d, mask %g", i, ids[i-1], m)
				}
				region = id
			case tokenizer.ToolResultEnd:
				if region != tokenizer.ToolResult || m != 0 {
					t.Fatalf("<|tool_result_end|> at %d in region %d, mask %g", i, region, m)
				}
				region = tokenizer.Assistant
			case tokenizer.End:
				if want := region == tokenizer.Assistant; (m == 1) != want {
					t.Fatalf("<|end|> at %d in region %d has mask %g", i, region, m)
				}
				region = -1
			case tokenizer.BOS:
				if i != 0 || m != 0 {
					t.Fatalf("<|bos|> at %d", i)
				}
			default:
				if tokenizer.IsSpecial(tok, id) {
					t.Fatalf("unexpected special %d at %d", id, i)
				}
				if want := region == tokenizer.Assistant || region == tokenizer.ToolCall; (m == 1) != want {
					t.Fatalf("token %d at %d in region %d has mask %g", id, i, region, m)
				}
			}
		}
		if region != -1 {
			t.Fatalf("the conversation ends inside region %d", region)
		}
	})
}
