package broker

import (
	"net/http"
	"time"

	"github.com/fedgate/fedgate/policy"
	"github.com/fedgate/fedgate/protocols"
)

// Ask once: when the app will demand MFA from whoever signs in, the first
// redirect to the upstream already asks for it, instead of a step-up that
// sends the user back to type the password again. It is only a request:
// enforce still checks the identity that comes back.

// askFirst is the MFA to ask of p's upstream in the first redirect: what
// the app's policy demands of every way it could allow (judged on what is
// known before sign-in), else the app's own demand; nil when the upstream
// cannot be asked for MFA.
func (b *Server) askFirst(r *http.Request, snap *Snapshot, p *Pending) *protocols.MFARequest {
	app := snap.apps[p.App]
	if app == nil {
		return nil
	}
	if _, ok := b.mfaUpstream(snap, p.Upstream); !ok || ownFactorsFor(snap, p.Upstream) {
		// Not asked first where fedgate's own factors give the MFA.
		return nil
	}
	pol, _ := snap.Config.PolicySet.Policy(app.Policy)
	in := policy.Input{App: app.ID, Upstream: p.Upstream, ClientIP: snap.clientAddr(r, ""), Now: b.now()}
	if m := policy.RequiresMFA(pol, in); m != nil {
		return &protocols.MFARequest{Methods: m.Methods, MaxAge: m.MaxAge}
	}
	if p.AppMFA {
		return &protocols.MFARequest{Methods: []string{"mfa"}}
	}
	return nil
}

// forceLogin: the upstream must ask for credentials now. An MFA asked in
// the first redirect with a max_age forces them too, as a step-up would:
// an upstream's older single sign-on, or a login whose auth time it does
// not report, could not prove the age.
func (p *Pending) forceLogin() bool {
	return p.Force || (p.AskedFirst && p.MFA != nil && p.MFA.MaxAge > 0)
}

// stepUpForce: a step-up asks for fresh credentials, unless it follows a
// sign-in at the same upstream that has just completed without MFA being
// asked (after made the session s, which is no older than after): the user
// has just signed in there, so only MFA is asked. A max_age
// still forces them unless that sign-in was not forced (its auth time is
// the upstream's own report, as the step-up's will be) and the auth time
// stays within max_age for as long as the step-up may take.
func stepUpForce(after *Pending, s *Session, m *protocols.MFARequest, now time.Time) bool {
	if after == nil || after.Upstream != s.Identity.Upstream || s.Created.Before(after.Created) || after.MFA != nil {
		return true
	}
	if m.MaxAge == 0 {
		return false
	}
	t := s.Identity.AuthTime
	return after.Force || t.IsZero() || t.Add(m.MaxAge).Before(now.Add(pendingTTL))
}
