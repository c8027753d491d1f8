package policy

import (
	"slices"
	"time"
)

// RequiresMFA answers, before sign-in, whether every way p could allow this
// request demands MFA, so that the broker can ask the upstream for it in the
// first redirect instead of in a second one after the password.
//
// Only what is known before sign-in counts: App, Upstream (the one the user
// is being sent to), ClientIP and Now. User, Groups, Claims, AMR and
// AuthTime are ignored, and conditions on them (users, groups, claims,
// auth) are "unknown": they may or may not hold. Rules are walked in order;
// a rule whose conditions certainly fail is skipped, one that may hold and
// allows without MFA makes the answer nil, and one that certainly holds
// ends the walk. The answer is nil too when no rule can allow at all.
//
// Otherwise it is the requirement to ask for: the methods accepted by every
// rule that may decide (the first such rule's methods if they share none)
// and the shortest max_age among them. It is a prediction for the first
// redirect only: Decide on the returned identity still decides.
func RequiresMFA(p *Policy, in Input) *MFARequirement {
	if p == nil {
		return nil
	}
	e := &env{in: in, loc: p.loc}
	var req *MFARequirement
	for i := range p.rules {
		r := &p.rules[i]
		holds := r.when.before(e)
		if holds == triNo {
			continue
		}
		if r.allow != nil {
			if r.allow.mfa == nil {
				return nil
			}
			req = stricter(req, r.allow.mfa)
		}
		if holds == triYes {
			break
		}
	}
	return req
}

// tri is a condition's value before sign-in.
type tri uint8

const (
	triNo tri = iota
	triUnknown
	triYes
)

func triOf(b bool) tri {
	if b {
		return triYes
	}
	return triNo
}

// before evaluates the conditions with what is known before sign-in.
func (a allOf) before(e *env) tri {
	out := triYes
	for _, c := range a {
		switch condBefore(c, e) {
		case triNo:
			return triNo
		case triUnknown:
			out = triUnknown
		}
	}
	return out
}

// condBefore evaluates one condition before sign-in. Conditions on the
// request (networks, time, upstreams, apps) are evaluated; any other kind is
// about the identity and unknown, so a condition kind added later is
// unknown until it is listed here (never wrongly certain).
func condBefore(c cond, e *env) tri {
	switch c := c.(type) {
	case allOf:
		return c.before(e)
	case notCond:
		return triYes - c.inner.before(e) // no and yes swap; unknown stays
	case anyCond:
		out := triNo
		for _, alt := range c {
			switch alt.before(e) {
			case triYes:
				return triYes
			case triUnknown:
				out = triUnknown
			}
		}
		return out
	case netCond, *timeCond, idCond:
		return triOf(c.ok(e))
	}
	return triUnknown
}

// stricter combines two requirements so that one MFA satisfies both where
// possible: the methods both accept (a's if none) and the shorter max_age.
func stricter(a, b *MFARequirement) *MFARequirement {
	if a == nil {
		return &MFARequirement{Methods: slices.Clone(b.Methods), MaxAge: b.MaxAge}
	}
	both := slices.DeleteFunc(slices.Clone(a.Methods), func(m string) bool { return !slices.Contains(b.Methods, m) })
	if len(both) == 0 {
		both = a.Methods
	}
	return &MFARequirement{Methods: both, MaxAge: shorter(a.MaxAge, b.MaxAge)}
}

// shorter is the stricter of two max ages, where 0 means no limit.
func shorter(a, b time.Duration) time.Duration {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}
