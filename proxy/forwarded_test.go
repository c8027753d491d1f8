package proxy

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// TestSpoofableHeaders: what a client says about its address, scheme, host
// or port reaches the backend only from a trusted proxy; headers naming
// another path or method never do; the backend always gets our
// X-Forwarded-For/Host/Proto.
func TestSpoofableHeaders(t *testing.T) {
	const (
		untrusted = iota // stripped from an untrusted client, kept from a trusted proxy
		always           // stripped from everyone
	)
	headers := []struct {
		name  string
		strip int
	}{
		{"Client-IP", untrusted}, {"X-Client-IP", untrusted}, {"X-Real-IP", untrusted}, {"True-Client-IP", untrusted},
		{"CF-Connecting-IP", untrusted}, {"CF-Connecting-IPv6", untrusted}, {"Fastly-Client-IP", untrusted},
		{"X-Cluster-Client-IP", untrusted}, {"X-Originating-IP", untrusted}, {"X-Remote-IP", untrusted},
		{"X-Remote-Addr", untrusted}, {"X-Azure-ClientIP", untrusted}, {"X-Azure-SocketIP", untrusted},
		{"X-ProxyUser-Ip", untrusted}, {"Proxy-Client-IP", untrusted}, {"WL-Proxy-Client-IP", untrusted},
		{"X-Envoy-External-Address", untrusted}, {"X-Envoy-Internal", untrusted}, {"X-Original-Forwarded-For", untrusted},
		{"X-Forwarded", untrusted}, {"Forwarded-For", untrusted}, {"X-Custom-IP-Authorization", untrusted},
		{"X-Forwarded-Ssl", untrusted}, {"X-Forwarded-Scheme", untrusted}, {"X-Scheme", untrusted},
		{"Front-End-Https", untrusted}, {"X-Url-Scheme", untrusted}, {"X-Forwarded-Protocol", untrusted},
		{"CloudFront-Forwarded-Proto", untrusted}, {"X-Forwarded-Client-Cert", untrusted}, {"X-Client-Cert", untrusted},
		{"X-SSL-Client-Cert", untrusted}, {"SSL-Client-Cert", untrusted}, {"X-SSL-Client-Verify", untrusted},
		{"X-Client-Verify", untrusted}, {"X-Host", untrusted}, {"X-Forwarded-Hostname", untrusted},
		{"X-Forwarded-Server", untrusted}, {"X-Original-Host", untrusted}, {"X-HTTP-Host-Override", untrusted},
		{"X-Forwarded-Port", untrusted}, {"X-Forwarded-Prefix", untrusted},
		{"X-Original-URL", always}, {"X-Rewrite-URL", always}, {"X-Original-URI", always}, {"X-Forwarded-Uri", always},
		{"X-Forwarded-Path", always}, {"X-Envoy-Original-Path", always}, {"X-Original-Method", always},
		{"X-Forwarded-Method", always},
	}
	plain, _ := testProxy(t, dump)
	behind, _ := testProxyTrust(t, dump, Trust{Proxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	for _, h := range headers {
		for _, spelling := range []string{h.name, strings.ToLower(strings.ReplaceAll(h.name, "-", "_"))} {
			t.Run(spelling, func(t *testing.T) {
				req := fmt.Sprintf("GET / HTTP/1.1\r\nHost: app.example\r\n%s: spoofed-value\r\n\r\n", spelling)
				if _, body := raw(t, plain, req); strings.Contains(body, "spoofed-value") {
					t.Errorf("from an untrusted client it reached the backend:\n%s", body)
				}
				_, body := raw(t, behind, req)
				if kept := strings.Contains(body, "spoofed-value"); kept != (h.strip == untrusted) {
					t.Errorf("from a trusted proxy: kept=%v:\n%s", kept, body)
				}
			})
		}
	}
}

// TestForwardedChain: the backend's X-Forwarded-For and -Proto come from the
// header the trusted proxy writes, never from another one it passed through.
func TestForwardedChain(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	spoof := "X-Forwarded-For: 6.6.6.6\r\nX_Forwarded_For: 6.6.6.7\r\nX-Forwarded-Proto: https\r\nX_Forwarded_Host: evil.example\r\n"
	for _, tt := range []struct {
		name  string
		trust Trust
		hdr   string
		want  []string
	}{
		{"untrusted client", Trust{}, spoof + "Forwarded: for=10.1.2.3;proto=https\r\n",
			[]string{"X-Forwarded-For: 127.0.0.1\n", "X-Forwarded-Proto: http\n", "X-Forwarded-Host: app.example\n"}},
		{"trusted X-Forwarded-For", Trust{Proxies: trusted}, "X-Forwarded-For: 10.1.2.3\r\nX-Forwarded-Proto: http, https\r\n",
			[]string{"X-Forwarded-For: 10.1.2.3, 127.0.0.1\n", "X-Forwarded-Proto: https\n"}},
		{"trusted Forwarded", Trust{Proxies: trusted, Header: "Forwarded"}, spoof + "Forwarded: for=10.1.2.3;proto=http\r\n",
			[]string{"X-Forwarded-For: 10.1.2.3, 127.0.0.1\n", "X-Forwarded-Proto: http\n", "X-Forwarded-Host: app.example\n"}},
		{"trusted Forwarded, https", Trust{Proxies: trusted, Header: "Forwarded"}, "Forwarded: for=\"[2001:db8::1]\";proto=https\r\n",
			[]string{"X-Forwarded-For: 2001:db8::1, 127.0.0.1\n", "X-Forwarded-Proto: https\n"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := testProxyTrust(t, dump, tt.trust)
			_, body := raw(t, srv, "GET / HTTP/1.1\r\nHost: app.example\r\n"+tt.hdr+"\r\n")
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("backend lacks %q:\n%s", w, body)
				}
			}
			if strings.Contains(body, "6.6.6") || strings.Contains(body, "evil") || strings.Contains(body, "Forwarded: ") {
				t.Errorf("a passed-through forwarding header reached the backend:\n%s", body)
			}
		})
	}
}

// TestAddrText: X-Forwarded-For names the peer canonically, whether its
// text is borrowed from RemoteAddr or made anew.
func TestAddrText(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.7:5555", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:5555", "192.0.2.7"},
		{"[2001:DB8::1]:443", "2001:db8::1"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"[fe80::1%eth0]:80", "fe80::1"},
		{"192.0.2.7", "192.0.2.7"},
		{"not-an-address:1", "invalid IP"},
		{":1", "invalid IP"},
	} {
		if got := addrText(tc.remote, parseAddr(tc.remote)); got != tc.want {
			t.Errorf("addrText(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}
