package policy

import (
	"reflect"
	"testing"
	"time"
)

const stepUpSrc = `policy: apps
message: { en: "No access.", ja: "アクセスできません。" }
rules:
  - name: office
    when: { networks: [10.0.0.0/8] }
    allow: {}
  - name: blocked
    when: { groups: [blocked] }
    deny: { message: { en: "Blocked.", ja: "ブロックされています。" } }
  - name: quiet deny
    when: { groups: [quiet] }
    deny: {}
  - name: staff with mfa
    when: { groups: [staff] }
    allow: { mfa: { methods: [mfa, otp, hwk], max_age: 12h }, max_session: 8h }
  - name: default mfa methods
    when: { groups: [guests] }
    allow: { mfa: {} }
`

func TestDecide(t *testing.T) {
	p := mustLoad(t, stepUpSrc)
	now := tm(t, "2026-06-01T12:00:00Z")
	remote := ip("203.0.113.9")
	staff := func(age time.Duration, amr ...string) Input {
		return Input{Groups: []string{"staff"}, AMR: amr, AuthTime: now.Add(-age), ClientIP: remote, Now: now}
	}
	mfa := &MFARequirement{Methods: []string{"mfa", "otp", "hwk"}, MaxAge: 12 * time.Hour}
	tests := []struct {
		name string
		in   Input
		want Decision // Trace checked separately by length
		nTr  int
	}{
		{name: "first rule allows", in: Input{ClientIP: ip("10.0.0.1"), Groups: []string{"blocked"}},
			want: Decision{Effect: Allow, Policy: "apps", Rule: "office", Reasons: []Reason{{ReasonAllowedByRule}}}},
		{name: "deny rule with its message", in: Input{ClientIP: remote, Groups: []string{"blocked", "staff"}},
			want: Decision{Effect: Deny, Policy: "apps", Rule: "blocked", Reasons: []Reason{{ReasonDeniedByRule}},
				Message: Message{En: "Blocked.", Ja: "ブロックされています。"}}, nTr: 1},
		{name: "deny rule without message uses the policy's", in: Input{ClientIP: remote, Groups: []string{"quiet"}},
			want: Decision{Effect: Deny, Policy: "apps", Rule: "quiet deny", Reasons: []Reason{{ReasonDeniedByRule}},
				Message: Message{En: "No access.", Ja: "アクセスできません。"}}, nTr: 2},
		{name: "default deny", in: Input{ClientIP: remote, Groups: []string{"sales"}},
			want: Decision{Effect: Deny, Policy: "apps", Reasons: []Reason{{ReasonNoRuleMatched}},
				Message: Message{En: "No access.", Ja: "アクセスできません。"}}, nTr: 5},
		{name: "mfa recent: allow", in: staff(time.Hour, "pwd", "otp"),
			want: Decision{Effect: Allow, Policy: "apps", Rule: "staff with mfa", Reasons: []Reason{{ReasonAllowedByRule}},
				Obligations: Obligations{MaxSession: 8 * time.Hour}}, nTr: 3},
		{name: "mfa exactly max_age: allow", in: staff(12*time.Hour, "hwk"),
			want: Decision{Effect: Allow, Policy: "apps", Rule: "staff with mfa", Reasons: []Reason{{ReasonAllowedByRule}},
				Obligations: Obligations{MaxSession: 8 * time.Hour}}, nTr: 3},
		{name: "password only: step-up", in: staff(time.Minute, "pwd"),
			want: Decision{Effect: StepUp, Policy: "apps", Rule: "staff with mfa", Reasons: []Reason{{ReasonMFARequired}},
				Obligations: Obligations{MFA: mfa, MaxSession: 8 * time.Hour}}, nTr: 3},
		{name: "mfa 1s too old: step-up", in: staff(12*time.Hour+time.Second, "mfa"),
			want: Decision{Effect: StepUp, Policy: "apps", Rule: "staff with mfa", Reasons: []Reason{{ReasonMFARequired}, {ReasonMFATooOld}},
				Obligations: Obligations{MFA: mfa, MaxSession: 8 * time.Hour}}, nTr: 3},
		{name: "kerberos is not mfa: step-up", in: staff(0, "kerberos"),
			want: Decision{Effect: StepUp, Policy: "apps", Rule: "staff with mfa", Reasons: []Reason{{ReasonMFARequired}},
				Obligations: Obligations{MFA: mfa, MaxSession: 8 * time.Hour}}, nTr: 3},
		{name: "default methods are [mfa]: otp is not enough", in: Input{Groups: []string{"guests"}, AMR: []string{"otp"}, ClientIP: remote, Now: now},
			want: Decision{Effect: StepUp, Policy: "apps", Rule: "default mfa methods", Reasons: []Reason{{ReasonMFARequired}},
				Obligations: Obligations{MFA: &MFARequirement{Methods: []string{"mfa"}}}}, nTr: 4},
		{name: "default methods, no max_age: old mfa is fine", in: Input{Groups: []string{"guests"}, AMR: []string{"MFA"}, AuthTime: now.AddDate(-1, 0, 0), ClientIP: remote, Now: now},
			want: Decision{Effect: Allow, Policy: "apps", Rule: "default mfa methods", Reasons: []Reason{{ReasonAllowedByRule}}}, nTr: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Explain(p, tc.in)
			if len(got.Trace) != tc.nTr {
				t.Errorf("trace has %d entries, want %d: %+v", len(got.Trace), tc.nTr, got.Trace)
			}
			got.Trace = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDecideTrace(t *testing.T) {
	p := mustLoad(t, stepUpSrc)
	d := Explain(p, Input{ClientIP: ip("203.0.113.9"), Groups: []string{"Sales"}})
	want := []RuleTrace{
		{Rule: "office", Failed: "networks: 203.0.113.9 not in [10.0.0.0/8]"},
		{Rule: "blocked", Failed: "groups: in none of [blocked]"},
		{Rule: "quiet deny", Failed: "groups: in none of [quiet]"},
		{Rule: "staff with mfa", Failed: "groups: in none of [staff]"},
		{Rule: "default mfa methods", Failed: "groups: in none of [guests]"},
	}
	if !reflect.DeepEqual(d.Trace, want) {
		t.Errorf("trace:\n got %+v\nwant %+v", d.Trace, want)
	}
}

func TestFirstMatchWins(t *testing.T) {
	p := mustLoad(t, `policy: order
rules:
  - name: deny eve
    when: { users: [eve] }
    deny: {}
  - name: staff
    when: { groups: [staff] }
    allow: {}
  - name: everyone
    allow: { max_session: 1h }
`)
	for _, tc := range []struct {
		in   Input
		rule string
		eff  Effect
	}{
		{Input{User: "eve", Groups: []string{"staff"}}, "deny eve", Deny},
		{Input{User: "bob", Groups: []string{"staff"}}, "staff", Allow},
		{Input{User: "bob"}, "everyone", Allow},
	} {
		d := Explain(p, tc.in)
		if d.Rule != tc.rule || d.Effect != tc.eff {
			t.Errorf("%+v: got %v by %q, want %v by %q", tc.in, d.Effect, d.Rule, tc.eff, tc.rule)
		}
	}
}

func TestDecideNilPolicy(t *testing.T) {
	d := Explain(nil, Input{User: "alice"})
	if d.Effect != Deny || !reflect.DeepEqual(d.Reasons, []Reason{{ReasonNoPolicy}}) {
		t.Errorf("got %+v", d)
	}
}

func TestEmptyPolicyDeniesAll(t *testing.T) {
	p := mustLoad(t, "policy: locked\n")
	d := Explain(p, Input{User: "alice"})
	if d.Effect != Deny || d.Rule != "" || !reflect.DeepEqual(d.Reasons, []Reason{{ReasonNoRuleMatched}}) {
		t.Errorf("got %+v", d)
	}
}

func TestObligationsDoNotAliasThePolicy(t *testing.T) {
	p := mustLoad(t, stepUpSrc)
	in := Input{Groups: []string{"staff"}, ClientIP: ip("203.0.113.9")}
	d := Explain(p, in)
	d.Obligations.MFA.Methods[0] = "none"
	if again := Explain(p, in); again.Obligations.MFA.Methods[0] != "mfa" {
		t.Errorf("mutating a decision changed the policy: %v", again.Obligations.MFA.Methods)
	}
}

func TestEffectString(t *testing.T) {
	for e, want := range map[Effect]string{Deny: "deny", Allow: "allow", StepUp: "step-up", Effect(9): "deny"} {
		if e.String() != want {
			t.Errorf("%d: %q, want %q", int(e), e.String(), want)
		}
	}
	var zero Decision
	if zero.Effect != Deny {
		t.Error("zero Decision must deny")
	}
}
