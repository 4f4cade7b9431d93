package export

import "github.com/tinychat-go/tinychat/data/tokenizer"

// ChatTemplate is the chat template of data.RenderChat and data.RenderPrompt written in Jinja,
// as Hugging Face's tokenizer_config.json ("chat_template") and GGUF
// ("tokenizer.chat_template") carry it: <|bos|>, then per message its role token (none for a
// system message, <|user|>, <|assistant|>), its content and <|end|>, then <|assistant|> when
// add_generation_prompt is set. Rendering a conversation with it gives exactly the text of
// the template's tokens decoded.
var ChatTemplate = "{{ '" + tokenizer.SpecialNames[tokenizer.BOS] + "' }}" +
	"{% for message in messages %}" +
	"{% if message['role'] == 'user' %}{{ '" + tokenizer.SpecialNames[tokenizer.User] + "' }}" +
	"{% elif message['role'] == 'assistant' %}{{ '" + tokenizer.SpecialNames[tokenizer.Assistant] + "' }}" +
	"{% endif %}" +
	"{{ message['content'] }}{{ '" + tokenizer.SpecialNames[tokenizer.End] + "' }}" +
	"{% endfor %}" +
	"{% if add_generation_prompt %}{{ '" + tokenizer.SpecialNames[tokenizer.Assistant] + "' }}{% endif %}"
