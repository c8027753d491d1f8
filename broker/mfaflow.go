package broker

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/proxy"
)

// The pages of a local step-up and of enrolment (see mfa.go).

// errFactorWrong: the answer does not prove the factor. It counts towards
// the throttle, like a wrong password; the variants say why in the audit.
var (
	errFactorWrong    = errors.New("broker: second factor not proven")
	errFactorExpired  = fmt.Errorf("%w: code expired", errFactorWrong)
	errFactorReplayed = fmt.Errorf("%w: code already used", errFactorWrong)
)

// factorWrong is a wrong answer that says why itself: its audit reason
// and the message key shown to the user (a security key's answer fails in
// more ways than a code).
type factorWrong struct {
	reason, message string
	err             error
}

func (e *factorWrong) Error() string   { return e.reason + ": " + e.err.Error() }
func (e *factorWrong) Unwrap() []error { return []error{errFactorWrong, e.err} }

// reasonOfFactor is the audit reason of a wrong answer.
func reasonOfFactor(err error) string {
	var fw *factorWrong
	switch {
	case errors.As(err, &fw):
		return fw.reason
	case errors.Is(err, errFactorReplayed):
		return "mfa-replayed"
	case errors.Is(err, errFactorExpired):
		return "mfa-expired"
	}
	return "mfa-wrong"
}

// mfaCall is one request to a factor page: who, for which in-flight login,
// and the helpers a method needs.
type mfaCall struct {
	b     *Server
	w     http.ResponseWriter
	r     *http.Request
	snap  *Snapshot
	s     *Session
	p     *Pending
	user  factorUser
	vault vault
	// Action is the URL the method's form posts to; Error a message to show.
	Action, Error string
	// Next, if set, is where the browser goes after a success instead of
	// continuing a login (a key added at /mfa/keys).
	Next string
}

func (b *Server) newMFACall(w http.ResponseWriter, r *http.Request, snap *Snapshot, s *Session, p *Pending) *mfaCall {
	id := s.Identity
	return &mfaCall{b: b, w: w, r: r, snap: snap, s: s, p: p, vault: vault{st: b.Store, keys: snap.vaultKeys, now: b.now, log: b.Logger},
		user: factorUser{Upstream: id.Upstream, Subject: id.Subject, Username: id.Username}}
}

func (c *mfaCall) now() time.Time { return c.b.now() }

func (c *mfaCall) lang() string { return pickLanguage(c.w, c.r, c.snap.sealer.secure) }

// csrf binds a factor form to this session and this login.
func (c *mfaCall) csrf() string { return c.snap.sealer.csrfToken("mfa:" + c.s.ID + ":" + c.p.ID) }

// render shows a factor page with the form fields filled in.
func (c *mfaCall) render(status int, page string, d pageData) {
	d.Action, d.CSRF, d.Error = c.Action, c.csrf(), c.Error
	if c.Error != "" && status == http.StatusOK {
		status = http.StatusUnauthorized
	}
	c.b.render(c.w, c.r, c.snap, status, page, d)
}

// codePage is a page with a code form, its texts given by message keys.
func codePage(c *mfaCall, heading, intro, label, submit string, numeric bool) pageData {
	t := func(k string) string { return translate(c.lang(), k) }
	return pageData{Heading: t(heading), Message: t(intro), Label: t(label), Submit: t(submit), Numeric: numeric}
}

// audit writes an "mfa" event about this call's user.
func (c *mfaCall) audit(outcome, method, reason string) {
	c.b.Audit.Record(AuditEvent{Time: c.now(), Event: "mfa", Outcome: outcome, User: c.s.Identity.Username,
		Upstream: c.user.Upstream, App: c.p.App, Rule: method, Reason: reason,
		ClientIP: clientIP(c.r, c.snap), UserAgent: c.r.UserAgent(), CorrelationID: requestID(c.r.Context())})
}

// mfaLogin opens the session and the step-up login of a factor page. The
// login must be a step-up made for this very session.
func (b *Server) mfaLogin(w http.ResponseWriter, r *http.Request) (*mfaCall, bool) {
	snap := snapOf(r)
	p, ok := b.loadPending(r, snap)
	s := b.loadSession(r, snap)
	if !ok || s == nil || p.MFA == nil || p.Session != s.ID {
		b.expired(w, r, snap)
		return nil, false
	}
	c := b.newMFACall(w, r, snap, s, p)
	c.Action = r.URL.Path + "?l=" + p.ID
	return c, true
}

// mfaStart: GET /mfa. One factor that would do goes straight to its page;
// several are offered; none, to enrolment.
func (b *Server) mfaStart(w http.ResponseWriter, r *http.Request) {
	c, ok := b.mfaLogin(w, r)
	if !ok {
		return
	}
	names, err := b.localFactors(r, c.snap, c.s, c.p.MFA.Methods)
	if err != nil {
		b.fail(w, r, c.snap, http.StatusServiceUnavailable, "err.unavailable", err)
		return
	}
	b.offer(c, names, "/mfa/")
}

// offer sends the browser to the one method, or shows the chooser.
func (b *Server) offer(c *mfaCall, names []string, base string) {
	q := "?l=" + c.p.ID
	switch len(names) {
	case 0:
		c.audit("deny", "", "mfa-not-enrolled")
		b.fail(c.w, c.r, c.snap, http.StatusForbidden, "err.mfa.enrol", nil, c.snap.contact(c.lang()))
	case 1:
		http.Redirect(c.w, c.r, base+names[0]+q, http.StatusSeeOther)
	default:
		d := pageData{Heading: translate(c.lang(), "mfa.choose")}
		for _, n := range names {
			d.Choices = append(d.Choices, choice{Name: translate(c.lang(), "mfa.method."+n), Href: base + url.PathEscape(n) + q, Ready: true})
		}
		c.render(http.StatusOK, "mfachooser", d)
	}
}

// mfaMethodOf is the request's {method}, which the user must have (or,
// enrolling, be able to enrol).
func (b *Server) mfaMethodOf(c *mfaCall) (mfaMethod, bool) {
	m := mfaMethodByName(c.r.PathValue("method"))
	if m == nil || !satisfies(m, c.p.MFA.Methods) {
		c.audit("failure", "", "mfa-method-not-offered")
		b.fail(c.w, c.r, c.snap, http.StatusNotFound, "err.notfound", nil)
		return nil, false
	}
	return m, true
}

// mfaChallenge: GET /mfa/{method}.
func (b *Server) mfaChallenge(w http.ResponseWriter, r *http.Request) {
	c, ok := b.mfaLogin(w, r)
	if !ok {
		return
	}
	if m, ok := b.mfaEnrolledMethod(c); ok {
		m.Challenge(c)
	}
}

func (b *Server) mfaEnrolledMethod(c *mfaCall) (mfaMethod, bool) {
	m, ok := b.mfaMethodOf(c)
	if !ok {
		return nil, false
	}
	has, err := m.Enrolled(c)
	if err != nil {
		b.fail(c.w, c.r, c.snap, http.StatusServiceUnavailable, "err.unavailable", err)
		return nil, false
	}
	if !has {
		c.audit("failure", m.Name(), "mfa-not-enrolled")
		b.fail(c.w, c.r, c.snap, http.StatusForbidden, "err.mfa.enrol", nil, c.snap.contact(c.lang()))
		return nil, false
	}
	return m, true
}

// mfaAnswer: POST /mfa/{method}.
func (b *Server) mfaAnswer(w http.ResponseWriter, r *http.Request) {
	c, ok := b.mfaLogin(w, r)
	if !ok || !b.mfaForm(c) {
		return
	}
	m, ok := b.mfaEnrolledMethod(c)
	if !ok {
		return
	}
	b.checkFactor(c, m, m.Verify, m.Challenge, b.afterFactor)
}

// mfaForm parses a factor form and checks its CSRF token.
func (b *Server) mfaForm(c *mfaCall) bool {
	if err := c.r.ParseForm(); err != nil {
		b.fail(c.w, c.r, c.snap, http.StatusBadRequest, "err.badrequest", err)
		return false
	}
	if !c.snap.sealer.checkCSRF("mfa:"+c.s.ID+":"+c.p.ID, c.r.PostForm.Get("csrf")) {
		c.audit("failure", c.r.PathValue("method"), "csrf")
		b.fail(c.w, c.r, c.snap, http.StatusForbidden, "err.csrf", errors.New("mfa csrf token mismatch"))
		return false
	}
	return true
}

// checkFactor runs one throttled check (a Verify or an enrolment's
// Confirm) and, on success, gives the session the factor and goes on to
// next. again shows the form once more after a wrong answer.
func (b *Server) checkFactor(c *mfaCall, m mfaMethod, check func(*mfaCall) error, again, next func(*mfaCall)) {
	t := c.snap.Config.Throttle
	ip := proxy.ClientIP(c.r, c.snap.trust)
	done, wait, err := b.attempt(c.r.Context(), t.Window,
		limit{"mfa:" + c.user.id(), int64(t.MaxFailures)}, limit{ipKey(ip), int64(t.MaxFailuresPerIP)})
	if err != nil {
		b.fail(c.w, c.r, c.snap, http.StatusServiceUnavailable, "err.unavailable", err)
		return
	}
	if wait > 0 {
		c.audit("failure", m.Name(), "throttled")
		c.w.Header().Set("Retry-After", strconv.Itoa(seconds(wait)))
		c.Error = translate(c.lang(), "err.throttled", seconds(wait))
		b.failStatus(c, again, http.StatusTooManyRequests)
		return
	}
	err = check(c)
	if errors.Is(err, errFactorWrong) {
		done(protocols.ErrInvalidCredentials)
		c.audit("failure", m.Name(), reasonOfFactor(err))
		c.Error = translate(c.lang(), "err.mfa.wrong")
		var fw *factorWrong
		switch {
		case errors.Is(err, errFactorReplayed):
			c.Error = translate(c.lang(), "err.mfa.used")
		case errors.As(err, &fw):
			c.Error = translate(c.lang(), fw.message)
		}
		b.failStatus(c, again, http.StatusUnauthorized)
		return
	}
	done(err)
	if err != nil {
		b.fail(c.w, c.r, c.snap, http.StatusServiceUnavailable, "err.unavailable", err)
		return
	}
	c.audit("success", m.Name(), "")
	c.s.proven(m, c.now())
	b.writeCookieSession(c.w, c.snap, c.s, sessionCookie)
	next(c)
}

// failStatus renders again with status (the methods render 200 by default).
func (b *Server) failStatus(c *mfaCall, again func(*mfaCall), status int) {
	cc := *c
	cc.w = statusWriter{c.w, status}
	again(&cc)
}

// afterFactor continues the login with the session that now has the
// factor: the one decision runs again (complete).
func (b *Server) afterFactor(c *mfaCall) {
	if c.Next != "" {
		http.Redirect(c.w, c.r, c.Next, http.StatusSeeOther)
		return
	}
	c.snap.sealer.clear(c.w, pendingPrefix+c.p.ID)
	b.complete(c.w, c.r, c.snap, c.p, c.s)
}

// statusWriter replaces the status a page is written with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s statusWriter) WriteHeader(int) { s.ResponseWriter.WriteHeader(s.status) }

// contact is whom to ask for a factor (config mfa.contact), in lang.
func (s *Snapshot) contact(lang string) string {
	t := s.Config.MFA.Contact
	if lang == "ja" && t.Ja != "" {
		return t.Ja
	}
	if t.En != "" {
		return t.En
	}
	return translate(lang, "mfa.contact.default")
}
