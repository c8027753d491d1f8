package broker

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/proxy"
)

// logoutPage asks for confirmation: a GET must not sign anyone out, or any
// page could do it with an <img>. Protocols send here the sign-out requests
// they could not match to the session (protocols.ConfirmSignOut).
func (b *Server) logoutPage(w http.ResponseWriter, r *http.Request) {
	snap := snapOf(r)
	s := b.loadSession(r, snap)
	next, ok := b.continueTo(r)
	if s == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	d := pageData{Title: translate("en", "logout.title"), CSRF: snap.sealer.csrfToken("session:" + s.ID), Action: "/logout"}
	if ok {
		d.Action += "?" + url.Values{"continue": {r.URL.Query().Get("continue")}}.Encode()
		allowFormTarget(w.Header(), next)
	}
	b.render(w, r, snap, http.StatusOK, "logout", d)
}

// allowFormTarget adds next's origin to this page's CSP form-action:
// browsers apply it to the redirect that follows the form's POST.
func allowFormTarget(h http.Header, next string) {
	u, err := url.Parse(next)
	if err != nil || u.Host == "" || strings.ContainsAny(u.Scheme+u.Host, " ;,'\"") {
		return
	}
	origin := u.Scheme + "://" + u.Host
	csp := h.Get("Content-Security-Policy")
	h.Set("Content-Security-Policy", strings.Replace(csp, "form-action 'self'", "form-action 'self' "+origin, 1))
}

// continueTo is where the browser goes once signed out: the URL a protocol
// sealed into ?continue= (registered for the app that asked; ok), else the
// signed-out page. An expired or forged value only loses the destination.
func (b *Server) continueTo(r *http.Request) (next string, ok bool) {
	v := r.URL.Query().Get("continue")
	if v == "" {
		return "/signed-out", false
	}
	if err := (sessionProvider{b}).Open(protocols.SignOutContinue, v, &next); err != nil || next == "" {
		b.Logger.InfoContext(r.Context(), "sign-out: continue URL not accepted", "err", err, "request_id", requestID(r.Context()))
		return "/signed-out", false
	}
	return next, true
}

// logoutSubmit ends the session: the cookie is the session, so clearing it
// is enough on this browser.
func (b *Server) logoutSubmit(w http.ResponseWriter, r *http.Request) {
	snap := snapOf(r)
	s := b.loadSession(r, snap)
	next, _ := b.continueTo(r)
	if s == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	if err := r.ParseForm(); err != nil {
		b.fail(w, r, snap, http.StatusBadRequest, "err.badrequest", err)
		return
	}
	ev := AuditEvent{Time: b.now(), Event: "signout", User: s.Identity.Username, Upstream: s.Identity.Upstream,
		ClientIP: proxy.ClientIP(r, snap.trust).String(), UserAgent: r.UserAgent(),
		CorrelationID: requestID(r.Context())}
	if !snap.sealer.checkCSRF("session:"+s.ID, r.PostForm.Get("csrf")) {
		ev.Outcome, ev.Reason = "failure", "csrf"
		b.Audit.Record(ev)
		b.fail(w, r, snap, http.StatusForbidden, "err.csrf", errors.New("logout csrf token mismatch"))
		return
	}
	// Every copy of this session (app hosts hold their own) ends now.
	if err := b.revoke(r.Context(), snap, s); err != nil {
		b.fail(w, r, snap, http.StatusServiceUnavailable, "err.unavailable", err)
		return
	}
	snap.sealer.clear(w, sessionCookie)
	ev.Outcome = "success"
	b.Audit.Record(ev)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (b *Server) signedOut(w http.ResponseWriter, r *http.Request) {
	snap := snapOf(r)
	b.render(w, r, snap, http.StatusOK, "signedout", pageData{Title: translate("en", "out.title")})
}

// revoke records that session s ended, until no copy of it can be valid:
// a copy made before a policy capped it (an app host's cookie, a refresh
// token's reference) still carries the session's full lifetime.
func (b *Server) revoke(ctx context.Context, snap *Snapshot, s *Session) error {
	until := s.Created.Add(snap.Config.Session.Lifetime)
	if s.Expires.After(until) {
		until = s.Expires
	}
	return b.Store.Put(ctx, revokedPrefix+s.ID, []byte{1}, until)
}
