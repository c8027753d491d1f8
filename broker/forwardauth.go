package broker

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/fedgate/fedgate/proxy"
)

// verify is the forward-auth endpoint for nginx auth_request, Traefik
// ForwardAuth and Caddy forward_auth. The reverse proxy in front of the app
// asks about the original request, described by X-Forwarded-Host and
// X-Original-URI (nginx) or X-Forwarded-Uri (Traefik, Caddy); those headers
// are believed only from a trusted proxy. Answers: 200 with the identity
// headers; 401 without a session (with ?rd=1, a 302 to sign in, for
// proxies that pass the answer to the browser); 403 when policy denies.
func (b *Server) verify(w http.ResponseWriter, r *http.Request) {
	snap := snapOf(r)
	peer := proxy.ClientIP(&http.Request{RemoteAddr: r.RemoteAddr}, proxy.Trust{})
	trusted := false
	for _, p := range snap.Config.Server.TrustedProxies {
		trusted = trusted || p.Contains(peer)
	}
	if !trusted {
		b.fail(w, r, snap, http.StatusForbidden, "err.badrequest", errors.New("forward-auth caller "+peer.String()+" is not in server.trusted_proxies"))
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
	for k, vs := range identityHeaders(app, snap.headerPlans[app.ID], v.Session.Identity) {
		w.Header()[k] = vs
	}
	w.WriteHeader(http.StatusOK)
}
