package broker

import (
	"encoding/json"
	"net/http"
	"strings"
)

// fail answers with a constant, translated message and the correlation id;
// the detail (err) goes only to the log. Clients that ask for JSON get JSON.
func (b *Server) fail(w http.ResponseWriter, r *http.Request, snap *Snapshot, status int, key string, err error, args ...any) {
	id := requestID(r.Context())
	level := b.Logger.InfoContext
	if status >= 500 {
		level = b.Logger.ErrorContext
	}
	level(r.Context(), "request failed", "status", status, "reason", key, "err", err,
		"path", r.URL.Path, "request_id", id)
	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"error": strings.TrimPrefix(key, "err."), "message": translate("en", key, args...), "correlation_id": id,
		})
		return
	}
	heading := "err.title"
	if status == http.StatusForbidden {
		heading = "err.denied"
	}
	lang := pickLanguage(w, r, snap.sealer.secure)
	b.render(w, r, snap, status, "error", pageData{
		Heading:       translate(lang, heading),
		Message:       translate(lang, key, args...),
		CorrelationID: id,
	})
}

// wantsJSON: API clients that accept JSON and not HTML.
func wantsJSON(r *http.Request) bool {
	a := r.Header.Get("Accept")
	return strings.Contains(a, "application/json") && !strings.Contains(a, "text/html")
}
