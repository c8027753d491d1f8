package proxy

import (
	"encoding/json"
	"html/template"
	"mime"
	"net/http"
	"sort"
	"strings"
)

// EchoHandler is a diagnostic backend (`to: builtin:echo`): it shows the
// request exactly as a backend behind fedgate receives it — the identity
// headers above all. It stands in for a legacy app in the quickstart and
// when checking a header mapping.
func EchoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		type header struct{ Name, Value, Decoded string }
		var hs []header
		for k, vs := range r.Header {
			for _, v := range vs {
				d, err := new(mime.WordDecoder).DecodeHeader(v)
				if err != nil || d == v {
					d = ""
				}
				hs = append(hs, header{k, v, d})
			}
		}
		sort.Slice(hs, func(i, j int) bool { return hs[i].Name < hs[j].Name })
		w.Header().Set("Cache-Control", "no-store")
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "host": r.Host, "uri": r.RequestURI, "headers": r.Header})
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		_ = echoPage.Execute(w, map[string]any{"Method": r.Method, "Host": r.Host, "URI": r.RequestURI, "Headers": hs})
	})
}

var echoPage = template.Must(template.New("echo").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Echo backend</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem}td,th{padding:.2rem .6rem;text-align:left;vertical-align:top}tr:nth-child(odd){background:#f3f5f8}code{word-break:break-all}</style></head>
<body><main><h1>Echo backend</h1>
<p>This page is the backend behind fedgate. It shows the request it received: <code id="request">{{.Method}} {{.Host}}{{.URI}}</code></p>
<p><a href="/.fedgate/signout" id="signout">Sign out</a></p>
<table><thead><tr><th scope="col">Header</th><th scope="col">Value</th></tr></thead><tbody>
{{range .Headers}}<tr><th scope="row">{{.Name}}</th><td><code data-header="{{.Name}}">{{.Value}}</code>{{with .Decoded}} <span data-decoded="{{$.Host}}">({{.}})</span>{{end}}</td></tr>
{{end}}</tbody></table></main></body></html>`))
