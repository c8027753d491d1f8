package policy

import (
	"testing"
	"time"
)

// Methods proved by the upstream (AMR at AuthTime) and by fedgate's own
// factors (LocalAMR at MFATime), and upstream-mfa.
func TestMethods(t *testing.T) {
	now := tm(t, "2026-06-01T12:00:00Z")
	local := func(upAge, mfaAge time.Duration, up []string, loc ...string) Input {
		return Input{AMR: up, AuthTime: now.Add(-upAge), LocalAMR: loc, MFATime: now.Add(-mfaAge), Now: now}
	}
	runCondCases(t, "", []condCase{
		{name: "local otp, fresh", when: "auth: { amr: [otp], max_age: 30m }",
			in: local(2*time.Hour, 10*time.Minute, []string{"pwd"}, "otp", "mfa"), want: true},
		{name: "local otp, stale", when: "auth: { amr: [otp], max_age: 30m }",
			in: local(2*time.Hour, time.Hour, []string{"pwd"}, "otp", "mfa"), failed: "auth: authenticated 1h0m0s ago, max_age 30m0s"},
		{name: "pwd keeps the primary's time", when: "auth: { amr: [pwd], max_age: 30m }",
			in: local(2*time.Hour, time.Minute, []string{"pwd"}, "otp", "mfa"), failed: "auth: authenticated 2h0m0s ago, max_age 30m0s"},
		{name: "upstream-mfa is not met by fedgate's", when: "auth: { amr: [upstream-mfa] }",
			in: local(time.Minute, time.Minute, []string{"pwd"}, "otp", "mfa"), failed: "auth: amr [pwd, otp, mfa] has none of [upstream-mfa]"},
		{name: "upstream-mfa from the upstream", when: "auth: { amr: [upstream-mfa] }",
			in: local(time.Minute, 0, []string{"pwd", "mfa"}), want: true},
		{name: "max_age alone counts the second factor", when: "auth: { max_age: 30m }",
			in: local(2*time.Hour, time.Minute, []string{"pwd"}, "otp", "mfa"), want: true},
	})
}

func TestMFAObligationWithLocalFactor(t *testing.T) {
	now := tm(t, "2026-06-01T12:00:00Z")
	p := mustLoad(t, "policy: p\nrules:\n  - name: r\n    allow: { mfa: { methods: [mfa], max_age: 1h } }\n")
	hwk := mustLoad(t, "policy: p\nrules:\n  - name: r\n    allow: { mfa: { methods: [hwk] } }\n")
	for _, tc := range []struct {
		name string
		p    *Policy
		in   Input
		want Effect
	}{
		{"upstream mfa too old, local fresh", p, Input{AMR: []string{"pwd", "mfa"}, AuthTime: now.Add(-3 * time.Hour),
			LocalAMR: []string{"otp", "mfa"}, MFATime: now.Add(-5 * time.Minute), Now: now}, Allow},
		{"local mfa too old", p, Input{AMR: []string{"pwd"}, AuthTime: now.Add(-3 * time.Hour),
			LocalAMR: []string{"otp", "mfa"}, MFATime: now.Add(-2 * time.Hour), Now: now}, StepUp},
		{"otp does not meet hwk", hwk, Input{AMR: []string{"pwd"}, AuthTime: now,
			LocalAMR: []string{"otp", "mfa"}, MFATime: now, Now: now}, StepUp},
	} {
		if d := Decide(tc.p, tc.in); d.Effect != tc.want {
			t.Errorf("%s: effect %v, want %v (%+v)", tc.name, d.Effect, tc.want, d)
		}
	}
}
