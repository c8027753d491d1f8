package broker

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/proxy"
)

const rememberCookie = "fedgate_upstream"

// startLogin begins an in-flight login for fedgate's own pages that
// returns to the current URL (apps go through enforce and sendToSignIn).
func (b *Server) startLogin(w http.ResponseWriter, r *http.Request, snap *Snapshot) {
	if wantsJSON(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fedgate"`)
		b.fail(w, r, snap, http.StatusUnauthorized, "err.expired", nil)
		return
	}
	b.redirectToPending(w, r, snap, &Pending{ID: randomID(), Return: r.URL.RequestURI(), Created: b.now()})
}

func (b *Server) redirectToPending(w http.ResponseWriter, r *http.Request, snap *Snapshot, p *Pending) {
	if err := b.savePending(w, snap, p); err != nil {
		b.fail(w, r, snap, http.StatusInternalServerError, "err.internal", err)
		return
	}
	http.Redirect(w, r, "/login?l="+p.ID, http.StatusSeeOther)
}

// loginPage: without l, start a login from ?app= and ?return=; with l, show
// the form or chooser for that in-flight login.
func (b *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	snap := snapOf(r)
	q := r.URL.Query()
	if !q.Has("l") {
		p := &Pending{ID: randomID(), Return: "/", Created: b.now()}
		if id := q.Get("app"); id != "" {
			if snap.apps[id] == nil {
				b.fail(w, r, snap, http.StatusBadRequest, "err.badrequest", errors.New("unknown app "+id))
				return
			}
			p.App, p.Return = id, "/apps/"+id+"/"
		}
		if ret := q.Get("return"); ret != "" {
			back, ok := validReturn(snap, ret)
			if !ok {
				b.fail(w, r, snap, http.StatusBadRequest, "err.badrequest", errors.New("return is not a local path or app URL"))
				return
			}
			p.Return = back
		}
		p.Bind = b.openBind(snap, q.Get("bind"), p.Return)
		// Single sign-on: an existing session goes straight on.
		if s := b.loadSession(r, snap); s != nil {
			b.complete(w, r, snap, p, s)
			return
		}
		b.redirectToPending(w, r, snap, p)
		return
	}
	p, ok := b.loadPending(r, snap)
	if !ok {
		b.expired(w, r, snap)
		return
	}
	if up := q.Get("upstream"); up != "" {
		if !slices.Contains(b.candidates(snap, p), up) {
			b.fail(w, r, snap, http.StatusBadRequest, "err.unknownupstream", errors.New("upstream not allowed: "+up))
			return
		}
		p.Upstream = up
	}
	b.route(w, r, snap, p, "")
}

func (b *Server) expired(w http.ResponseWriter, r *http.Request, snap *Snapshot) {
	b.fail(w, r, snap, http.StatusBadRequest, "err.expired", errors.New("no valid in-flight login"))
}

// candidates are the upstreams that may sign in to the pending login's app.
func (b *Server) candidates(snap *Snapshot, p *Pending) []string {
	if app := snap.apps[p.App]; app != nil && len(app.Upstreams) > 0 {
		return app.Upstreams
	}
	ids := make([]string, len(snap.upstreams))
	for i, u := range snap.upstreams {
		ids[i] = u.ID()
	}
	return ids
}

// ways is what an upstream can do to sign a user in: the one place the
// broker asks.
type ways struct {
	redirect  protocols.RedirectAuthenticator
	password  protocols.PasswordAuthenticator
	negotiate protocols.NegotiateAuthenticator
	mfa       protocols.MFARequester
	post      protocols.PostAnswerer
}

func waysOf(u protocols.Upstream) ways {
	var w ways
	w.redirect, _ = u.(protocols.RedirectAuthenticator)
	w.password, _ = u.(protocols.PasswordAuthenticator)
	w.negotiate, _ = u.(protocols.NegotiateAuthenticator)
	w.mfa, _ = u.(protocols.MFARequester)
	w.post, _ = u.(protocols.PostAnswerer)
	return w
}

// withPage: it signs in through a page (a form, or a redirect to an IdP),
// not only from the request itself.
func (w ways) withPage() bool { return w.redirect != nil || w.password != nil }

// route is home-realm discovery: Windows integrated sign-in if offered,
// then the chosen upstream, else the remembered one, else the only one,
// else the app's default; if none, the chooser.
func (b *Server) route(w http.ResponseWriter, r *http.Request, snap *Snapshot, p *Pending, formErr string) {
	all := b.candidates(snap, p)
	if b.negotiate(w, r, snap, p, all, formErr) {
		return
	}
	var cands []string
	for _, id := range all {
		if waysOf(snap.byID[id].Upstream).withPage() {
			cands = append(cands, id)
		}
	}
	if len(cands) == 0 {
		b.fail(w, r, snap, http.StatusUnauthorized, "err.negotiate", errors.New("no sign-in way left after negotiate"))
		return
	}
	up := p.Upstream
	if !slices.Contains(cands, up) {
		up = ""
	}
	if up == "" {
		if c, err := r.Cookie(rememberCookie); err == nil && slices.Contains(cands, c.Value) {
			up = c.Value
		}
	}
	if up == "" && len(cands) == 1 {
		up = cands[0]
	}
	if app := snap.apps[p.App]; up == "" && app != nil && slices.Contains(cands, app.DefaultUpstream) {
		up = app.DefaultUpstream
	}
	if up == "" {
		b.render(w, r, snap, http.StatusOK, "chooser", b.formData(r, snap, p, cands, "", formErr))
		return
	}
	if ra := waysOf(snap.byID[up].Upstream).redirect; ra != nil {
		p.Upstream = up
		if p.MFA == nil || p.AskedFirst { // a step-up keeps its demand
			p.MFA = b.askFirst(r, snap, p)
			p.AskedFirst = p.MFA != nil
		}
		b.beginRedirect(w, r, snap, p, ra)
		return
	}
	status := http.StatusOK
	if formErr != "" {
		status = http.StatusUnauthorized
	}
	b.render(w, r, snap, status, "signin", b.formData(r, snap, p, cands, up, formErr))
}

func (b *Server) formData(r *http.Request, snap *Snapshot, p *Pending, cands []string, up, formErr string) pageData {
	d := pageData{
		Action: r.URL.Path + "?l=" + p.ID, CSRF: snap.sealer.csrfToken("login:" + p.ID),
		Username: p.Hint, Upstream: up, Error: formErr, Title: "Sign in",
	}
	if up == "" {
		d.Action = "/login/discover?l=" + p.ID
	}
	if app := snap.apps[p.App]; app != nil {
		d.AppName = app.Name
		if d.AppName == "" {
			d.AppName = app.ID
		}
	}
	for _, id := range cands {
		if id == up {
			continue
		}
		e := snap.byID[id]
		d.Choices = append(d.Choices, choice{
			Name: e.name, Href: "/login?l=" + p.ID + "&upstream=" + url.QueryEscape(id),
			Ready: e.Ready(r.Context()) == nil,
		})
	}
	return d
}

// loginSubmit checks a password form.
func (b *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	snap := snapOf(r)
	p, ok := b.loadPending(r, snap)
	if !ok {
		b.expired(w, r, snap)
		return
	}
	if err := r.ParseForm(); err != nil {
		b.fail(w, r, snap, http.StatusBadRequest, "err.badrequest", err)
		return
	}
	ip := proxy.ClientIP(r, snap.trust)
	user, up := strings.TrimSpace(r.PostForm.Get("username")), r.PostForm.Get("upstream")
	ev := AuditEvent{Time: b.now(), Event: "signin", Outcome: "failure", User: auditUser(user), Upstream: up, App: p.App,
		ClientIP: ip.String(), UserAgent: r.UserAgent(), CorrelationID: requestID(r.Context())}
	if !snap.sealer.checkCSRF("login:"+p.ID, r.PostForm.Get("csrf")) {
		ev.Reason = "csrf"
		b.Audit.Record(ev)
		b.fail(w, r, snap, http.StatusForbidden, "err.csrf", errors.New("login csrf token mismatch"))
		return
	}
	pa := waysOf(snap.byID[up].Upstream).password
	if pa == nil || !slices.Contains(b.candidates(snap, p), up) {
		ev.Reason = "unknown-upstream"
		b.Audit.Record(ev)
		b.fail(w, r, snap, http.StatusBadRequest, "err.unknownupstream", errors.New("bad upstream "+up))
		return
	}
	lang := pickLanguage(w, r, snap.sealer.secure)
	p.Upstream = up
	if len(user) > maxUsername {
		// No account has such a name: refused unchecked and uncounted, never
		// cut to a shorter name that could be one.
		ev.Reason = "username-too-long"
		b.Audit.Record(ev)
		b.Metrics.signins.WithLabelValues(up, "failure").Inc()
		b.route(w, r, snap, p, translate(lang, "err.credentials"))
		return
	}
	p.Hint = user
	t := snap.Config.Throttle
	done, wait, err := b.attempt(r.Context(), t.Window,
		limit{userKey(up, user), int64(t.MaxFailures)}, limit{ipKey(ip), int64(t.MaxFailuresPerIP)})
	if err != nil {
		b.fail(w, r, snap, http.StatusServiceUnavailable, "err.unavailable", err)
		return
	}
	if wait > 0 {
		ev.Reason = "throttled"
		b.Audit.Record(ev)
		b.Metrics.signins.WithLabelValues(up, "throttled").Inc()
		w.Header().Set("Retry-After", strconv.Itoa(seconds(wait)))
		b.renderForm(w, r, snap, p, http.StatusTooManyRequests, translate(lang, "err.throttled", seconds(wait)))
		return
	}
	id, err := pa.Authenticate(r.Context(), user, r.PostForm.Get("password"))
	done(err)
	if err != nil {
		ev.Reason = reasonOf(err)
		b.Audit.Record(ev)
		b.Metrics.signins.WithLabelValues(up, "failure").Inc()
		if errors.Is(err, protocols.ErrInvalidCredentials) || errors.Is(err, protocols.ErrAccountDisabled) {
			b.route(w, r, snap, p, translate(lang, "err.credentials"))
			return
		}
		if errors.Is(err, protocols.ErrBusy) {
			w.Header().Set("Retry-After", "1")
		}
		b.fail(w, r, snap, http.StatusServiceUnavailable, "err.unavailable", err)
		return
	}
	ev.Reason = ""
	b.signedIn(w, r, snap, p, id, ev)
}

func (b *Server) renderForm(w http.ResponseWriter, r *http.Request, snap *Snapshot, p *Pending, status int, msg string) {
	cands := b.candidates(snap, p)
	b.render(w, r, snap, status, "signin", b.formData(r, snap, p, cands, p.Upstream, msg))
}

// signedIn admits the identity the upstream vouched for (ev is its sign-in
// audit event, written here once the outcome is known), starts the
// session, forgets the in-flight login, remembers the upstream, and
// continues to where the login was going, via the app's policy.
func (b *Server) signedIn(w http.ResponseWriter, r *http.Request, snap *Snapshot, p *Pending, id protocols.Identity, ev AuditEvent) {
	id, ok := b.admitIdentity(w, r, snap, p, id)
	if !ok {
		return
	}
	if err := b.Store.Ping(r.Context()); err != nil {
		// A session the store cannot revoke must not start: fail closed.
		ev.Outcome, ev.Reason, ev.User = "failure", "store-unavailable", id.Username
		b.Audit.Record(ev)
		b.Metrics.signins.WithLabelValues(id.Upstream, "failure").Inc()
		w.Header().Set("Retry-After", "5")
		b.fail(w, r, snap, http.StatusServiceUnavailable, "err.unavailable", err)
		return
	}
	ev.Outcome, ev.User = "success", id.Username
	b.Audit.Record(ev)
	b.Metrics.signins.WithLabelValues(id.Upstream, "success").Inc()
	s := b.newSession(snap, id)
	s.MFAAsked = p.MFA != nil && !p.AskedFirst // asked first: one step-up may still follow
	if err := snap.sealer.seal(w, sessionCookie, s, s.Expires.Sub(b.now()), http.SameSiteLaxMode); err != nil {
		b.fail(w, r, snap, http.StatusInternalServerError, "err.internal", err)
		return
	}
	snap.sealer.clear(w, pendingPrefix+p.ID)
	if d := snap.Config.Discovery.RememberFor; d > 0 {
		http.SetCookie(w, &http.Cookie{Name: rememberCookie, Value: id.Upstream, Path: "/", MaxAge: int(d.Seconds()),
			Secure: snap.sealer.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	b.complete(w, r, snap, p, s)
}

// complete continues a login that has a session: the app's policy, then
// back to where the login was going.
func (b *Server) complete(w http.ResponseWriter, r *http.Request, snap *Snapshot, p *Pending, s *Session) {
	app := snap.apps[p.App]
	switch {
	case app == nil:
	case isProtocolApp(app):
		// A protocol app is answered when the protocol resumes (Session),
		// so that a denial reaches the app in its own protocol. Only a
		// step-up starts here, where the sign-in that just finished is
		// known, so that it asks for MFA alone (stepUpForce).
		u := use{App: app, Cookie: sessionCookie, Session: s, After: p, AppMFA: p.AppMFA, Silent: true}
		if v := b.enforce(r, snap, u); v.Outcome == stepUp {
			b.auditAccess(r, snap, u, v)
			b.sendToSignIn(w, r, snap, u, v, p.Return, "")
			return
		}
	default:
		u := use{App: app, Cookie: sessionCookie, Session: s, After: p}
		if !b.answer(w, r, snap, u, b.enforce(r, snap, u)) {
			return
		}
	}
	b.redirectAfterLogin(w, r, snap, s, p)
}

// discover routes an email address to the upstream that owns its domain.
func (b *Server) discover(w http.ResponseWriter, r *http.Request) {
	snap := snapOf(r)
	p, ok := b.loadPending(r, snap)
	if !ok {
		b.expired(w, r, snap)
		return
	}
	if err := r.ParseForm(); err != nil {
		b.fail(w, r, snap, http.StatusBadRequest, "err.badrequest", err)
		return
	}
	if !snap.sealer.checkCSRF("login:"+p.ID, r.PostForm.Get("csrf")) {
		b.fail(w, r, snap, http.StatusForbidden, "err.csrf", errors.New("discover csrf token mismatch"))
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	if len(email) > maxUsername {
		b.fail(w, r, snap, http.StatusBadRequest, "err.badrequest", errors.New("discover: email too long"))
		return
	}
	_, domain, _ := strings.Cut(email, "@")
	domain = strings.ToLower(domain)
	for _, id := range b.candidates(snap, p) {
		if domain != "" && slices.Contains(snap.byID[id].domains, domain) {
			p.Upstream, p.Hint = id, email
			b.redirectToPending(w, r, snap, p)
			return
		}
	}
	p.Hint = email
	b.route(w, r, snap, p, translate(pickLanguage(w, r, snap.sealer.secure), "err.nodomain"))
}

func reasonOf(err error) string {
	switch {
	case errors.Is(err, protocols.ErrInvalidCredentials):
		return "invalid-credentials"
	case errors.Is(err, protocols.ErrAccountDisabled):
		return "account-disabled"
	case errors.Is(err, protocols.ErrBusy):
		return "busy"
	}
	return "upstream-error"
}

// maxUsername bounds a typed user name (bytes): longer than any real
// account name (UPNs and e-mail addresses stay well under it), short enough
// for the pending-login cookie and one audit line.
const maxUsername = 256

// auditUser is the typed user name as the audit log shows it: whole when it
// fits maxUsername, else cut at a character boundary and marked with "…" so
// the cut is never silent (the event's reason then says why).
func auditUser(user string) string {
	if len(user) <= maxUsername {
		return user
	}
	cut := maxUsername
	for cut > 0 && !utf8.RuneStart(user[cut]) {
		cut--
	}
	return user[:cut] + "…"
}

// seconds is a wait in whole seconds, rounded up, at least 1: the unit of
// Retry-After and of the page's "try again in N seconds".
func seconds(d time.Duration) int { return max(int(math.Ceil(d.Seconds())), 1) }
