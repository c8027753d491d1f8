package oidc

import (
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
)

// form_post (OAuth 2.0 Form Post Response Mode): the browser POSTs the
// response to the client. The page overrides the broker's CSP: its one
// script is allowed by a per-response nonce, and form-action allows only
// the redirect URI's origin. Without JavaScript, a button does the same.

var formPostPage = template.Must(template.New("form_post").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Signing in…</title></head>
<body><form method="post" action="{{.Action}}">
{{- range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}
<noscript><p>Your browser does not run scripts: press the button to continue.</p><button type="submit">Continue</button></noscript>
</form><script nonce="{{.Nonce}}">document.forms[0].submit()</script></body></html>
`))

type formField struct{ Name, Value string }

func formPost(w http.ResponseWriter, action string, v url.Values) {
	u, err := url.Parse(action)
	if err != nil { // registered URIs were validated; never expected
		http.Error(w, "bad redirect_uri", http.StatusInternalServerError)
		return
	}
	nonce := randomID()
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; form-action "+
		u.Scheme+"://"+u.Host+"; frame-ancestors 'none'; base-uri 'none'")
	var fields []formField
	for _, k := range slices.Sorted(maps.Keys(v)) {
		fields = append(fields, formField{k, v.Get(k)})
	}
	_ = formPostPage.Execute(w, struct {
		Action, Nonce string
		Fields        []formField
	}{action, nonce, fields})
}
