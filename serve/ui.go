package serve

import (
	"embed"
	"net/http"
	"strconv"
)

// The chat page: plain HTML, CSS and JavaScript, embedded in the binary.
//
//go:embed ui/index.html ui/app.js ui/style.css
var uiFiles embed.FS

// pageFiles maps the page's paths to the embedded files and their types; nothing else is
// served.
var pageFiles = map[string]struct{ file, typ string }{
	"/":          {"ui/index.html", "text/html; charset=utf-8"},
	"/app.js":    {"ui/app.js", "text/javascript; charset=utf-8"},
	"/style.css": {"ui/style.css", "text/css; charset=utf-8"},
}

// servePage answers the page's files, and 404 for every other path.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	f, ok := pageFiles[r.URL.Path]
	if !ok {
		writeError(w, errNotFound(r), s.cfg.WriteTimeout)
		return
	}
	if !methodIs(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	b, err := uiFiles.ReadFile(f.file)
	if err != nil { // the files are embedded: cannot happen
		writeError(w, errInternal(err), s.cfg.WriteTimeout)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.typ)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}
