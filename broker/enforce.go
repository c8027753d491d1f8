package broker

import (
	"net/http"
	"slices"
	"time"

	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/policy"
	"github.com/fedgate/fedgate/protocols"
)

// The one access decision, and the types it speaks in.

// outcome is what the verdict asks of the path.
type outcome string

const (
	allow  outcome = "allow"
	signIn outcome = "signin"  // no usable session for this app: sign in
	stepUp outcome = "step-up" // signed in, but MFA is needed that the session lacks
	deny   outcome = "deny"
)

// use is one use of a session for an app.
type use struct {
	App *config.App
	// Cookie is where the session is read from and written back to
	// (sessionCookie on fedgate's host, appSessionCookie on an app host);
	// Session, when set, is a session already in hand (a sign-in that just
	// completed, a refresh) and Cookie is where it is written.
	Cookie  string
	Session *Session
	// After is the sign-in that just completed, if any.
	After *Pending
	// FreshAfter: the app wants credentials presented at or after this time.
	FreshAfter time.Time
	// AppMFA: the app itself asks for MFA (acr_values, RequestedAuthnContext).
	AppMFA bool
	// ClientIP overrides the request's client address (a refresh, where
	// the address that counts is the one the user signed in from).
	ClientIP string
	// Silent: the path only looks at the verdict and will ask again, so
	// it writes no audit event (the path audits what it acts on).
	Silent bool
}

// verdict is enforce's answer.
type verdict struct {
	Outcome outcome
	Reason  string   // the audit reason code ("" for a plain allow)
	Session *Session // the session used; on allow, as it must now be stored
	// Write: the session changed (idle timeout slid, lifetime capped) and
	// must be written back to its cookie.
	Write bool
	// Force: the sign-in must ask for credentials again (app's request,
	// session cap), not be answered by a session at the upstream.
	Force bool
	// MFA and Via are where a step-up goes: the session's upstream, asked
	// for MFA.
	MFA      *protocols.MFARequest
	Via      protocols.RedirectAuthenticator
	Message  policy.Message  // a policy deny's message
	Decision policy.Decision // the policy's, when it was asked
}

// stepUpGuard: a session made by a step-up that still lacks MFA is not sent
// to ask again for this long (the upstream would answer the same: a loop).
const stepUpGuard = pendingTTL

// enforce is the one answer to "may this session use this app now?". Every
// path that lets a session reach an app asks it: sign-in completion, the
// proxy, forward-auth, fedgate's own pages, the OpenID Provider, the SAML
// IdP, the WS-Fed STS and an OIDC refresh. It owns the checks and the
// access audit event; the paths only render its verdict in their format
// (answer.go for browsers, Session and Recheck for protocols).
func (b *Server) enforce(r *http.Request, snap *Snapshot, u use) verdict {
	now := b.now()
	app := u.App
	s := u.Session
	if s == nil {
		var why string
		s, why = b.readSession(r, snap, u.Cookie)
		if s == nil {
			v := verdict{Outcome: signIn, Reason: why}
			if why != "" && !u.Silent {
				b.auditAccess(r, snap, u, v)
			}
			return v
		}
	}
	id := s.Identity
	v := verdict{Session: s}
	var d policy.Decision
	switch {
	case len(app.Upstreams) > 0 && !slices.Contains(app.Upstreams, id.Upstream):
		v.Outcome, v.Reason = signIn, "upstream-not-allowed"
	case id.AuthTime.Before(u.FreshAfter):
		// The app asked for fresh credentials: not an access event.
		return verdict{Outcome: signIn, Session: s, Force: true}
	default:
		d = b.decideFor(r, snap, app, s, u.ClientIP)
		if u.AppMFA && d.Effect == policy.Allow && !id.HasAMR("mfa") {
			// The app asks for MFA itself: the same as a policy step-up.
			d.Effect = policy.StepUp
			d.Obligations.MFA = &policy.MFARequirement{Methods: []string{"mfa"}}
		}
		v = b.judge(snap, app, s, d, u, now)
		v.Decision = d
	}
	if !u.Silent && (v.Outcome != allow || u.After != nil || (app.Type != "proxy" && app.Type != "forward_auth")) {
		// A proxied request's allow is not audited, or the audit log would
		// be an access log; everything else is.
		b.auditAccess(r, snap, u, v)
	}
	return v
}

// judge turns a policy decision about a valid session into the verdict.
func (b *Server) judge(snap *Snapshot, app *config.App, s *Session, d policy.Decision, u use, now time.Time) verdict {
	v := verdict{Session: s}
	switch d.Effect {
	case policy.Allow:
		if limit := d.Obligations.MaxSession; limit > 0 {
			end := s.Created.Add(limit)
			if !now.Before(end) {
				return verdict{Outcome: signIn, Reason: "session-capped", Session: s, Force: true}
			}
			if s.Expires.After(end) {
				s.Expires, v.Write = end, true
			}
		}
		v.Write = slide(s, now, snap.Config.Session.Idle) || v.Write
		v.Outcome = allow
		return v
	case policy.StepUp:
		if s.MFAAsked && now.Sub(s.Created) < stepUpGuard {
			v.Outcome, v.Reason = deny, "mfa-not-proven" // asked for it, and it came back without
			return v
		}
		if ra, ok := b.mfaUpstream(snap, s.Identity.Upstream); ok {
			m := d.Obligations.MFA
			v.Outcome, v.Via = stepUp, ra
			v.MFA = &protocols.MFARequest{Methods: m.Methods, MaxAge: m.MaxAge}
			return v
		}
		// The session's upstream cannot be asked for MFA: deny, never allow.
		v.Outcome, v.Reason = deny, "mfa-required-unavailable"
		return v
	}
	v.Outcome, v.Message = deny, d.Message
	return v
}

// decideFor evaluates app's policy for the session and this request.
func (b *Server) decideFor(r *http.Request, snap *Snapshot, app *config.App, s *Session, ip string) policy.Decision {
	id := s.Identity
	p, _ := snap.Config.PolicySet.Policy(app.Policy) // nil => deny
	return policy.Decide(p, policy.Input{
		App: app.ID, User: id.Username, Upstream: id.Upstream, Groups: id.Groups, Claims: id.Claims,
		AMR: id.AMR, AuthTime: id.AuthTime, ClientIP: snap.clientAddr(r, ip), Now: b.now(), Folded: s.folded(),
	})
}

// auditAccess writes the access event of a verdict.
func (b *Server) auditAccess(r *http.Request, snap *Snapshot, u use, v verdict) {
	d, s := v.Decision, v.Session
	reason := v.Reason
	if reason == "" && len(d.Reasons) > 0 {
		reason = string(d.Reasons[0].Code)
	}
	e := AuditEvent{
		Time: b.now(), Event: "access", App: u.App.ID, Policy: d.Policy, Rule: d.Rule,
		ClientIP: snap.clientAddr(r, u.ClientIP).String(), UserAgent: r.UserAgent(),
		CorrelationID: requestID(r.Context()), Outcome: string(v.Outcome), Reason: reason,
	}
	if s != nil {
		e.User, e.Upstream = s.Identity.Username, s.Identity.Upstream
	}
	b.Audit.Record(e)
}

// mfaUpstream is the session's upstream if it can be asked for MFA.
func (b *Server) mfaUpstream(snap *Snapshot, upstream string) (protocols.RedirectAuthenticator, bool) {
	e, ok := snap.byID[upstream]
	if !ok {
		return nil, false
	}
	ways := waysOf(e.Upstream)
	return ways.redirect, ways.redirect != nil && ways.mfa != nil && ways.mfa.CanRequestMFA()
}

// slide moves the idle timeout on for a use of s, and reports whether the
// cookie must be rewritten: at most once a minute, and often enough for
// short idle timeouts.
func slide(s *Session, now time.Time, idle time.Duration) bool {
	if now.Sub(s.LastSeen) < touchInterval(idle) {
		return false
	}
	s.LastSeen = now
	return true
}

// clientIP is the request's client address as policy and audit see it.
func clientIP(r *http.Request, snap *Snapshot) string { return snap.clientAddr(r, "").String() }
