package policy

import (
	"reflect"
	"testing"
	"time"
)

func TestRequiresMFA(t *testing.T) {
	// 2026-03-10 is a Tuesday; 03:00Z is 12:00 in Tokyo.
	weekday, sunday := tm(t, "2026-03-10T03:00:00Z"), tm(t, "2026-03-15T03:00:00Z")
	office, remote := ip("10.1.2.3"), ip("203.0.113.9")
	pre := func(addr string, now time.Time) Input {
		return Input{App: "wiki", Upstream: "corp-adfs", ClientIP: ip(addr), Now: now}
	}
	in := pre("203.0.113.9", weekday)
	mfa := &MFARequirement{Methods: []string{"mfa"}}
	staffMFA := &MFARequirement{Methods: []string{"mfa", "otp", "hwk"}, MaxAge: 12 * time.Hour}
	rules := func(r ...string) string { return "policy: p\ntimezone: Asia/Tokyo\nrules:\n" + lines(r...) }
	const (
		allowAll  = "  - { name: all, allow: {} }"
		mfaAll    = "  - { name: all mfa, allow: { mfa: {} } }"
		denyADFS  = "  - { name: not via adfs, when: { upstreams: [corp-adfs] }, deny: {} }"
		officeNet = "  - { name: office, when: { networks: [10.0.0.0/8] }, allow: {} }"
		staffRule = "  - { name: staff, when: { groups: [staff] }, allow: { mfa: { methods: [mfa, otp, hwk], max_age: 12h } } }"
	)
	tests := []struct {
		name string
		src  string
		in   Input
		want *MFARequirement
	}{
		{"every allow needs mfa", rules(staffRule,
			"  - { name: guests, when: { groups: [guests] }, allow: { mfa: { methods: [mfa, otp, hwk], max_age: 12h } } }"),
			in, staffMFA},
		{"office network needs none, from the office", stepUpSrc, Input{ClientIP: office, Now: weekday}, nil},
		// staff accept [mfa otp hwk] for 12h, guests [mfa] for any time.
		{"office network needs none, from outside", stepUpSrc, Input{ClientIP: remote, Now: weekday},
			&MFARequirement{Methods: []string{"mfa"}, MaxAge: 12 * time.Hour}},
		{"no client address is not the office", stepUpSrc, Input{Now: weekday},
			&MFARequirement{Methods: []string{"mfa"}, MaxAge: 12 * time.Hour}},
		{"a group may allow without mfa", rules(
			"  - { name: admins, when: { groups: [admins] }, allow: {} }", mfaAll), in, nil},
		{"a user may allow without mfa", rules(
			"  - { name: svc, when: { users: [svc] }, allow: {} }", mfaAll), in, nil},
		{"a claim may allow without mfa", rules(
			"  - { name: tenant, when: { claims: { tid: t1 } }, allow: {} }", mfaAll), in, nil},
		{"auth is about the identity: unknown", rules(
			"  - { name: mfa users, when: { auth: { amr: [mfa] } }, allow: {} }", mfaAll), in, nil},
		{"an unknown deny does not end the walk", rules(
			"  - { name: blocked, when: { groups: [blocked] }, deny: {} }", allowAll), in, nil},
		{"an unknown deny before mfa", rules(
			"  - { name: blocked, when: { groups: [blocked] }, deny: {} }", mfaAll), in, mfa},
		{"a certain deny ends the walk", rules(staffRule, denyADFS, allowAll), in, staffMFA},
		{"a certain deny first: nothing to ask", rules(denyADFS, allowAll), in, nil},
		{"only denies: nothing to ask", rules(
			"  - { name: blocked, when: { groups: [blocked] }, deny: {} }"), in, nil},
		{"no rules", "policy: p\n", in, nil},
		{"a certain mfa rule ends the walk", rules(
			"  - { name: adfs, when: { upstreams: [corp-adfs] }, allow: { mfa: {} } }", allowAll), in, mfa},
		{"rules that cannot hold are skipped", rules(
			"  - { name: office deny, when: { networks: [10.0.0.0/8] }, deny: {} }", officeNet, mfaAll), in, mfa},
		{"not of the office, from outside", rules(
			"  - { name: remote, when: { not: { networks: [10.0.0.0/8] } }, allow: { mfa: {} } }", allowAll), in, mfa},
		{"not of the office, from the office", rules(
			"  - { name: remote, when: { not: { networks: [10.0.0.0/8] } }, allow: { mfa: {} } }", allowAll),
			pre("10.9.9.9", weekday), nil},
		{"not of a group is unknown", rules(
			"  - { name: employees, when: { not: { groups: [contractors] } }, allow: {} }", mfaAll), in, nil},
		{"not of a group outside the office holds", rules(
			"  - { name: x, when: { not: { groups: [contractors], networks: [10.0.0.0/8] } }, allow: { mfa: {} } }", allowAll),
			in, mfa},
		{"any: the office alternative holds", rules(
			"  - { name: x, when: { any: [{ networks: [10.0.0.0/8] }, { groups: [admins] }] }, allow: {} }", mfaAll),
			pre("10.9.9.9", weekday), nil},
		{"any: a group alternative is unknown", rules(
			"  - { name: x, when: { any: [{ networks: [10.0.0.0/8] }, { groups: [admins] }] }, allow: {} }", mfaAll), in, nil},
		{"any: no alternative holds", rules(
			"  - { name: x, when: { any: [{ networks: [10.0.0.0/8] }, { time: { weekdays: [sat, sun] } }] }, allow: {} }", mfaAll),
			in, mfa},
		{"all: one part fails", rules(
			"  - { name: x, when: { all: [{ groups: [staff] }, { networks: [10.0.0.0/8] }] }, allow: {} }", mfaAll), in, mfa},
		{"office hours need none, on a weekday", rules(
			"  - { name: hours, when: { time: { weekdays: [mon, tue, wed, thu, fri], hours: \"08:00-20:00\" } }, allow: {} }", mfaAll),
			in, nil},
		{"office hours need none, on sunday", rules(
			"  - { name: hours, when: { time: { weekdays: [mon, tue, wed, thu, fri], hours: \"08:00-20:00\" } }, allow: {} }", mfaAll),
			pre("203.0.113.9", sunday), mfa},
		{"windows sign-in needs none, sent to adfs", rules(
			"  - { name: kerberos, when: { upstreams: [corp-windows] }, allow: {} }", mfaAll), in, mfa},
		{"windows sign-in needs none, sent to windows", rules(
			"  - { name: kerberos, when: { upstreams: [corp-windows] }, allow: {} }", mfaAll),
			Input{App: "wiki", Upstream: "corp-windows", ClientIP: remote, Now: weekday}, nil},
		{"another app's exception", rules(
			"  - { name: hr, when: { apps: [hr] }, allow: {} }", mfaAll), in, mfa},
		{"methods both accept, and the shorter max_age", rules(
			"  - { name: staff, when: { groups: [staff] }, allow: { mfa: { methods: [mfa, otp, hwk] } } }",
			"  - { name: admins, when: { groups: [admins] }, allow: { mfa: { methods: [hwk, otp], max_age: 1h } } }"),
			in, &MFARequirement{Methods: []string{"otp", "hwk"}, MaxAge: time.Hour}},
		{"methods in common: none, so the first rule's", rules(
			"  - { name: staff, when: { groups: [staff] }, allow: { mfa: { methods: [otp], max_age: 2h } } }",
			"  - { name: admins, when: { groups: [admins] }, allow: { mfa: { methods: [hwk], max_age: 3h } } }"),
			in, &MFARequirement{Methods: []string{"otp"}, MaxAge: 2 * time.Hour}},
		{"the identity is ignored", rules(
			"  - { name: admins, when: { groups: [admins] }, allow: { mfa: {} } }"),
			Input{User: "alice", Groups: []string{"admins"}, AMR: []string{"mfa"}, AuthTime: weekday, ClientIP: remote, Now: weekday}, mfa},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustLoad(t, tc.src)
			if got := RequiresMFA(p, tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if got := RequiresMFA(nil, in); got != nil {
		t.Errorf("nil policy: got %+v", got)
	}
}

func TestRequiresMFADoesNotAliasThePolicy(t *testing.T) {
	p := mustLoad(t, "policy: p\nrules:\n  - { name: all, allow: { mfa: { methods: [otp] } } }\n")
	RequiresMFA(p, Input{}).Methods[0] = "none"
	if got := RequiresMFA(p, Input{}); got.Methods[0] != "otp" {
		t.Errorf("mutating the answer changed the policy: %v", got.Methods)
	}
}
