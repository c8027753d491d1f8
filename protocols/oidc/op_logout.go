package oidc

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/fedgate/fedgate/protocols"
)

// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
//
// With a valid id_token_hint (signed by fedgate — an expired one is fine)
// the session ends at once and the browser goes to the client's
// post_logout_redirect_uri (exact match against that client's list, with
// state) or to the broker's signed-out page. Without one, nobody proved
// the request came from a client the user used: the browser is sent to the
// broker's own sign-out confirmation page (CSRF-protected), and no
// post_logout_redirect_uri is honoured.

func (p *Provider) logout(w http.ResponseWriter, r *http.Request, sp protocols.SessionProvider) {
	var q url.Values
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			sp.Refuse(w, r, http.StatusBadRequest, protocols.RefusedSignOut, "request not readable")
			return
		}
		q = r.PostForm
	} else {
		var err error
		if q, err = url.ParseQuery(r.URL.RawQuery); err != nil {
			sp.Refuse(w, r, http.StatusBadRequest, protocols.RefusedSignOut, "malformed query")
			return
		}
	}
	for k, vs := range q {
		if len(vs) > 1 || len(vs[0]) > maxBearerLen {
			sp.Refuse(w, r, http.StatusBadRequest, protocols.RefusedSignOut, "parameter "+clip(k)+" repeated or too long")
			return
		}
	}
	var c *opClient
	valid := false
	if hint := q.Get("id_token_hint"); hint != "" {
		if claims, err := p.verifyOwn(hint, "JWT"); err == nil {
			aud, _ := claims["aud"].(string)
			if c = p.clients[aud]; c != nil {
				valid = true
			}
		}
	}
	if id := q.Get("client_id"); id != "" {
		switch {
		case c != nil && c.ClientID != id:
			sp.Refuse(w, r, http.StatusBadRequest, protocols.RefusedSignOut, "client_id does not match id_token_hint")
			return
		case c == nil:
			c = p.clients[id]
		}
	}
	post := q.Get("post_logout_redirect_uri")
	if post != "" && (c == nil || !slices.Contains(c.PostLogoutRedirectURIs, post)) {
		ev := protocols.AuditEvent{Event: "oidc-logout", Outcome: "failure", Reason: "post_logout_redirect_uri not registered"}
		if c != nil {
			ev.App = c.app
		}
		sp.Audit(r, ev)
		sp.Refuse(w, r, http.StatusBadRequest, protocols.RefusedSignOut, "post_logout_redirect_uri not registered")
		return
	}
	if !valid {
		http.Redirect(w, r, logoutPage, http.StatusSeeOther)
		return
	}
	if err := sp.EndSession(w, r); err != nil {
		p.logger.ErrorContext(r.Context(), "oidc provider: end session", "err", err, "request_id", w.Header().Get("X-Request-Id"))
		http.Error(w, "Sign-out could not be completed; try again. Id: "+w.Header().Get("X-Request-Id"), http.StatusServiceUnavailable)
		return
	}
	sp.Audit(r, protocols.AuditEvent{Event: "oidc-logout", Outcome: "success", App: c.app})
	w.Header().Set("Cache-Control", "no-store")
	if post == "" {
		http.Redirect(w, r, signedOutPath, http.StatusSeeOther)
		return
	}
	if s := q.Get("state"); s != "" {
		sep := "?"
		if strings.Contains(post, "?") {
			sep = "&"
		}
		post += sep + url.Values{"state": {s}}.Encode()
	}
	http.Redirect(w, r, post, http.StatusSeeOther)
}
