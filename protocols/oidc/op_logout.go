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
// A valid id_token_hint (signed by fedgate — an expired one is fine) names
// the client; post_logout_redirect_uri must then be one of its own (exact
// match) or the request is refused. The session ends at once only when the
// hint was issued in it (sid and sub): any page can make a browser follow
// a logout link, and a hint from another session or user proves nothing
// (logout CSRF). Otherwise the browser goes to the broker's confirmation
// page (CSRF-protected), and after it to post_logout_redirect_uri when that
// is registered for the client named by the hint or by client_id. With no
// session there is nothing to end: a valid hint goes straight on.

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
	var hint map[string]any
	if raw := q.Get("id_token_hint"); raw != "" {
		if claims, err := p.verifyOwn(raw, "JWT"); err == nil {
			aud, _ := claims["aud"].(string)
			if c = p.clients[aud]; c != nil {
				hint = claims
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
	ev := protocols.AuditEvent{Event: "oidc-logout"}
	if c != nil {
		ev.App = c.app
	}
	post := q.Get("post_logout_redirect_uri")
	if post != "" && (c == nil || !slices.Contains(c.PostLogoutRedirectURIs, post)) {
		ev.Outcome, ev.Reason = "failure", "post_logout_redirect_uri not registered"
		sp.Audit(r, ev)
		if hint != nil {
			sp.Refuse(w, r, http.StatusBadRequest, protocols.RefusedSignOut, "post_logout_redirect_uri not registered")
			return
		}
		post = "" // nothing proves which app asked: the user stays on fedgate
	}
	if s := q.Get("state"); s != "" && post != "" {
		sep := "?"
		if strings.Contains(post, "?") {
			sep = "&"
		}
		post += sep + url.Values{"state": {s}}.Encode()
	}
	if hint == nil {
		protocols.ConfirmSignOut(w, r, sp, post)
		return
	}
	cur, signedIn := sp.Current(r)
	switch {
	case !signedIn:
		ev.Outcome, ev.Reason = "success", "no session"
	case !c.issuedIn(hint, cur):
		ev.Outcome, ev.Reason = "failure", "id_token_hint is not this session's"
		sp.Audit(r, ev)
		protocols.ConfirmSignOut(w, r, sp, post)
		return
	default:
		if err := sp.EndSession(w, r); err != nil {
			p.logger.ErrorContext(r.Context(), "oidc provider: end session", "err", err, "request_id", w.Header().Get("X-Request-Id"))
			http.Error(w, "Sign-out could not be completed; try again. Id: "+w.Header().Get("X-Request-Id"), http.StatusServiceUnavailable)
			return
		}
		ev.Outcome = "success"
	}
	sp.Audit(r, ev)
	w.Header().Set("Cache-Control", "no-store")
	if post == "" {
		post = signedOutPath
	}
	http.Redirect(w, r, post, http.StatusSeeOther)
}

// issuedIn: the ID token was issued to cur in cur's session — its sid is
// the session's and its sub is what c calls that user. Tokens issued
// before ID tokens carried sid do not match: the user confirms instead.
func (c *opClient) issuedIn(claims map[string]any, cur protocols.Identity) bool {
	sid, _ := claims["sid"].(string)
	sub, _ := claims["sub"].(string)
	return sid != "" && sid == cur.SessionID && sub == c.subject(cur)
}
