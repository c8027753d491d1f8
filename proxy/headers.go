package proxy

import (
	"mime"
	"net/http"
	"strings"
)

// headerKey folds a header name the way lenient backends and CGI gateways
// do: case-insensitive, with "_" and "-" the same. X_Remote_User and
// x-remote-user are then both X-Remote-User.
func headerKey(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// stripIdentity removes every incoming header that folds to one of names.
func stripIdentity(h http.Header, names []string) {
	if len(names) == 0 {
		return
	}
	drop := make(map[string]bool, len(names))
	for _, n := range names {
		drop[headerKey(n)] = true
	}
	for k := range h {
		if drop[headerKey(k)] {
			delete(h, k)
		}
	}
}

// EncodeValue makes an identity value safe for a header: printable ASCII
// goes as is; anything else (Japanese names, control characters) as an
// RFC 2047 encoded word, which never contains CR or LF.
func EncodeValue(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			return mime.BEncoding.Encode("UTF-8", v)
		}
	}
	return v
}

// stripCookies removes fedgate's own cookies from the Cookie header(s).
func stripCookies(h http.Header, strip func(string) bool) {
	lines := h.Values("Cookie")
	if len(lines) == 0 {
		return
	}
	var kept []string
	for _, line := range lines {
		for _, c := range strings.Split(line, ";") {
			c = strings.TrimSpace(c)
			name, _, _ := strings.Cut(c, "=")
			if c != "" && !strip(strings.TrimSpace(name)) {
				kept = append(kept, c)
			}
		}
	}
	h.Del("Cookie")
	if len(kept) > 0 {
		h.Set("Cookie", strings.Join(kept, "; "))
	}
}
