package broker

import (
	"net/http"

	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/policy"
	"github.com/fedgate/fedgate/proxy"
)

// authorize evaluates app's policy for the session and request. It is called
// after every sign-in and before every answer to an app. On anything but
// allow it writes the deny page and the audit event, and returns false.
func (b *Server) authorize(w http.ResponseWriter, r *http.Request, snap *Snapshot, app *config.App, s *Session) bool {
	ip := proxy.ClientIP(r, snap.Config.Server.TrustedProxies)
	id := s.Identity
	p, _ := snap.Config.PolicySet.Policy(app.Policy) // nil => deny
	d := policy.Decide(p, policy.Input{
		App: app.ID, User: id.Username, Upstream: id.Upstream, Groups: id.Groups, Claims: id.Claims,
		AMR: id.AMR, AuthTime: id.AuthTime, ClientIP: ip, Now: b.now(),
	})
	ev := AuditEvent{
		Time: b.now(), Event: "access", User: id.Username, Upstream: id.Upstream, App: app.ID,
		Policy: d.Policy, Rule: d.Rule, ClientIP: ip.String(), UserAgent: r.UserAgent(),
		CorrelationID: requestID(r.Context()), Outcome: d.Effect.String(),
	}
	if len(d.Reasons) > 0 {
		ev.Reason = string(d.Reasons[0].Code)
	}
	switch d.Effect {
	case policy.Allow:
		if max := d.Obligations.MaxSession; max > 0 && s.Expires.After(s.Created.Add(max)) {
			s.Expires = s.Created.Add(max)
			if !s.valid(b.now(), snap.Config.Session.Idle) {
				ev.Outcome, ev.Reason = "deny", "session-capped"
				b.Audit.Record(ev)
				b.startLogin(w, r, snap, app, true)
				return false
			}
			b.writeSession(w, snap, s)
		}
		b.Audit.Record(ev)
		return true
	case policy.StepUp:
		// No upstream or local MFA method can satisfy it yet: deny, never allow.
		ev.Outcome, ev.Reason = "deny", "mfa-required-unavailable"
		b.Audit.Record(ev)
		b.fail(w, r, snap, http.StatusForbidden, "err.mfa", nil)
		return false
	}
	b.Audit.Record(ev)
	b.denyPage(w, r, snap, d.Message)
	return false
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
