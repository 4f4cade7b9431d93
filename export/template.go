package export

import (
	"strings"

	"github.com/tinychat-go/tinychat/data/tokenizer"
)

// ChatTemplate is the chat template of data.RenderChat and data.RenderPrompt written in Jinja,
// as Hugging Face's tokenizer_config.json ("chat_template") and GGUF
// ("tokenizer.chat_template") carry it. Rendering a valid conversation with it gives exactly
// the text of the template's tokens decoded:
//
//   - <|bos|> first;
//   - a system message: its content, <|end|>;
//   - a user or context message: <|user|> or <|context|>, the content, <|end|>;
//   - an assistant message: <|assistant|> (unless it continues a turn after a tool result),
//     the content, and <|end|> unless a tool call follows;
//   - a tool call ("tool_call"): <|assistant|> (unless the turn is open), <|tool_call|>, the
//     call, <|tool_call_end|>;
//   - a tool result ("tool_result"): <|tool_result|>, the result, <|tool_result_end|>;
//   - <|assistant|> at the end when add_generation_prompt is set.
//
// A turn is open before a message that follows a tool call or a tool result, or that is a tool
// call right after an assistant message; that is all the state the template needs.
var ChatTemplate = strings.NewReplacer(
	"BOS", tokenizer.SpecialNames[tokenizer.BOS],
	"USER", tokenizer.SpecialNames[tokenizer.User],
	"ASSISTANT", tokenizer.SpecialNames[tokenizer.Assistant],
	"END", tokenizer.SpecialNames[tokenizer.End],
	"CONTEXT", tokenizer.SpecialNames[tokenizer.Context],
	"CALL_OPEN", tokenizer.SpecialNames[tokenizer.ToolCall],
	"CALL_CLOSE", tokenizer.SpecialNames[tokenizer.ToolCallEnd],
	"RESULT_OPEN", tokenizer.SpecialNames[tokenizer.ToolResult],
	"RESULT_CLOSE", tokenizer.SpecialNames[tokenizer.ToolResultEnd],
).Replace(
	"{{ 'BOS' }}" +
		"{% for message in messages %}" +
		"{% set role = message['role'] %}" +
		"{% set prev = messages[loop.index0 - 1]['role'] if loop.index0 > 0 else '' %}" +
		"{% set next = messages[loop.index0 + 1]['role'] if loop.index0 + 1 < messages|length else '' %}" +
		"{% set open = prev == 'tool_call' or prev == 'tool_result' or (prev == 'assistant' and role == 'tool_call') %}" +
		"{% if role == 'user' %}{{ 'USER' + message['content'] + 'END' }}" +
		"{% elif role == 'context' %}{{ 'CONTEXT' + message['content'] + 'END' }}" +
		"{% elif role == 'assistant' %}" +
		"{% if not open %}{{ 'ASSISTANT' }}{% endif %}{{ message['content'] }}{% if next != 'tool_call' %}{{ 'END' }}{% endif %}" +
		"{% elif role == 'tool_call' %}" +
		"{% if not open %}{{ 'ASSISTANT' }}{% endif %}{{ 'CALL_OPEN' + message['content'] + 'CALL_CLOSE' }}" +
		"{% elif role == 'tool_result' %}{{ 'RESULT_OPEN' + message['content'] + 'RESULT_CLOSE' }}" +
		"{% else %}{{ message['content'] + 'END' }}" +
		"{% endif %}" +
		"{% endfor %}" +
		"{% if add_generation_prompt %}{{ 'ASSISTANT' }}{% endif %}")
