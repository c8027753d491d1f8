package broker

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/fedgate/fedgate/proxy"
)

// verify is the forward-auth endpoint for nginx auth_request, Traefik
// ForwardAuth and Caddy forward_auth. The reverse proxy in front of the app
// asks about the original request, described by X-Forwarded-Host and
// X-Original-URI (nginx) or X-Forwarded-Uri (Traefik, Caddy); those headers
// are believed only from a trusted proxy. Answers: 200 with the identity
// headers and the app's own cookies (completeAnswer); 401 without a
// session (with ?rd=1, a 303 to sign in, for proxies that pass the answer
// to the browser); 403 when policy denies.
func (b *Server) verify(w http.ResponseWriter, r *http.Request) {
	snap := snapOf(r)
	if !b.requireTrustedProxy(w, r, snap) {
		return
	}
	host := r.Header.Get("X-Forwarded-Host")
	uri := r.Header.Get("X-Original-URI")
	if uri == "" {
		uri = r.Header.Get("X-Forwarded-Uri")
	}
	method := r.Header.Get("X-Original-Method")
	if method == "" {
		method = r.Header.Get("X-Forwarded-Method")
	}
	if method == "" {
		method = http.MethodGet
	}
	orig, err := url.ParseRequestURI(uri)
	if err != nil || host == "" || snap.proxy == nil {
		b.fail(w, r, snap, http.StatusBadRequest, "err.badrequest", errors.New("forward-auth: missing X-Forwarded-Host or original URI"))
		return
	}
	rt, ok := proxy.Match(snap.proxy.Routes(), host, orig)
	if !ok || rt == nil || !rt.ForwardAuth {
		b.fail(w, r, snap, http.StatusForbidden, "err.notfound", errors.New("forward-auth: no forward_auth app for "+host+orig.Path))
		return
	}
	// From here on the request is the original one, as the app would see it.
	or := r.Clone(r.Context())
	or.Method, or.Host, or.URL, or.RequestURI = method, host, orig, uri
	app := snap.apps[rt.App]
	if r.URL.Query().Get("rd") != "1" {
		// Without ?rd=1 the caller cannot pass a redirect on (nginx): 401.
		or.Header.Set("X-Original-URI", uri)
	}
	u := use{App: app, Cookie: appSessionCookie}
	v := b.enforce(or, snap, u)
	// A slid idle timeout comes back as Set-Cookie, which the proxy in
	// front must pass to the browser (docs/proxy.md).
	if !b.answer(w, or, snap, u, v) {
		return
	}
	for k, vs := range sessionHeaders(snap, app, v.Session) {
		w.Header()[k] = vs
	}
	completeAnswer(w.Header(), r, snap.headerPlans[app.ID])
	w.WriteHeader(http.StatusOK)
}

// keptCookieHeader carries, in /auth/verify's 200, the original request's
// Cookie header without fedgate's cookies, for the reverse proxy to send to
// the backend: nginx's own regular expressions cannot take one cookie out of
// a header reliably (duplicates, neighbours' separators).
const keptCookieHeader = "X-Fedgate-Cookie"

// completeAnswer adds the kept cookies, and every configured identity header
// fedgate has no value for as an empty one: a proxy then never keeps the
// client's copy, and Caddy 2.6's copy_headers, which passes its placeholder
// text on for a header that is absent, passes an empty value.
func completeAnswer(h http.Header, r *http.Request, plan headerPlan) {
	h.Set(keptCookieHeader, proxy.KeptCookies(r.Header, ownCookie))
	for _, e := range plan {
		if _, ok := h[e.name]; !ok {
			h[e.name] = []string{""}
		}
	}
}

// requireTrustedProxy: the caller is in server.trusted_proxies, so its
// X-Forwarded-Host and original-URI headers are believed; otherwise the
// request is refused (403) and false returned.
func (b *Server) requireTrustedProxy(w http.ResponseWriter, r *http.Request, snap *Snapshot) bool {
	peer := proxy.ClientIP(&http.Request{RemoteAddr: r.RemoteAddr}, proxy.Trust{})
	for _, p := range snap.Config.Server.TrustedProxies {
		if p.Contains(peer) {
			return true
		}
	}
	b.fail(w, r, snap, http.StatusForbidden, "err.badrequest", errors.New("forward-auth caller "+peer.String()+" is not in server.trusted_proxies"))
	return false
}

// forwardAuthStart (/.fedgate/start on a forward_auth app's host) is where
// nginx sends a browser that auth_request answered 401: nginx cannot
// URL-encode the original URI into a return= parameter, so it passes it in
// X-Original-URI and fedgate builds the sign-in redirect. The return URL is
// on this host (validReturn checks it again at sign-in); a path under
// /.fedgate/ returns to / rather than into a loop.
func (b *Server) forwardAuthStart(w http.ResponseWriter, r *http.Request) {
	snap := snapOf(r)
	if !b.requireTrustedProxy(w, r, snap) {
		return
	}
	orig, err := url.ParseRequestURI(r.Header.Get("X-Original-URI"))
	if err != nil || strings.HasPrefix(strings.ToLower(orig.Path), "/.fedgate/") {
		orig = &url.URL{Path: "/"}
	}
	var rt *proxy.Route
	ok := snap.proxy != nil // nil when a reload removed every proxy app meanwhile
	if ok {
		rt, ok = proxy.Match(snap.proxy.Routes(), r.Host, orig)
	}
	if !ok || rt == nil || !rt.ForwardAuth {
		b.fail(w, r, snap, http.StatusNotFound, "err.notfound", errors.New("forward-auth start: no forward_auth app for "+r.Host+orig.Path))
		return
	}
	b.signInFromAppHost(w, r, snap, rt.App, orig.RequestURI())
}
