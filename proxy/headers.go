package proxy

import (
	"mime"
	"net/http"
	"strings"
)

// sameHeader compares header names the way lenient backends and CGI
// gateways read them: case-insensitive, with "_" and "-" the same, so
// X_Remote_User and x-remote-user are both X-Remote-User. (No allocation:
// it runs for every header of every proxied request.)
func sameHeader(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := foldByte(a[i]), foldByte(b[i])
		if x != y {
			return false
		}
	}
	return true
}

func foldByte(c byte) byte {
	switch {
	case c == '_':
		return '-'
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	}
	return c
}

// stripIdentity removes every incoming header that folds to one of names.
func stripIdentity(h http.Header, names []string) {
	for k := range h {
		for _, n := range names {
			if sameHeader(k, n) {
				delete(h, k)
				break
			}
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
	if len(lines) == 1 && !hasCookieToStrip(lines[0], strip) {
		return // the common case for a backend's own traffic: leave it as is
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

func hasCookieToStrip(line string, strip func(string) bool) bool {
	for line != "" {
		var c string
		c, line, _ = strings.Cut(line, ";")
		name, _, _ := strings.Cut(strings.TrimSpace(c), "=")
		if strip(strings.TrimSpace(name)) {
			return true
		}
	}
	return false
}

// KeptCookies is the Cookie header a backend receives: the request's cookies
// without those strip reports. Forward-auth hands it to the reverse proxy in
// front, which cannot take one cookie out of a header reliably itself.
func KeptCookies(h http.Header, strip func(string) bool) string {
	out := http.Header{"Cookie": h.Values("Cookie")}
	stripCookies(out, strip)
	return out.Get("Cookie")
}
