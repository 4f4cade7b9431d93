package data

// Roles a chat message may have.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	// RoleToolCall is a tool call the assistant writes, "NAME ARGS" (e.g. "calc 347 + 28"),
	// inside its turn; a RoleToolResult message must follow it.
	RoleToolCall = "tool_call"
	// RoleToolResult is the result of the tool call before it, which the runtime appends;
	// the assistant's turn goes on after it (a RoleAssistant or RoleToolCall message follows).
	RoleToolResult = "tool_result"
	// RoleContext is a context turn: passages put in front of the question (RAG).
	RoleContext = "context"
)

// Message is one turn of a conversation.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Conversation is a dialogue with where it came from (for error messages).
type Conversation struct {
	// Source names the file and row, e.g. "chats.jsonl:17".
	Source   string
	Messages []Message
}
