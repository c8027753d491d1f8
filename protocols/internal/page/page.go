// Package page writes the few pages a protocol answers with itself: the
// auto-submitting form that posts a response to an app (OIDC form_post,
// SAML HTTP-POST, WS-Fed RSTR) and the plain error page shown when
// fedgate must not send the browser back to the app.
package page

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// The page around its fields. The fields go between the two halves
// written by attrEscaper: html/template's escaping of a field value (a
// SAML Response is some 10 KB of base64) cost more than the rest of the
// page; the action URL stays with html/template.
var (
	autoPostHead = template.Must(template.New("head").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Signing in…</title></head>
<body><form method="post" action="{{.Action}}">`))
	// The nonce is base64url, which html/template would write unchanged.
	autoPostTail = [2]string{`
<noscript><p>Your browser does not run scripts: press the button to continue.</p><button type="submit">Continue</button></noscript>
</form><script nonce="`, `">document.forms[0].submit()</script></body></html>
`}
)

// attrEscaper escapes a quoted attribute value as html/template does
// (its htmlReplacementTable, '+' included), byte for byte; page_test.go
// compares the page with the one template it replaces.
var attrEscaper = strings.NewReplacer("\x00", "\uFFFD", `"`, "&#34;", "&", "&amp;", "'", "&#39;", "+", "&#43;", "<", "&lt;", ">", "&gt;")

// Field is one hidden input of an auto-POST form.
type Field struct{ Name, Value string }

// AutoPost answers with a form that posts fields to action, a URL the app
// registered. The page overrides the broker's CSP: form-action allows only
// action's origin, and its one script runs by a per-response nonce.
// Without JavaScript, a button does the same.
func AutoPost(w http.ResponseWriter, action string, fields []Field) {
	u, err := url.Parse(action)
	if err != nil || u.Scheme == "" || u.Host == "" { // registered URLs are validated; never expected
		Error(w, http.StatusInternalServerError, "The application's registered address is not usable.")
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	nonce := base64.RawURLEncoding.EncodeToString(b)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; form-action "+
		u.Scheme+"://"+u.Host+"; frame-ancestors 'none'; base-uri 'none'")
	_ = autoPostHead.Execute(w, struct{ Action string }{action})
	for _, f := range fields {
		_, _ = io.WriteString(w, `<input type="hidden" name="`)
		_, _ = attrEscaper.WriteString(w, f.Name)
		_, _ = io.WriteString(w, `" value="`)
		_, _ = attrEscaper.WriteString(w, f.Value)
		_, _ = io.WriteString(w, `">`)
	}
	_, _ = io.WriteString(w, autoPostTail[0])
	_, _ = io.WriteString(w, nonce)
	_, _ = io.WriteString(w, autoPostTail[1])
}

// Error is a plain error page with the correlation id the broker put on
// the response, for the user to quote to the app's administrator. It has
// no request to choose a language by, so it says the essentials in
// Japanese too; msg is the English detail.
func Error(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	id := h.Get("X-Request-Id")
	fmt.Fprintf(w, "サインインを完了できませんでした。繰り返し起きる場合は、次の ID を添えてアプリケーションの管理者にお問い合わせください: %s\n\n"+
		"%s\n\nIf this keeps happening, tell the application's administrator, quoting this id: %s\n", id, msg, id)
}
