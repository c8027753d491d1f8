package page

import (
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// reference is the page as one html/template, escaping every value by
// context: AutoPost writes the fields itself and must write the same.
var reference = template.Must(template.New("post").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Signing in…</title></head>
<body><form method="post" action="{{.Action}}">
{{- range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}
<noscript><p>Your browser does not run scripts: press the button to continue.</p><button type="submit">Continue</button></noscript>
</form><script nonce="{{.Nonce}}">document.forms[0].submit()</script></body></html>
`))

func TestAutoPostEscapesAsHTMLTemplate(t *testing.T) {
	awkward := "a+b/c= \"q\" 'a' <x> & \x00 \t\r\n 日本語 \xff\xfe \u2028 \ufdd0 {{.}} </script>"
	for _, fields := range [][]Field{nil, {{"SAMLResponse", "PD94bWw+Cjw/eG1s/Q=="}}, {{"wa", "wsignin1.0"}, {"wresult", awkward}, {awkward, "r"}}} {
		action := "https://app.example/acs?x=1&y=<'\"+>#f"
		w := httptest.NewRecorder()
		AutoPost(w, action, fields)
		csp := w.Header().Get("Content-Security-Policy")
		nonce := csp[strings.Index(csp, "'nonce-")+7:]
		nonce = nonce[:strings.IndexByte(nonce, '\'')]
		var want strings.Builder
		if err := reference.Execute(&want, struct {
			Action, Nonce string
			Fields        []Field
		}{action, nonce, fields}); err != nil {
			t.Fatal(err)
		}
		if got := w.Body.String(); got != want.String() {
			t.Errorf("page differs from html/template's\n got: %s\nwant: %s", got, want.String())
		}
	}
}

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
