package broker

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/proxy"
)

// Proxy apps live on their own hosts. The sign-in session is a cookie on
// fedgate's host; an app host gets its own session cookie through a
// one-time ticket: after sign-in fedgate redirects to
// https://<app host>/.fedgate/callback?t=<sealed ticket>, which sets the app
// host's cookie. Both cookies are stripped before the backend sees a request.

const (
	appSessionCookie = "fedgate_app"
	bindCookie       = "fedgate_bind" // binds a ticket to the browser that asked for it
	ticketName       = "fedgate_ticket"
	ticketTTL        = time.Minute
	callbackPath     = "/.fedgate/callback"
	signoutPath      = "/.fedgate/signout"
	startPath        = "/.fedgate/start" // nginx's way to sign-in: forwardAuthStart
)

// ownCookie reports fedgate's cookies, which backends never receive.
func ownCookie(name string) bool {
	name = strings.TrimPrefix(name, "__Host-")
	return name == sessionCookie || name == appSessionCookie || name == bindCookie || name == rememberCookie ||
		name == langCookie || strings.HasPrefix(name, pendingPrefix)
}

// routes turns the config's proxy apps into proxy routes.
func proxyRoutes(cfg *config.Config) ([]*proxy.Route, error) {
	var out []*proxy.Route
	for _, a := range cfg.Apps {
		if a.Type != "proxy" && a.Type != "forward_auth" {
			continue
		}
		rt := &proxy.Route{App: a.ID, Host: a.Host, PathPrefix: a.PathPrefix,
			PreserveHost: a.PreserveHost, HostHeader: a.HostHeader, ForwardAuth: a.Type == "forward_auth"}
		for _, t := range a.To {
			u, err := url.Parse(t)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("broker: app %s: backend %q is not a URL", a.ID, t)
			}
			rt.Targets = append(rt.Targets, u)
		}
		for name := range a.Headers {
			rt.IdentityHeaders = append(rt.IdentityHeaders, name)
		}
		rt.AssertionHeader = a.JWTAssertion
		out = append(out, rt)
	}
	return out, nil
}

// attachProxy builds the snapshot's reverse proxy, reusing one transport
// per CA file across reloads so keep-alive pools survive them.
func (b *Server) attachProxy(snap *Snapshot) error {
	routes, err := proxyRoutes(snap.Config)
	if err != nil || len(routes) == 0 {
		return err
	}
	ca := ""
	for _, a := range snap.Config.Apps {
		if a.CAFile != "" {
			ca = a.CAFile
		}
	}
	b.transportMu.Lock()
	t, ok := b.transports[ca]
	if !ok {
		var pool *x509.CertPool
		if ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				b.transportMu.Unlock()
				return fmt.Errorf("broker: ca_file: %w", err)
			}
			pool = x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				b.transportMu.Unlock()
				return fmt.Errorf("broker: ca_file %s holds no PEM certificate", ca)
			}
		}
		t = proxy.NewTransport(pool)
		b.transports[ca] = t
	}
	b.transportMu.Unlock()
	snap.proxy, err = proxy.New(routes, proxy.Options{
		Authorizer: proxyAuthorizer{b}, Trust: snap.trust,
		StripCookie: ownCookie, Logger: b.Logger, Transport: t,
		ErrorPage: b.proxyErrorPage,
	})
	return err
}

// proxyErrorPage is fedgate's answer on an app host when the proxy cannot
// pass a request on: a bad or unknown path, a body that did not arrive in
// time, or the backend down.
func (b *Server) proxyErrorPage(w http.ResponseWriter, r *http.Request, status int) {
	if st, ok := r.Context().Value(ctxKey{}).(*reqState); ok {
		st.ownAnswer(w)
	}
	key := "err.backend"
	switch status {
	case http.StatusBadRequest:
		key = "err.badrequest"
	case http.StatusNotFound:
		key = "err.notfound"
	case http.StatusRequestTimeout:
		key = "err.timeout"
	}
	b.fail(w, r, snapOf(r), status, key, nil)
}

// proxyAuthorizer is the broker as the proxy's Authorizer.
type proxyAuthorizer struct{ b *Server }

// Authorize runs on every proxied request: a session on this host, the
// app's policy now, then the identity headers.
func (pa proxyAuthorizer) Authorize(w http.ResponseWriter, r *http.Request, rt *proxy.Route) (http.Header, bool) {
	b, snap := pa.b, snapOf(r)
	app := snap.apps[rt.App]
	u := use{App: app, Cookie: appSessionCookie}
	v := b.enforce(r, snap, u)
	if !b.answer(w, r, snap, u, v) {
		return nil, false
	}
	s := v.Session
	h := sessionHeaders(snap, app, s)
	if app.JWTAssertion != "" {
		jwt, err := b.assertion(snap, app, s)
		if err != nil {
			b.fail(w, r, snap, http.StatusInternalServerError, "err.internal", err)
			return nil, false
		}
		h = h.Clone() // the cached headers are shared
		h.Set(app.JWTAssertion, jwt)
	}
	r.Context().Value(ctxKey{}).(*reqState).forwarding(w)
	return h, true
}

// sessionHeaders are the identity headers for s at app, worked out once
// per session cookie (they depend on nothing else). Read-only: they may be
// shared with other requests.
func sessionHeaders(snap *Snapshot, app *config.App, s *Session) http.Header {
	m := s.memo
	if m == nil {
		return identityHeaders(app, snap.headerPlans[app.ID], s.identity())
	}
	if mh := m.headers.Load(); mh != nil && mh.app == app {
		return mh.h
	}
	h := identityHeaders(app, snap.headerPlans[app.ID], s.identity())
	m.headers.Store(&memoHeaders{app: app, h: h})
	return h
}

// toSignIn sends a browser to fedgate's sign-in, to come back to this very
// URL; an API client gets 401, and so does nginx asking about a
// forward_auth app (auth_request understands only 2xx, 401 and 403).
func (b *Server) toSignIn(w http.ResponseWriter, r *http.Request, snap *Snapshot, app *config.App) {
	nginx := app.Type == "forward_auth" && r.Header.Get("X-Original-URI") != ""
	if nginx || r.Method != http.MethodGet || wantsJSON(r) || !strings.Contains(r.Header.Get("Accept"), "text/html") {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fedgate"`)
		b.fail(w, r, snap, http.StatusUnauthorized, "err.signin", nil)
		return
	}
	b.signInFromAppHost(w, r, snap, app.ID, r.URL.RequestURI())
}

// signInFromAppHost sends the browser from an app host to fedgate's
// sign-in, bound to this browser from the start (so its first ticket can
// be redeemed), to come back to requestURI on this host.
func (b *Server) signInFromAppHost(w http.ResponseWriter, r *http.Request, snap *Snapshot, app, requestURI string) {
	bind, err := b.newBinding(w, r, snap)
	if err != nil {
		b.fail(w, r, snap, http.StatusInternalServerError, "err.internal", err)
		return
	}
	q := url.Values{"app": {app}, "return": {b.appURL(snap, r.Host, requestURI)}, "bind": {bind}}
	http.Redirect(w, r, publicBase(snap)+"/login?"+q.Encode(), http.StatusSeeOther)
}

func publicBase(snap *Snapshot) string { return strings.TrimSuffix(snap.Config.Server.PublicURL, "/") }

// appURL is an absolute URL on an app host, with the public URL's scheme.
func (b *Server) appURL(snap *Snapshot, host, requestURI string) string {
	pub, _ := url.Parse(snap.Config.Server.PublicURL)
	return pub.Scheme + "://" + host + requestURI
}

// headerPlan is an app's identity headers, resolved once per snapshot:
// canonical names and their sources.
type headerPlan []struct{ name, source string }

func newHeaderPlan(app *config.App) headerPlan {
	var p headerPlan
	for name, src := range app.Headers {
		p = append(p, struct{ name, source string }{http.CanonicalHeaderKey(name), src})
	}
	return p
}

// identityHeaders maps the identity to the app's configured headers.
func identityHeaders(app *config.App, plan headerPlan, id protocols.Identity) http.Header {
	h := make(http.Header, len(plan)+1)
	for _, e := range plan {
		var v string
		switch e.source {
		case "username":
			v = id.Username
		case "upn":
			v = id.Claims["upn"]
			if v == "" {
				v = id.Username
			}
		case "email":
			v = id.Email
		case "name":
			v = id.DisplayName
		case "groups":
			v = proxy.EncodeList(id.Groups, app.GroupsSeparator)
		case "subject":
			v = id.Subject
		case "upstream":
			v = id.Upstream
		default:
			v = id.Claims[strings.TrimPrefix(e.source, "claim:")]
		}
		if v != "" {
			h[e.name] = []string{proxy.EncodeValue(v)}
		}
	}
	return h
}

// validReturn accepts a local path, or an absolute URL on a proxy app's
// host (exact host match, http(s), no user info): nothing else is a place
// fedgate sends a browser back to.
func validReturn(snap *Snapshot, s string) (string, bool) {
	if local, ok := localPath(s); ok {
		return local, true
	}
	u, err := url.Parse(s)
	pub, _ := url.Parse(snap.Config.Server.PublicURL)
	// Same scheme as fedgate's: a ticket must never travel over plain HTTP
	// from an https deployment.
	if err != nil || !strings.EqualFold(u.Scheme, pub.Scheme) || u.User != nil || u.Opaque != "" ||
		snap.proxy == nil || !snap.proxy.HasHost(u.Host) || strings.ContainsAny(s, "\\\t\r\n") {
		return "", false
	}
	local, ok := localPath(u.RequestURI())
	if !ok {
		return "", false
	}
	return pub.Scheme + "://" + u.Host + local, true
}

// ticket carries a session from fedgate's host to an app host, once.
type ticket struct {
	ID      string    `json:"id"`
	Exp     time.Time `json:"x"`
	App     string    `json:"a"`
	Bind    string    `json:"b"`
	Host    string    `json:"h"`
	Return  string    `json:"r"`
	Session Session   `json:"s"`
}

// redirectAfterLogin goes to where the login was headed: a local path as
// is, an app host through a ticket bound to the browser (p.Bind).
func (b *Server) redirectAfterLogin(w http.ResponseWriter, r *http.Request, snap *Snapshot, s *Session, p *Pending) {
	u, err := url.Parse(p.Return)
	if err != nil || u.Host == "" {
		http.Redirect(w, r, p.Return, http.StatusSeeOther)
		return
	}
	t := ticket{ID: randomID(), Exp: b.now().Add(ticketTTL), App: p.App, Bind: p.Bind, Host: u.Host, Return: u.RequestURI(), Session: *s}
	sealed, err := snap.sealer.sealValue(ticketName, t)
	if err != nil {
		b.fail(w, r, snap, http.StatusInternalServerError, "err.internal", err)
		return
	}
	http.Redirect(w, r, u.Scheme+"://"+u.Host+callbackPath+"?t="+url.QueryEscape(sealed), http.StatusSeeOther)
}

// appHostCallback redeems a ticket on the app host: right host, young
// enough, bound to this browser, never used before; then the host's session
// cookie is set. A ticket not bound to this browser (someone else's, pushed
// at it: login CSRF) is not redeemed: the browser is bound now and sent to
// get its own ticket, which its own session or sign-in answers.
func (b *Server) appHostCallback(w http.ResponseWriter, r *http.Request) {
	snap := snapOf(r)
	var t ticket
	err := snap.sealer.openValue(ticketName, r.URL.Query().Get("t"), &t)
	switch {
	case err != nil:
	case !b.now().Before(t.Exp):
		err = errors.New("ticket expired")
	case !strings.EqualFold(t.Host, r.Host):
		err = errors.New("ticket for another host")
	case !t.Session.valid(b.now(), snap.Config.Session.Idle):
		err = errors.New("ticket session expired")
	}
	if err == nil {
		// Spent before the binding is compared: a ticket that reached a
		// browser it was not bound to is dead, whoever else learns it.
		var first bool
		first, err = b.Store.Claim(r.Context(), "ticket:"+t.ID, t.Exp)
		if err == nil && !first {
			err = errors.New("ticket replayed")
		}
	}
	if err == nil && (t.Bind == "" || cookieValue(r, snap.sealer.name(bindCookie)) != t.Bind) {
		if t.Bind != "" {
			b.Audit.Record(AuditEvent{Time: b.now(), Event: "ticket", Outcome: "failure", Reason: "binding-mismatch",
				App: t.App, User: t.Session.Identity.Username, Upstream: t.Session.Identity.Upstream,
				ClientIP: clientIP(r, snap), UserAgent: r.UserAgent(), CorrelationID: requestID(r.Context())})
		}
		ret, ok := localPath(t.Return)
		if !ok {
			ret = "/"
		}
		b.signInFromAppHost(w, r, snap, t.App, ret)
		return
	}
	if err != nil {
		b.fail(w, r, snap, http.StatusBadRequest, "err.expired", err)
		return
	}
	ret, ok := localPath(t.Return)
	if !ok {
		ret = "/"
	}
	snap.sealer.clear(w, bindCookie)
	t.Session.Host = r.Host // this cookie is good on this host only
	b.writeCookieSession(w, snap, &t.Session, appSessionCookie)
	http.Redirect(w, r, ret, http.StatusSeeOther)
}

// newBinding gives this browser a fresh binding on the app host and
// returns it sealed for fedgate's sign-in: for this host only and briefly,
// so a value in a link is never taken as a binding (openBind).
func (b *Server) newBinding(w http.ResponseWriter, r *http.Request, snap *Snapshot) (string, error) {
	bind := randomID()
	sealed, err := snap.sealer.sealValue(bindRequestName, bindRequest{Nonce: bind, Host: r.Host, Exp: b.now().Add(pendingTTL)})
	if err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{Name: snap.sealer.name(bindCookie), Value: bind, Path: "/", MaxAge: int(pendingTTL.Seconds()),
		Secure: snap.sealer.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return sealed, nil
}

// bindRequest is an app host's binding on its way to fedgate's sign-in.
type bindRequest struct {
	Nonce string    `json:"n"`
	Host  string    `json:"h"`
	Exp   time.Time `json:"x"`
}

const bindRequestName = "fedgate_bindreq"

// openBind returns the binding a sign-in for an app host may carry: one
// that fedgate sealed, for the host the sign-in returns to, still young.
func (b *Server) openBind(snap *Snapshot, sealed, returnURL string) string {
	var br bindRequest
	u, err := url.Parse(returnURL)
	if sealed == "" || err != nil || snap.sealer.openValue(bindRequestName, sealed, &br) != nil ||
		!strings.EqualFold(br.Host, u.Host) || !b.now().Before(br.Exp) {
		return ""
	}
	return br.Nonce
}

// appHostSignout ends the app host's session and continues to fedgate's
// sign-out page (which asks before ending the single sign-on session).
func (b *Server) appHostSignout(w http.ResponseWriter, r *http.Request) {
	snap := snapOf(r)
	snap.sealer.clear(w, appSessionCookie)
	http.Redirect(w, r, publicBase(snap)+"/logout", http.StatusSeeOther)
}
