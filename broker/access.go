package broker

import (
	"net/http"

	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/policy"
	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/proxy"
)

// authorize evaluates app's policy for the session and request. It is called
// after every sign-in and before every answer to an app. On allow it returns
// true (audited when it follows a sign-in or answers fedgate's own pages; a
// proxied request's allow is not, or the audit log would be an access log);
// on step-up it sends the user to get MFA if the upstream can give it;
// otherwise it writes the deny page and the audit event. after is the login
// that just completed, if any: if that was already a step-up, its result is
// final.
func (b *Server) authorize(w http.ResponseWriter, r *http.Request, snap *Snapshot, app *config.App, s *Session, after *Pending) bool {
	id := s.Identity
	d, audit := b.decide(r, snap, app, s)
	switch d.Effect {
	case policy.Allow:
		if limit := d.Obligations.MaxSession; limit > 0 && s.Expires.After(s.Created.Add(limit)) {
			s.Expires = s.Created.Add(limit)
			if !s.valid(b.now(), snap.Config.Session.Idle) {
				audit("deny", "session-capped")
				b.reauthenticate(w, r, snap, app)
				return false
			}
			b.writeSession(w, snap, s)
		}
		if app.Type != "proxy" && app.Type != "forward_auth" || after != nil {
			audit("allow", "")
		}
		return true
	case policy.StepUp:
		req := &protocols.MFARequest{Methods: d.Obligations.MFA.Methods, MaxAge: d.Obligations.MFA.MaxAge}
		if after != nil && after.MFA != nil {
			// We asked the upstream for MFA and it came back without proof.
			audit("deny", "mfa-not-proven")
			b.fail(w, r, snap, http.StatusForbidden, "err.mfa.notproven", nil)
			return false
		}
		if onAppHost(snap, r) {
			// The step-up runs on fedgate's host, where the IdP's answer
			// arrives; the sign-in page there finds the session and asks.
			audit("step-up", "")
			b.toSignIn(w, r, snap, app)
			return false
		}
		if ra, ok := b.mfaUpstream(snap, id.Upstream); ok && !wantsJSON(r) {
			audit("step-up", "")
			ret := r.URL.RequestURI()
			if after != nil {
				ret = after.Return
			}
			p := &Pending{ID: randomID(), App: app.ID, Return: ret, Upstream: id.Upstream, Hint: id.Username,
				Created: b.now(), MFA: req, Force: true}
			b.beginRedirect(w, r, snap, p, ra)
			return false
		}
		// Neither the upstream nor a local method can give MFA: deny, never allow.
		audit("deny", "mfa-required-unavailable")
		b.fail(w, r, snap, http.StatusForbidden, "err.mfa", nil)
		return false
	}
	audit("deny", "")
	b.denyPage(w, r, snap, d.Message)
	return false
}

// decide evaluates app's policy for the session and this request. audit
// writes the access event; it is built only when written, since most
// proxied requests are allowed and not audited.
func (b *Server) decide(r *http.Request, snap *Snapshot, app *config.App, s *Session) (policy.Decision, func(outcome, reason string)) {
	ip := proxy.ClientIP(r, snap.trust)
	id := s.Identity
	p, _ := snap.Config.PolicySet.Policy(app.Policy) // nil => deny
	d := policy.Decide(p, policy.Input{
		App: app.ID, User: id.Username, Upstream: id.Upstream, Groups: id.Groups, Claims: id.Claims,
		AMR: id.AMR, AuthTime: id.AuthTime, ClientIP: ip, Now: b.now(),
	})
	return d, func(outcome, reason string) {
		if reason == "" && len(d.Reasons) > 0 {
			reason = string(d.Reasons[0].Code)
		}
		b.Audit.Record(AuditEvent{
			Time: b.now(), Event: "access", User: id.Username, Upstream: id.Upstream, App: app.ID,
			Policy: d.Policy, Rule: d.Rule, ClientIP: ip.String(), UserAgent: r.UserAgent(),
			CorrelationID: requestID(r.Context()), Outcome: outcome, Reason: reason,
		})
	}
}

// clientIP is the request's client address as policy and audit see it.
func clientIP(r *http.Request, snap *Snapshot) string { return proxy.ClientIP(r, snap.trust).String() }

// onAppHost: the request was made to a proxy or forward-auth app's host,
// not to fedgate's own.
func onAppHost(snap *Snapshot, r *http.Request) bool {
	return snap.proxy != nil && snap.proxy.HasHost(r.Host)
}

// reauthenticate ends the session this request presented (it may not be
// used further) and starts a sign-in that returns here.
func (b *Server) reauthenticate(w http.ResponseWriter, r *http.Request, snap *Snapshot, app *config.App) {
	if onAppHost(snap, r) {
		snap.sealer.clear(w, appSessionCookie)
		b.toSignIn(w, r, snap, app)
		return
	}
	snap.sealer.clear(w, sessionCookie)
	b.startLogin(w, r, snap, app)
}

// mfaUpstream is the session's upstream if it can be asked for MFA.
func (b *Server) mfaUpstream(snap *Snapshot, upstream string) (protocols.RedirectAuthenticator, bool) {
	e, ok := snap.byID[upstream]
	if !ok {
		return nil, false
	}
	ra, isRedirect := e.Upstream.(protocols.RedirectAuthenticator)
	m, canMFA := e.Upstream.(protocols.MFARequester)
	return ra, isRedirect && canMFA && m.CanRequestMFA()
}

// denyPage shows the policy's reason, in the user's language.
func (b *Server) denyPage(w http.ResponseWriter, r *http.Request, snap *Snapshot, m policy.Message) {
	lang := pickLanguage(w, r, snap.sealer.secure)
	msg := m.En
	if lang == "ja" && m.Ja != "" {
		msg = m.Ja
	}
	if msg == "" {
		msg = translate(lang, "err.denied.default")
	}
	if wantsJSON(r) {
		b.fail(w, r, snap, http.StatusForbidden, "err.denied.default", nil)
		return
	}
	b.render(w, r, snap, http.StatusForbidden, "error", pageData{
		Heading: translate(lang, "err.denied"), Message: msg, CorrelationID: requestID(r.Context()),
	})
}
