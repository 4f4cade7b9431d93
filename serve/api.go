package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/tinychat-go/tinychat/data"
)

// chatRequest is the body of POST /v1/chat/completions. Fields that a client may send as null
// are pointers; unknown fields are ignored, as OpenAI's clients send many.
type chatRequest struct {
	Model    string        `json:"model"`
	Messages []chatMessage `json:"messages"`
	// ToolChoice "none" turns the server's tools off for the request; other values are
	// ignored (the server, not the client, runs the tools).
	ToolChoice json.RawMessage `json:"tool_choice"`
	sampling
}

// completionRequest is the body of POST /v1/completions.
type completionRequest struct {
	Model  string          `json:"model"`
	Prompt json.RawMessage `json:"prompt"`
	Echo   *bool           `json:"echo"`
	Suffix *string         `json:"suffix"`
	sampling
}

// sampling holds the fields both endpoints share.
type sampling struct {
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	TopK                *int            `json:"top_k"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Stop                json.RawMessage `json:"stop"`
	Seed                *int64          `json:"seed"`
	N                   *int            `json:"n"`
	Stream              *bool           `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage *bool `json:"include_usage"`
	} `json:"stream_options"`
	Logprobs json.RawMessage `json:"logprobs"`
}

// chatMessage is one message; content is a string or an array of text parts.
type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// decodeBody reads r's JSON body into v, with the size limit and read deadline of cfg.
func decodeBody(w http.ResponseWriter, r *http.Request, cfg Config, v any) *apiError {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(cfg.ReadTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, cfg.MaxBodyBytes))
	if err == nil {
		_ = rc.SetReadDeadline(time.Time{}) // a stream may last longer than ReadTimeout
	} else {
		// The rest of the body is not worth waiting for: answer and close the connection.
		w.Header().Set("Connection", "close")
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return &apiError{status: http.StatusRequestEntityTooLarge, typ: typeInvalidRequest, code: "request_too_large",
				msg: fmt.Sprintf("the request body is over the server's limit of %d bytes", cfg.MaxBodyBytes)}
		}
		return &apiError{status: http.StatusBadRequest, typ: typeInvalidRequest, msg: "reading the request body: " + err.Error()}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("", "the request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("", "the request body must hold one JSON object, with nothing after it")
	}
	return nil
}

// jsonError describes a decoding error.
func jsonError(err error) *apiError {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return badRequest("", "malformed JSON at byte %d: %v", syn.Offset, err)
	case errors.As(err, &typ) && typ.Field != "":
		field := strings.TrimPrefix(typ.Field, "sampling.") // the embedded struct's name
		return badRequest(field, "%s must be %s, not a JSON %s", field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.As(err, &typ):
		return badRequest("", "the request body must be a JSON object, not a JSON %s", typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "malformed JSON: the body ends too early")
	default:
		return badRequest("", "malformed JSON: %v", err)
	}
}

// jsonKind names a Go kind as JSON.
func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "an integer"
	case strings.HasPrefix(k, "float"):
		return "a number"
	case k == "bool":
		return "a boolean"
	case k == "string":
		return "a string"
	case k == "slice":
		return "an array"
	default:
		return "an object"
	}
}

// stringOrList parses a field holding a string or an array of strings (null: none).
func stringOrList(raw json.RawMessage, field string) ([]string, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, badRequest(field, "%s must be a string or an array of strings", field)
	}
	return list, nil
}

// params are the checked sampling settings of a request.
type params struct {
	temperature float64
	topP        float64
	topK        int
	maxTokens   int
	stops       []string
	seed        uint64
	n           int
	stream      bool
	usage       bool // stream_options.include_usage
}

// check validates the shared fields; defaultMax is max_tokens when absent.
func (sm *sampling) check(cfg Config, defaultMax int) (params, *apiError) {
	p := params{temperature: 1, topP: 1, maxTokens: defaultMax, n: 1}
	if sm.Temperature != nil {
		if t := *sm.Temperature; math.IsNaN(t) || t < 0 || t > 2 {
			return p, badRequest("temperature", "temperature must be between 0 and 2, got %g", t)
		}
		p.temperature = *sm.Temperature
	}
	if sm.TopP != nil {
		if v := *sm.TopP; math.IsNaN(v) || v <= 0 || v > 1 {
			return p, badRequest("top_p", "top_p must be in (0, 1], got %g", v)
		}
		p.topP = *sm.TopP
	}
	if sm.TopK != nil {
		if *sm.TopK < 0 {
			return p, badRequest("top_k", "top_k must be >= 0 (0: off), got %d", *sm.TopK)
		}
		p.topK = *sm.TopK
	}
	mt, field := sm.MaxTokens, "max_tokens"
	if sm.MaxCompletionTokens != nil {
		mt, field = sm.MaxCompletionTokens, "max_completion_tokens"
	}
	if mt != nil {
		if *mt < 1 || *mt > cfg.MaxTokens {
			return p, badRequest(field, "%s must be between 1 and the server's limit of %d, got %d", field, cfg.MaxTokens, *mt)
		}
		p.maxTokens = *mt
	}
	if sm.N != nil {
		if *sm.N < 1 || *sm.N > cfg.MaxN {
			return p, badRequest("n", "n must be between 1 and the server's limit of %d, got %d", cfg.MaxN, *sm.N)
		}
		p.n = *sm.N
	}
	stops, e := stringOrList(sm.Stop, "stop")
	if e != nil {
		return p, e
	}
	if len(stops) > 4 {
		return p, badRequest("stop", "stop may hold at most 4 sequences, got %d", len(stops))
	}
	for _, s := range stops {
		if s == "" {
			return p, badRequest("stop", "stop sequences must not be empty")
		}
	}
	p.stops = stops
	if sm.Seed != nil {
		p.seed = uint64(*sm.Seed)
	} else {
		p.seed = randomSeed()
	}
	if sm.Stream != nil {
		p.stream = *sm.Stream
	}
	if sm.StreamOptions != nil && sm.StreamOptions.IncludeUsage != nil {
		p.usage = *sm.StreamOptions.IncludeUsage
	}
	if lp := bytes.TrimSpace(sm.Logprobs); len(lp) > 0 && string(lp) != "null" && string(lp) != "false" && string(lp) != "0" {
		return p, badRequest("logprobs", "logprobs are not supported")
	}
	return p, nil
}

// messages converts and checks the chat messages: roles system (or developer), user and
// assistant; content a string or text parts; a system message only first; the last one a
// user turn.
func (req *chatRequest) messages() ([]data.Message, *apiError) {
	if len(req.Messages) == 0 {
		return nil, badRequest("messages", "messages must hold at least one message")
	}
	out := make([]data.Message, len(req.Messages))
	for i, m := range req.Messages {
		field := fmt.Sprintf("messages[%d]", i)
		role := m.Role
		switch role {
		case data.RoleSystem, data.RoleUser, data.RoleAssistant:
		case "developer":
			role = data.RoleSystem
		case "":
			return nil, badRequest(field+".role", "%s has no role", field)
		default:
			return nil, badRequest(field+".role", "%s has the unknown role %q; the roles are system, developer, user and assistant", field, m.Role)
		}
		text, e := messageText(m.Content, field+".content")
		if e != nil {
			return nil, e
		}
		out[i] = data.Message{Role: role, Content: text}
	}
	if err := data.ValidatePrompt(out); err != nil {
		return nil, badRequest("messages", "messages: %v", err)
	}
	return out, nil
}

// messageText reads a message's content: a string, null, or an array of {"type": "text",
// "text": ...} parts, joined.
func messageText(raw json.RawMessage, field string) (string, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", badRequest(field, "%s must be a string or an array of text parts", field)
	}
	var b strings.Builder
	for j, p := range parts {
		if p.Type != "text" || p.Text == nil {
			return "", badRequest(fmt.Sprintf("%s[%d]", field, j), "%s[%d] is a %q part; only text parts are supported", field, j, p.Type)
		}
		b.WriteString(*p.Text)
	}
	return b.String(), nil
}
