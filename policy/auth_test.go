package policy

import (
	"testing"
	"time"
)

func TestAuth(t *testing.T) {
	now := tm(t, "2026-06-01T12:00:00Z")
	in := func(age time.Duration, amr ...string) Input {
		return Input{AMR: amr, AuthTime: now.Add(-age), Now: now}
	}
	runCondCases(t, "", []condCase{
		{name: "amr contains one of", when: "auth: { amr: [mfa, hwk] }",
			in: in(time.Hour, "pwd", "hwk"), want: true},
		{name: "amr case-insensitive", when: "auth: { amr: [MFA] }",
			in: in(time.Hour, "mfa"), want: true},
		{name: "amr missing", when: "auth: { amr: [mfa, hwk] }",
			in: in(time.Hour, "pwd"), failed: "auth: amr [pwd] has none of [mfa, hwk]"},
		{name: "no amr at all", when: "auth: { amr: [mfa] }",
			in: in(time.Hour), failed: "auth: amr [] has none of [mfa]"},
		{name: "max_age exactly", when: "auth: { amr: [mfa], max_age: 1h }",
			in: in(time.Hour, "mfa"), want: true},
		{name: "max_age plus 1ns", when: "auth: { amr: [mfa], max_age: 1h }",
			in: in(time.Hour+time.Nanosecond, "mfa"), failed: "auth: authenticated 1h0m0.000000001s ago, max_age 1h0m0s"},
		{name: "max_age alone", when: "auth: { max_age: 30m }",
			in: in(29*time.Minute, "pwd"), want: true},
		{name: "auth time slightly in the future", when: "auth: { max_age: 30m }",
			in: in(-time.Second, "pwd"), want: true},
		{name: "unknown auth time", when: "auth: { max_age: 30m }",
			in: Input{Now: now, AMR: []string{"pwd"}}, failed: "auth: no auth time"},
	})
}
