package proxy

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"
)

// headerNames is a set of header names as lenient backends and CGI
// gateways read them: case-insensitive, with "_" and "-" the same, so
// X_Remote_User and x-remote-user are both X-Remote-User.
type headerNames map[string]struct{}

func newHeaderNames(lists ...[]string) headerNames {
	n := headerNames{}
	for _, l := range lists {
		for _, name := range l {
			b := []byte(name)
			foldName(b, name)
			n[string(b)] = struct{}{}
		}
	}
	return n
}

// has reports whether k is in the set. (No allocation for names up to 64
// bytes: it runs for every header of every proxied request.)
func (n headerNames) has(k string) bool {
	var buf [64]byte
	var b []byte
	if len(k) <= len(buf) {
		b = buf[:len(k)]
	} else {
		b = make([]byte, len(k))
	}
	foldName(b, k)
	_, ok := n[string(b)]
	return ok
}

// strip removes every header of h that is in the set, in any spelling.
func (n headerNames) strip(h http.Header) {
	for k := range h {
		if n.has(k) {
			delete(h, k)
		}
	}
}

func foldName(dst []byte, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '_':
			dst[i] = '-'
		case 'A' <= c && c <= 'Z':
			dst[i] = c + 'a' - 'A'
		default:
			dst[i] = c
		}
	}
}

// identitySets gives each route the identity headers to remove from what
// clients send: those of every route linked to it by a shared host or a
// shared backend host, transitively (a header one route injects means
// something to its backend whichever route a client comes in by), plus
// every assertion header.
func identitySets(routes []*Route) map[*Route]headerNames {
	group := make([]int, len(routes)) // union-find over route indexes
	for i := range group {
		group[i] = i
	}
	find := func(i int) int {
		for group[i] != i {
			group[i] = group[group[i]]
			i = group[i]
		}
		return i
	}
	first := map[string]int{} // "host x" or "backend y" → a route with it
	var assertions []string
	for i, r := range routes {
		keys := []string{"host " + hostKey(r.Host)}
		for _, t := range r.Targets {
			keys = append(keys, "backend "+hostKey(t.Host))
		}
		for _, k := range keys {
			if j, ok := first[k]; ok {
				group[find(i)] = find(j)
			} else {
				first[k] = i
			}
		}
		if r.AssertionHeader != "" {
			assertions = append(assertions, r.AssertionHeader)
		}
	}
	names := map[int][]string{}
	for i, r := range routes {
		names[find(i)] = append(names[find(i)], r.IdentityHeaders...)
	}
	sets := map[int]headerNames{}
	out := make(map[*Route]headerNames, len(routes))
	for i, r := range routes {
		root := find(i)
		if sets[root] == nil {
			sets[root] = newHeaderNames(names[root], assertions)
		}
		out[r] = sets[root]
	}
	return out
}

// hostKey is a host name without port, case or trailing dot: backends on
// one machine behind two ports may well be one app.
func hostKey(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
}

// forwardingHeaders are the proxy's own: the client's copies never pass.
var forwardingHeaders = []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded"}

// rewriteHeaders name another path or method than the request line's, and
// IIS, Symfony, Laravel and others route on them: the route and policy were
// chosen by the request line, so no sender, trusted proxy or not, may
// change what the backend serves.
var rewriteHeaders = []string{
	"X-Original-Url", "X-Rewrite-Url", "X-Original-Uri", "X-Forwarded-Uri", "X-Forwarded-Path",
	"X-Envoy-Original-Path", "X-Original-Method", "X-Forwarded-Method",
}

// spoofableHeaders tell a backend the client's address, TLS state, scheme,
// host, port or mount prefix, and some backends believe them. Only a
// trusted proxy's copies pass; the backend gets X-Forwarded-* from us.
var spoofableHeaders = []string{
	// client address
	"Client-Ip", "X-Client-Ip", "X-Real-Ip", "True-Client-Ip", "Cf-Connecting-Ip", "Cf-Connecting-Ipv6",
	"Fastly-Client-Ip", "X-Cluster-Client-Ip", "X-Originating-Ip", "X-Remote-Ip", "X-Remote-Addr",
	"X-Azure-ClientIP", "X-Azure-SocketIP", "X-ProxyUser-Ip", "Proxy-Client-Ip", "Wl-Proxy-Client-Ip",
	"X-Envoy-External-Address", "X-Envoy-Internal", "X-Original-Forwarded-For", "X-Forwarded", "Forwarded-For",
	"X-Custom-Ip-Authorization",
	// scheme and TLS
	"X-Forwarded-Ssl", "X-Forwarded-Scheme", "X-Scheme", "Front-End-Https", "X-Url-Scheme", "X-Forwarded-Protocol",
	"Cloudfront-Forwarded-Proto", "X-Forwarded-Client-Cert", "X-Client-Cert", "X-Ssl-Client-Cert",
	"Ssl-Client-Cert", "X-Ssl-Client-Verify", "X-Client-Verify",
	// host, port, prefix
	"X-Host", "X-Forwarded-Hostname", "X-Forwarded-Server", "X-Original-Host", "X-Http-Host-Override",
	"X-Forwarded-Port", "X-Forwarded-Prefix",
}

// What setForwarded removes from a request, as one set per kind of sender:
// each header name is folded and looked up once, not once per list.
var (
	notFromTrusted   = newHeaderNames(forwardingHeaders, rewriteHeaders)
	notFromUntrusted = newHeaderNames(forwardingHeaders, rewriteHeaders, spoofableHeaders)
)

// EncodeValue makes an identity value safe and unambiguous in a header:
// printable ASCII goes as is; anything else goes as RFC 2047 encoded words
// ("=?UTF-8?b?...?=", never CR or LF): Japanese names, control characters,
// white space at either end (which header parsers trim), and values that
// contain "=?" (a name "=?utf-8?q?admin?=" must not decode to "admin").
func EncodeValue(v string) string {
	if v != "" && (v[0] == ' ' || v[len(v)-1] == ' ' || strings.Contains(v, "=?")) {
		return bEncode(v)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			return bEncode(v)
		}
	}
	return v
}

// bEncode is v as "B" encoded words of at most 75 characters, split
// between runes, as mime.BEncoding does (which leaves ASCII as is).
func bEncode(v string) string {
	const maxBytes = 45 // 60 base64 characters + "=?UTF-8?b?" + "?="
	var b strings.Builder
	for v != "" {
		n := 0
		for n < len(v) {
			_, size := utf8.DecodeRuneInString(v[n:])
			if n > 0 && n+size > maxBytes {
				break
			}
			n += size
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("=?UTF-8?b?" + base64.StdEncoding.EncodeToString([]byte(v[:n])) + "?=")
		v = v[n:]
	}
	return b.String()
}

// EncodeList joins items with sep so that no item can pass for two, or two
// for one: inside each item, "%" and every character of sep are
// percent-encoded (their UTF-8 bytes, "%2C" for ","). A backend splits on
// sep, then percent-decodes each item. sep must not contain "%".
func EncodeList(items []string, sep string) string {
	var b strings.Builder
	n := len(sep) * len(items)
	for _, it := range items {
		n += len(it)
	}
	b.Grow(n)
	for i, it := range items {
		if i > 0 {
			b.WriteString(sep)
		}
		for j := 0; j < len(it); {
			_, n := utf8.DecodeRuneInString(it[j:])
			c := it[j : j+n] // one character, or one byte that is not UTF-8
			j += n
			if c != "%" && !strings.Contains(sep, c) {
				b.WriteString(c)
				continue
			}
			for k := 0; k < len(c); k++ {
				fmt.Fprintf(&b, "%%%02X", c[k])
			}
		}
	}
	return b.String()
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
	// Built in one buffer, without splitting: this runs on every request
	// that carries fedgate's app cookie.
	var kept strings.Builder
	for _, line := range lines {
		for line != "" {
			var c string
			c, line, _ = strings.Cut(line, ";")
			c = strings.TrimSpace(c)
			name, _, _ := strings.Cut(c, "=")
			if c != "" && !strip(strings.TrimSpace(name)) {
				if kept.Len() > 0 {
					kept.WriteString("; ")
				}
				kept.WriteString(c)
			}
		}
	}
	if kept.Len() == 0 {
		delete(h, "Cookie")
		return
	}
	// The one value goes in the slice the lines were in: h is the request's
	// own (callers pass a clone or a header of their own).
	h["Cookie"] = append(lines[:0], kept.String())
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
	out := http.Header{"Cookie": slices.Clone(h.Values("Cookie"))}
	stripCookies(out, strip)
	return out.Get("Cookie")
}
