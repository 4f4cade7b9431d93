package data

// Roles a chat message may have.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
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
