package serve

import (
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// OpenAI's error types.
const (
	typeInvalidRequest = "invalid_request_error"
	typeServer         = "server_error"
	typeRateLimit      = "rate_limit_error"
)

// apiError is an error answered in OpenAI's error JSON.
type apiError struct {
	status int
	typ    string
	msg    string
	param  string // the request field at fault, if any
	code   string
	// retryAfter, in seconds, is sent as Retry-After when > 0.
	retryAfter int
}

func (e *apiError) Error() string { return e.msg }

// body is the error JSON: {"error": {"message", "type", "param", "code"}}, with null for an
// absent param or code.
func (e *apiError) body() any {
	type detail struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	d := detail{Message: e.msg, Type: e.typ}
	if e.param != "" {
		d.Param = &e.param
	}
	if e.code != "" {
		d.Code = &e.code
	}
	return map[string]detail{"error": d}
}

// badRequest is a 400 about param.
func badRequest(param, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: typeInvalidRequest, param: param, msg: fmt.Sprintf(format, args...)}
}

func errUnauthorized() *apiError {
	return &apiError{status: http.StatusUnauthorized, typ: typeInvalidRequest, code: "invalid_api_key",
		msg: "missing or incorrect API key: send it as \"Authorization: Bearer <key>\""}
}

func errNotFound(r *http.Request) *apiError {
	return &apiError{status: http.StatusNotFound, typ: typeInvalidRequest, code: "unknown_url",
		msg: fmt.Sprintf("unknown path %s %s", r.Method, r.URL.Path)}
}

func errModelNotFound(name string) *apiError {
	return &apiError{status: http.StatusNotFound, typ: typeInvalidRequest, param: "model", code: "model_not_found",
		msg: fmt.Sprintf("the model %q does not exist; GET /v1/models lists the models served", name)}
}

func errQueueFull() *apiError {
	return &apiError{status: http.StatusTooManyRequests, typ: typeRateLimit, code: "rate_limit_exceeded", retryAfter: 1,
		msg: "the server is busy: too many requests are waiting; retry later"}
}

func errShuttingDown() *apiError {
	return &apiError{status: http.StatusServiceUnavailable, typ: typeServer, code: "server_shutting_down", retryAfter: 5,
		msg: "the server is shutting down"}
}

func errTimeout(d time.Duration) *apiError {
	return &apiError{status: http.StatusGatewayTimeout, typ: typeServer, code: "timeout",
		msg: fmt.Sprintf("the generation took longer than the server's limit of %s", d)}
}

func errInternal(err error) *apiError {
	return &apiError{status: http.StatusInternalServerError, typ: typeServer, msg: "internal error: " + err.Error()}
}

// writeError answers e.
func writeError(w http.ResponseWriter, e *apiError, timeout time.Duration) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	writeJSON(w, e.status, e.body(), timeout)
}

// writeJSON answers v as JSON with status, within timeout (0: no deadline of its own).
func writeJSON(w http.ResponseWriter, status int, v any, timeout time.Duration) {
	b, err := json.Marshal(v)
	if err != nil { // only plain structs and maps are written: cannot happen
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"message":"internal error: encoding the response","type":"server_error","param":null,"code":null}}`)
	}
	if timeout > 0 {
		// Not every ResponseWriter supports deadlines (httptest.ResponseRecorder does not).
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout))
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// slogErrorLog adapts logger for http.Server's own messages (TLS handshakes, panics).
func slogErrorLog(logger *slog.Logger) *log.Logger {
	return slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
}
