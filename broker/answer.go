package broker

import (
	"net/http"
	"net/netip"

	"github.com/fedgate/fedgate/policy"
	"github.com/fedgate/fedgate/proxy"
)

// answer renders enforce's verdict to a browser (fedgate's own pages, a
// proxied or forward-auth request, a completed sign-in) and reports
// whether the request may go on. A sign-in started here comes back to this
// request's URL, or to where the completed login was going.
func (b *Server) answer(w http.ResponseWriter, r *http.Request, snap *Snapshot, u use, v verdict) bool {
	switch v.Outcome {
	case allow:
		if v.Write {
			b.writeCookieSession(w, snap, v.Session, u.Cookie)
		}
		return true
	case signIn, stepUp:
		if u.Cookie == appSessionCookie {
			if v.Reason == "session-capped" || (v.Session == nil && v.Reason != "") {
				// A dead cookie is dropped, so it is refused (and audited) once.
				snap.sealer.clear(w, appSessionCookie)
			}
			// fedgate's host decides again with its own session, and runs
			// the sign-in or step-up there, where the upstream answers.
			b.toSignIn(w, r, snap, u.App)
			return false
		}
		if wantsJSON(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fedgate"`)
			b.fail(w, r, snap, http.StatusUnauthorized, "err.signin", nil)
			return false
		}
		ret := r.URL.RequestURI()
		if u.After != nil {
			ret = u.After.Return
		}
		b.sendToSignIn(w, r, snap, u, v, ret, "")
		return false
	}
	switch v.Reason {
	case "mfa-not-proven":
		b.fail(w, r, snap, http.StatusForbidden, "err.mfa.notproven", nil)
	case "mfa-required-unavailable":
		b.fail(w, r, snap, http.StatusForbidden, "err.mfa", nil)
	case "mfa-not-enrolled":
		b.fail(w, r, snap, http.StatusForbidden, "err.mfa.enrol", nil, snap.contact(pickLanguage(w, r, snap.sealer.secure)))
	case "mfa-enrol-not-fresh":
		b.fail(w, r, snap, http.StatusForbidden, "err.mfa.notfresh", nil, snap.contact(pickLanguage(w, r, snap.sealer.secure)))
	case "store-unavailable":
		w.Header().Set("Retry-After", "5")
		b.fail(w, r, snap, http.StatusServiceUnavailable, "err.unavailable", nil)
	default:
		b.denyPage(w, r, snap, v.Message)
	}
	return false
}

// sendToSignIn starts the sign-in or step-up a verdict asks for, on
// fedgate's host, coming back to ret.
func (b *Server) sendToSignIn(w http.ResponseWriter, r *http.Request, snap *Snapshot, u use, v verdict, ret, hint string) {
	p := &Pending{ID: randomID(), App: u.App.ID, Return: ret, Hint: hint, Created: b.now(), Force: v.Force, AppMFA: u.AppMFA}
	if u.After != nil {
		p.Bind = u.After.Bind // still the same browser's way back to an app host
	}
	if v.Reason == "session-capped" {
		snap.sealer.clear(w, sessionCookie)
	}
	if v.Device {
		b.toCertHost(w, r, snap, p, v.Session)
		return
	}
	if s := v.Session; s != nil && v.Reason != "upstream-not-allowed" {
		// Again at the same upstream, as the same user.
		p.Upstream, p.Hint = s.Identity.Upstream, upstreamName(s.Identity)
	}
	if v.Outcome == stepUp && v.Via == nil {
		// fedgate's own factors: a page of ours, for this session only.
		p.MFA, p.Session = v.MFA, v.Session.ID
		next := "/mfa?l="
		if v.Enrol {
			next = "/mfa/enrol?l="
		}
		if err := b.savePending(w, snap, p); err != nil {
			b.fail(w, r, snap, http.StatusInternalServerError, "err.internal", err)
			return
		}
		http.Redirect(w, r, next+p.ID, http.StatusSeeOther)
		return
	}
	if v.Outcome == stepUp {
		p.MFA, p.Force = v.MFA, stepUpForce(u.After, v.Session, v.MFA, b.now())
		b.beginRedirect(w, r, snap, p, v.Via)
		return
	}
	b.redirectToPending(w, r, snap, p)
}

// clientAddr is the client address that counts for policy and audit: the
// request's (through trusted proxies only), or override when set.
func (s *Snapshot) clientAddr(r *http.Request, override string) netip.Addr {
	if override != "" {
		if a, err := netip.ParseAddr(override); err == nil {
			return a
		}
	}
	return proxy.ClientIP(r, s.trust)
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
