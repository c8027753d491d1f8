package oidc

import (
	"maps"
	"net/http"
	"net/url"
	"slices"

	"github.com/fedgate/fedgate/protocols/internal/page"
)

// formPost is the OAuth 2.0 Form Post Response Mode: the browser POSTs the
// response parameters to the client's redirect URI.
func formPost(w http.ResponseWriter, action string, v url.Values) {
	var fields []page.Field
	for _, k := range slices.Sorted(maps.Keys(v)) {
		fields = append(fields, page.Field{Name: k, Value: v.Get(k)})
	}
	page.AutoPost(w, action, fields)
}
