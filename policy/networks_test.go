package policy

import (
	"net/netip"
	"testing"
)

func TestNetworks(t *testing.T) {
	runCondCases(t, "", []condCase{
		{name: "ipv4 cidr", when: "networks: [10.0.0.0/8]",
			in: Input{ClientIP: ip("10.20.30.40")}, want: true},
		{name: "ipv4 outside", when: "networks: [10.0.0.0/8]",
			in: Input{ClientIP: ip("203.0.113.9")}, failed: "networks: 203.0.113.9 not in [10.0.0.0/8]"},
		{name: "single address", when: "networks: [192.0.2.7]",
			in: Input{ClientIP: ip("192.0.2.7")}, want: true},
		{name: "single address, neighbour", when: "networks: [192.0.2.7]",
			in: Input{ClientIP: ip("192.0.2.8")}, failed: "networks: 192.0.2.8 not in [192.0.2.7]"},
		{name: "ipv6 cidr", when: `networks: ["2001:db8::/32"]`,
			in: Input{ClientIP: ip("2001:db8:1::5")}, want: true},
		{name: "ipv6 outside", when: `networks: ["2001:db8::/32"]`,
			in: Input{ClientIP: ip("2001:db9::1")}, failed: "networks: 2001:db9::1 not in [2001:db8::/32]"},
		{name: "ipv4-mapped client matches ipv4 cidr", when: "networks: [10.0.0.0/8]",
			in: Input{ClientIP: ip("::ffff:10.1.2.3")}, want: true},
		{name: "ipv4-mapped client outside, shown unmapped", when: "networks: [10.0.0.0/8]",
			in: Input{ClientIP: ip("::ffff:203.0.113.9")}, failed: "networks: 203.0.113.9 not in [10.0.0.0/8]"},
		{name: "ipv4-mapped cidr matches plain ipv4", when: `networks: ["::ffff:10.0.0.0/104"]`,
			in: Input{ClientIP: ip("10.9.9.9")}, want: true},
		{name: "ipv6 client never in ipv4 cidr", when: "networks: [0.0.0.0/0]",
			in: Input{ClientIP: ip("2001:db8::1")}, failed: "networks: 2001:db8::1 not in [0.0.0.0/0]"},
		{name: "zoned client address", when: `networks: ["fe80::/10"]`,
			in: Input{ClientIP: ip("fe80::1%eth0")}, want: true},
		{name: "no client address", when: "networks: [0.0.0.0/0]",
			in: Input{}, failed: "networks: no client IP not in [0.0.0.0/0]"},
	})
}

func TestNamedNetworksAcrossFiles(t *testing.T) {
	set, err := Load([]File{
		{Name: "a.yaml", Data: []byte("policy: a\nrules:\n  - name: office\n    when: { networks: [office, 192.168.0.0/16] }\n    allow: {}\n")},
		{Name: "networks.yaml", Data: []byte("networks:\n  office: [10.0.0.0/8, \"2001:db8::/32\"]\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := set.Policy("a")
	for _, tc := range []struct {
		ip   netip.Addr
		want Effect
	}{
		{ip("10.1.1.1"), Allow},
		{ip("2001:db8::9"), Allow},
		{ip("192.168.3.4"), Allow},
		{ip("172.16.0.1"), Deny},
	} {
		if got := Decide(p, Input{ClientIP: tc.ip}).Effect; got != tc.want {
			t.Errorf("%v: got %v, want %v", tc.ip, got, tc.want)
		}
	}
	d := Explain(p, Input{ClientIP: ip("172.16.0.1")})
	if want := "networks: 172.16.0.1 not in [office, 192.168.0.0/16]"; d.Trace[0].Failed != want {
		t.Errorf("trace %q, want %q", d.Trace[0].Failed, want)
	}
	// Other parts of fedgate (Windows sign-in's intranet) use the names too.
	if office, ok := set.Network("office"); !ok || len(office) != 2 || office[0].String() != "10.0.0.0/8" {
		t.Errorf("Network(office) = %v, %v", office, ok)
	}
	if _, ok := set.Network("home"); ok {
		t.Error("Network(home) of an undefined network")
	}
}
