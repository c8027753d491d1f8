package policy

import (
	"slices"
	"strings"
	"time"
)

// Authentication methods, as `auth: { amr }` and `allow: { mfa: { methods } }`
// name them: AMR values (pwd, kerberos, mfa, otp, hwk, swk, sc…), proved by
// the upstream (Input.AMR, at AuthTime) or by fedgate's own second factors
// (Input.LocalAMR, at MFATime), and UpstreamMFA, which only the upstream's
// own MFA satisfies.
const UpstreamMFA = "upstream-mfa"

// hasMethod: the session proved one of want.
func hasMethod(in *Input, want []string) bool {
	return slices.ContainsFunc(want, func(w string) bool { return methodTime(in, w) != (time.Time{}) })
}

// methodFresh: the session proved one of want (nil: any method) no longer
// than maxAge ago.
func methodFresh(in *Input, want []string, maxAge time.Duration) bool {
	t := lastProved(in, want)
	return known(t) && in.Now.Sub(t) <= maxAge
}

// lastProved is when the session last proved one of want (nil: any
// method); zero if it never did.
func lastProved(in *Input, want []string) time.Time {
	if want == nil {
		want = slices.Concat(in.AMR, in.LocalAMR)
		if len(want) == 0 && !in.AuthTime.IsZero() {
			return in.AuthTime
		}
	}
	var t time.Time
	for _, w := range want {
		if m := methodTime(in, w); m.After(t) {
			t = m
		}
	}
	return t
}

// unknownTime: a method proved at a time nobody said; never fresh.
var unknownTime = time.Unix(0, 1)

func known(t time.Time) bool { return t.After(unknownTime) }

// methodTime is when the session last proved method w; zero if it did not.
func methodTime(in *Input, w string) time.Time {
	var t time.Time
	fold := func(have []string, m string) bool {
		return slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, m) })
	}
	if strings.EqualFold(w, UpstreamMFA) {
		w = "mfa"
	} else if fold(in.LocalAMR, w) {
		t = in.MFATime
	}
	if fold(in.AMR, w) && in.AuthTime.After(t) {
		t = in.AuthTime
	}
	if t.IsZero() && fold(in.AMR, w) {
		t = unknownTime
	}
	return t
}
