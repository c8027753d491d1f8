package policy

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

// FuzzLoad feeds arbitrary bytes to Load: it must never panic, must return
// either a Set or *Problem errors, and any Set it returns must decide
// without panicking.
func FuzzLoad(f *testing.F) {
	files, _ := loadExamples(f)
	for _, file := range files {
		f.Add(file.Data)
	}
	f.Add([]byte(stepUpSrc))
	f.Add([]byte("policy: a\nrules:\n  - name: r\n    when: { time: { hours: \"22:00-06:00\", weekdays: [fri], dates: [{from: 2026-12-28, to: 2027-01-03}] } }\n    allow: {}\n"))
	f.Add([]byte("policy: a\nrules:\n  - name: r\n    when: { any: [{ not: { claims: { x: { regex: 'a+' } } } }], all: [{ auth: { amr: [mfa], max_age: 1h } }] }\n    deny: {}\n"))
	f.Add([]byte("networks: { a: [\"::ffff:10.0.0.0/104\"] }\n"))
	f.Add([]byte("- &a [*a]\n"))
	now := time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC)
	in := Input{
		App: "wiki", User: "Alice", Upstream: "corp-adfs", Groups: []string{"Staff", "admins"},
		Claims: map[string]string{"tid": "x", "x": "aaa"}, AMR: []string{"pwd", "mfa"},
		AuthTime: now.Add(-time.Hour), ClientIP: ip("::ffff:10.1.2.3"), Now: now,
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := Load([]File{{Name: "fuzz.yaml", Data: data}})
		if (set == nil) == (err == nil) {
			t.Fatalf("Load returned set %v and error %v", set, err)
		}
		if err != nil {
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var p *Problem
				if !errors.As(e, &p) || p.Msg == "" {
					t.Fatalf("not a *Problem with a message: %#v", e)
				}
			}
			return
		}
		for _, name := range set.Names() {
			p, _ := set.Policy(name)
			d := Explain(p, in)
			if d.Effect == Allow && d.Rule == "" {
				t.Fatalf("allowed without a rule: %+v", d)
			}
			if len(d.Trace) > len(p.rules) {
				t.Fatalf("trace longer than the rules: %+v", d.Trace)
			}
		}
	})
}

// FuzzRequiresMFA checks that RequiresMFA is sound: when it says every way
// to be allowed needs MFA, no identity without MFA is allowed, whoever the
// user, groups, claims and auth time turn out to be.
func FuzzRequiresMFA(f *testing.F) {
	files, _ := loadExamples(f)
	for _, file := range files {
		f.Add(file.Data, "alice", "staff", "t1", uint32(0x0a010203), int64(0))
	}
	f.Add([]byte(stepUpSrc), "bob", "staff", "", uint32(0xcb007109), int64(3600))
	f.Add([]byte("policy: a\nrules:\n  - name: r\n    when: { any: [{ not: { networks: [10.0.0.0/8], groups: [x] } }, { time: { weekdays: [sat] } }] }\n    allow: { mfa: { methods: [otp] } }\n  - name: s\n    when: { auth: { max_age: 1h } }\n    allow: {}\n"),
		"eve", "x", "a", uint32(0x0a000001), int64(5*86400))
	base := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC) // a Monday
	f.Fuzz(func(t *testing.T, data []byte, user, group, claim string, addr uint32, secs int64) {
		set, err := Load([]File{{Name: "fuzz.yaml", Data: data}})
		if err != nil {
			return
		}
		now := base.Add(time.Duration(secs%(7*86400)) * time.Second)
		in := Input{App: "wiki", Upstream: "corp-adfs",
			ClientIP: netip.AddrFrom4([4]byte{byte(addr >> 24), byte(addr >> 16), byte(addr >> 8), byte(addr)}), Now: now}
		for _, name := range set.Names() {
			p, _ := set.Policy(name)
			req := RequiresMFA(p, in)
			if req == nil {
				continue
			}
			if len(req.Methods) == 0 {
				t.Fatalf("requirement without methods: %+v", req)
			}
			for _, groups := range [][]string{nil, {group}, {group, "staff", "admins"}} {
				id := in
				id.User, id.Groups, id.Claims, id.AuthTime = user, groups, map[string]string{"tid": claim, "x": claim}, now
				if d := Decide(p, id); d.Effect == Allow {
					t.Fatalf("RequiresMFA said %+v, but %+v is allowed without MFA by rule %q", req, id, d.Rule)
				}
			}
		}
	})
}

// FuzzDecide feeds the example policies identities as upstreams and clients
// send them (any user, groups, claim values, methods, address and time):
// Decide never panics, agrees with Explain, and allows only through a rule.
func FuzzDecide(f *testing.F) {
	_, set := loadExamples(f)
	f.Add("alice", "staff", "tid-1", "mfa", []byte{10, 1, 2, 3}, int64(0), int64(3600))
	f.Add("", "", "", "", []byte{}, int64(-1), int64(-1<<62))
	f.Add("ＡＬＩＣＥ", "admins\x00", "a\nb", "pwd", []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, int64(1<<40), int64(86400*400))
	base := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, user, group, claim, amr string, addr []byte, secs, age int64) {
		ip, _ := netip.AddrFromSlice(addr)
		now := base.Add(time.Duration(secs))
		in := Input{App: "wiki", User: user, Upstream: "corp-adfs", Groups: []string{group, "staff"},
			Claims: map[string]string{"tid": claim, "x": claim}, AMR: []string{amr},
			AuthTime: now.Add(-time.Duration(age)), ClientIP: ip, Now: now}
		for _, name := range set.Names() {
			p, _ := set.Policy(name)
			d, x := Decide(p, in), Explain(p, in)
			if d.Effect != x.Effect || d.Rule != x.Rule {
				t.Fatalf("%s: Decide %v/%q, Explain %v/%q", name, d.Effect, d.Rule, x.Effect, x.Rule)
			}
			if d.Effect == Allow && d.Rule == "" {
				t.Fatalf("%s: allowed without a rule: %+v", name, d)
			}
		}
	})
}
