package broker

import (
	"net/http"
	"slices"
	"time"

	"github.com/fedgate/fedgate/broker/auditlog"
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
	// for MFA; or, Via nil, fedgate's own factors (mfa.go): one the user
	// has, or (Enrol) enrolling one.
	MFA   *protocols.MFARequest
	Via   protocols.RedirectAuthenticator
	Enrol bool
	// Device: the step-up is a trip to the certificate host (devicecheck.go).
	Device  bool
	Message policy.Message // a policy deny's message
	// Decision is the policy's own, when it was asked (it then has
	// Reasons): before an app's own MFA demand is added.
	Decision policy.Decision
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
		s, why = b.readSession(r, snap, u.Cookie, now)
		if s == nil {
			v := verdict{Outcome: signIn, Reason: why}
			if why == "store-unavailable" {
				// Fail closed with a page: signing in again would not help.
				v.Outcome = deny
			}
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
		d = b.decideFor(r, snap, app, s, u.ClientIP, now)
		demand := d
		if u.AppMFA && d.Effect == policy.Allow && !s.identity().HasAMR("mfa") {
			// The app asks for MFA itself: the same as a policy step-up
			// (but not the policy's decision, which the audit records).
			demand.Effect = policy.StepUp
			demand.Obligations.MFA = &policy.MFARequirement{Methods: []string{"mfa"}}
		}
		v = b.judge(r, snap, s, demand, u, now)
		if needsDeviceCheck(snap, app, s) {
			// The answer may change once the device is known: ask first.
			v = verdict{Outcome: stepUp, Reason: "device-check", Session: s, Device: true}
		}
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
func (b *Server) judge(r *http.Request, snap *Snapshot, s *Session, d policy.Decision, u use, now time.Time) verdict {
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
		if u.After != nil && b.mustEnrol(r, snap, s) {
			// Right after sign-in, once: a user who must have a factor sets one up.
			return verdict{Outcome: stepUp, Reason: "mfa-enrol-required", Session: s, Enrol: true,
				MFA: &protocols.MFARequest{Methods: []string{"mfa"}}}
		}
		v.Write = slide(s, now, snap.Config.Session.Idle) || v.Write
		v.Outcome = allow
		return v
	case policy.StepUp:
		if s.MFAAsked && now.Sub(s.Created) < stepUpGuard {
			v.Outcome, v.Reason = deny, "mfa-not-proven" // asked for it, and it came back without
			return v
		}
		return b.stepUpWay(r, snap, s, d.Obligations.MFA, u)
	}
	v.Outcome, v.Message = deny, d.Message
	return v
}

// stepUpWay picks how a session gets the MFA it lacks: a factor of
// fedgate's own that the user has (they are here: no round trip); else
// enrolling one, where the enrolment policy (mfa.enrol) lets this user do
// it now — its point is fedgate's own MFA on top of the upstream's
// sign-in; else the upstream, if it can be asked; else nothing (deny, with
// whom to ask).
func (b *Server) stepUpWay(r *http.Request, snap *Snapshot, s *Session, m *policy.MFARequirement, u use) verdict {
	v := verdict{Session: s, Outcome: stepUp, MFA: &protocols.MFARequest{Methods: m.Methods, MaxAge: m.MaxAge}}
	names, err := b.localFactors(r, snap, s, m.Methods)
	if err != nil {
		b.Logger.ErrorContext(r.Context(), "MFA enrolments unreadable; refusing the step-up", "err", err)
		return verdict{Session: s, Outcome: deny, Reason: "mfa-required-unavailable"}
	}
	if len(names) > 0 {
		return v
	}
	why := b.enrolRefusal(r, snap, s)
	if why == "" && len(enrollable(snap, m.Methods)) > 0 {
		v.Enrol = true
		return v
	}
	if ra, ok := b.mfaUpstream(snap, s.Identity.Upstream); ok {
		v.Via = ra
		return v
	}
	switch {
	case why == "mfa-enrol-not-fresh" && u.After == nil:
		// A fresh sign-in would let them enrol: ask for credentials again.
		return verdict{Outcome: signIn, Reason: why, Session: s, Force: true}
	case why == "mfa-enrol-not-fresh":
		return verdict{Session: s, Outcome: deny, Reason: why}
	case snap.Config.MFA.Enrol.Allow:
		return verdict{Session: s, Outcome: deny, Reason: "mfa-not-enrolled"}
	}
	// Nothing can give this session MFA: deny, never allow.
	return verdict{Session: s, Outcome: deny, Reason: "mfa-required-unavailable"}
}

// decideFor evaluates app's policy for the session and this request.
func (b *Server) decideFor(r *http.Request, snap *Snapshot, app *config.App, s *Session, ip string, now time.Time) policy.Decision {
	id := s.Identity
	p, _ := snap.Config.PolicySet.Policy(app.Policy) // nil => deny
	return policy.Decide(p, policy.Input{
		App: app.ID, User: id.Username, Upstream: id.Upstream, Groups: id.Groups, Claims: id.Claims,
		AMR: id.AMR, AuthTime: id.AuthTime, LocalAMR: s.Factors, MFATime: s.MFATime,
		ClientIP: snap.clientAddr(r, ip), Now: now, Devices: s.Devices, Folded: s.folded(),
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
		id := s.Identity
		e.User, e.Upstream = id.Username, id.Upstream
		if len(d.Reasons) > 0 {
			// What the policy was asked, so that `policy replay` can ask
			// a changed policy the same question.
			e.Decision = d.Effect.String()
			e.Input = &auditlog.Input{Groups: id.Groups, Claims: id.Claims, AMR: id.AMR, AuthTime: id.AuthTime,
				LocalAMR: s.Factors, MFATime: s.MFATime, Devices: s.Devices}
		}
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
