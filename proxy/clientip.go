// Package proxy puts apps without SSO behind fedgate. It imports nothing of
// fedgate's own: what it needs from the broker it declares as interfaces.
package proxy

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Trust says whose forwarding headers to believe, and which header they
// write: "X-Forwarded-For" (the default) or "Forwarded" (RFC 7239). Only
// that one header is read, never the other as a fallback: a trusted proxy
// that writes one passes a client's copy of the other through untouched.
type Trust struct {
	Proxies []netip.Prefix
	Header  string
}

// ClientIP is the address network policy must use: the TCP peer, unless that
// peer is a trusted proxy; then the right-most hop of the trusted header that
// is not itself a trusted proxy. Hops left of an untrusted one are
// attacker-chosen and never used.
func ClientIP(r *http.Request, t Trust) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if !peer.IsValid() || !isTrusted(peer, t.Proxies) {
		return peer
	}
	trusted := t.Proxies
	hops := forwardedHops(r.Header, t.Header)
	for i := len(hops) - 1; i >= 0; i-- {
		a := parseAddr(hops[i])
		if !a.IsValid() {
			// Garbage in the chain: stop at the last address we can vouch for.
			return peer
		}
		if !isTrusted(a, trusted) {
			return a
		}
		peer = a
	}
	return peer
}

func forwardedHops(h http.Header, header string) []string {
	var hops []string
	if !strings.EqualFold(header, "Forwarded") {
		for _, line := range h.Values("X-Forwarded-For") {
			for _, hop := range strings.Split(line, ",") {
				hops = append(hops, strings.TrimSpace(hop))
			}
		}
		return hops
	}
	for _, line := range h.Values("Forwarded") {
		for _, elem := range strings.Split(line, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					hops = append(hops, strings.Trim(v, `"`))
				}
			}
		}
	}
	return hops
}

// forwardedProto is the scheme the trusted header's writer saw: the last
// X-Forwarded-Proto, or the proto of the last Forwarded element.
func forwardedProto(h http.Header, header string) string {
	if !strings.EqualFold(header, "Forwarded") {
		vs := h.Values("X-Forwarded-Proto")
		if len(vs) == 0 {
			return ""
		}
		last := vs[len(vs)-1]
		return strings.TrimSpace(last[strings.LastIndex(last, ",")+1:])
	}
	vs := h.Values("Forwarded")
	if len(vs) == 0 {
		return ""
	}
	elems := strings.Split(vs[len(vs)-1], ",")
	for _, pair := range strings.Split(elems[len(elems)-1], ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(pair), "="); ok && strings.EqualFold(k, "proto") {
			return strings.ToLower(strings.Trim(v, `"`))
		}
	}
	return ""
}

// parseAddr accepts "ip", "ip:port", "[v6]:port" and "[v6]"; 4-in-6 is unmapped
// so policy CIDRs written as IPv4 match.
func parseAddr(s string) netip.Addr {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// FromProxy reports whether r's TCP peer is a trusted proxy: only then may
// headers it sets on the client's behalf be believed.
func (t Trust) FromProxy(r *http.Request) bool {
	peer := parseAddr(r.RemoteAddr)
	return peer.IsValid() && isTrusted(peer, t.Proxies)
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
