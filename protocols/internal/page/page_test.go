package page

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAutoPost(t *testing.T) {
	w := httptest.NewRecorder()
	AutoPost(w, "https://app.example/acs?x=1", []Field{{"SAMLResponse", `"><script>alert(1)</script>`}, {"RelayState", "r"}})
	body, csp := w.Body.String(), w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "form-action https://app.example;") || !strings.Contains(csp, "script-src 'nonce-") {
		t.Fatalf("CSP %q", csp)
	}
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, `action="https://app.example/acs?x=1"`) {
		t.Fatalf("fields must be escaped, action kept:\n%s", body)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Fatal("auto-POST pages carry tokens: no-store")
	}
	for _, bad := range []string{"javascript:alert(1)", "/relative", "::"} {
		w := httptest.NewRecorder()
		AutoPost(w, bad, nil)
		if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "<form") {
			t.Errorf("%q: %d %s", bad, w.Code, w.Body)
		}
	}
}

func TestErrorCarriesCorrelationID(t *testing.T) {
	w := httptest.NewRecorder()
	w.Header().Set("X-Request-Id", "req-123")
	Error(w, http.StatusBadRequest, "Bad request.")
	if w.Code != 400 || strings.Count(w.Body.String(), "req-123") != 2 || !strings.Contains(w.Body.String(), "Bad request.") ||
		!strings.Contains(w.Body.String(), "アプリケーションの管理者") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}
