package proxy

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	xff, fwd := Trust{Proxies: trusted}, Trust{Proxies: trusted, Header: "Forwarded"}
	tests := []struct {
		name, peer string
		trust      Trust
		xff        []string
		fwd        string
		want       string
	}{
		{name: "untrusted peer ignores spoofed XFF", peer: "203.0.113.9:5555", xff: []string{"10.1.1.1"}, want: "203.0.113.9"},
		{name: "trusted peer, one hop", peer: "10.0.0.2:1", xff: []string{"198.51.100.7"}, want: "198.51.100.7"},
		{name: "right-most untrusted hop wins over spoofed left hops", peer: "10.0.0.2:1", xff: []string{"1.2.3.4, 198.51.100.7, 10.0.0.3"}, want: "198.51.100.7"},
		{name: "several header lines are one list", peer: "10.0.0.2:1", xff: []string{"1.2.3.4", "198.51.100.8"}, want: "198.51.100.8"},
		{name: "all hops trusted gives left-most trusted", peer: "10.0.0.2:1", xff: []string{"10.9.9.9"}, want: "10.9.9.9"},
		{name: "garbage hop stops the walk", peer: "10.0.0.2:1", xff: []string{"1.2.3.4, nonsense"}, want: "10.0.0.2"},
		{name: "IPv6 peer untrusted", peer: "[2001:db8::1]:443", xff: []string{"1.2.3.4"}, want: "2001:db8::1"},
		{name: "IPv6 trusted proxy chain", peer: "[fd00::1]:443", xff: []string{"2001:db8::5, fd00::2"}, want: "2001:db8::5"},
		{name: "4-in-6 peer is unmapped", peer: "[::ffff:203.0.113.9]:1", want: "203.0.113.9"},
		{name: "Forwarded header from trusted peer", peer: "10.0.0.2:1", trust: fwd, fwd: `for=192.0.2.60;proto=https, for="[2001:db8::9]:4711"`, want: "2001:db8::9"},
		{name: "Forwarded header from untrusted peer ignored", peer: "192.0.2.1:1", trust: fwd, fwd: "for=10.0.0.1", want: "192.0.2.1"},
		{name: "Forwarded proxy: a client's X-Forwarded-For is not a fallback", peer: "10.0.0.2:1", trust: fwd, xff: []string{"10.1.2.3"}, fwd: "for=198.51.100.1", want: "198.51.100.1"},
		{name: "X-Forwarded-For proxy: a client's Forwarded is ignored", peer: "10.0.0.2:1", trust: xff, fwd: "for=10.1.2.3", want: "10.0.0.2"},
		{name: "no header from trusted peer", peer: "10.0.0.2:1", want: "10.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tt.fwd != "" {
				r.Header.Set("Forwarded", tt.fwd)
			}
			trust := tt.trust
			if trust.Proxies == nil {
				trust = xff
			}
			if got := ClientIP(r, trust); got.String() != tt.want {
				t.Fatalf("ClientIP = %s, want %s", got, tt.want)
			}
		})
	}
}
