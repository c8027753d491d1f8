package oidc

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/fedgate/fedgate/protocols"
)

const bye = "https://app.example/bye"

// signedInHint signs alice in (session sess-1) and returns an ID token.
func signedInHint(t *testing.T) (*opEnv, string, map[string]any) {
	e := newOPEnv(t)
	e.sp.id.SessionID = "sess-1"
	_, m := e.token("conf", confSecret, codeForm(e.code(authorizeQuery(nil))))
	return e, m["id_token"].(string), m
}

// confirmed: the answer is the broker's confirmation page, and after it
// the browser goes to want ("" for the signed-out page).
func (e *opEnv) confirmed(r resp, want string) {
	e.t.Helper()
	if r.code != http.StatusSeeOther || r.location == nil || r.location.Path != protocols.SignOutPath {
		e.t.Fatalf("not the confirmation page: %d %v %s", r.code, r.location, r.body)
	}
	v := r.location.Query().Get("continue")
	if want == "" {
		if v != "" {
			e.t.Fatalf("continues to something: %v", r.location)
		}
		return
	}
	var next string
	if err := e.sp.Open(protocols.SignOutContinue, v, &next); err != nil || next != want {
		e.t.Fatalf("continues to %q (%v), want %q", next, err, want)
	}
}

func TestIDTokenCarriesSessionID(t *testing.T) {
	e, hint, m := signedInHint(t)
	if id, _ := e.verify(hint, jose.RS256); id["sid"] != "sess-1" {
		t.Fatalf("sid = %v", id["sid"])
	}
	_, r := e.token("conf", confSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)}})
	if id, _ := e.verify(r["id_token"].(string), jose.RS256); id["sid"] != "sess-1" {
		t.Fatalf("refreshed sid = %v", id["sid"])
	}
	e.sp.id.SessionID = ""
	_, m = e.token("conf", confSecret, codeForm(e.code(authorizeQuery(nil))))
	if id, _ := e.verify(m["id_token"].(string), jose.RS256); id["sid"] != nil {
		t.Fatalf("sid without a session id: %v", id["sid"])
	}
}

// TestLogoutMatchesSession: a valid id_token_hint ends the session only
// when it was issued in it, to its user (logout CSRF otherwise).
func TestLogoutMatchesSession(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*protocols.Identity) // the browser's session after the hint was issued
		ends   bool
		next   string // where the browser goes; "" the confirmation page
	}{
		{"same session", nil, true, bye + "?state=s1"},
		{"another session of the user", func(id *protocols.Identity) { id.SessionID = "sess-2" }, false, ""},
		{"another user in the same session id", func(id *protocols.Identity) { id.Subject = "u-bob" }, false, ""},
		{"another upstream's user", func(id *protocols.Identity) { id.Upstream = "partner" }, false, ""},
		{"no session", func(id *protocols.Identity) { id.Subject = "" }, false, bye + "?state=s1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, hint, _ := signedInHint(t)
			if tc.change != nil {
				tc.change(&e.sp.id)
			}
			r := e.get(LogoutPath, url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {bye}, "state": {"s1"}})
			if e.sp.ended != map[bool]int{true: 1}[tc.ends] {
				t.Fatalf("ended = %d", e.sp.ended)
			}
			if tc.next == "" {
				e.confirmed(r, bye+"?state=s1")
				if !e.sp.audited("oidc-logout", "failure") {
					t.Error("mismatch not audited")
				}
				return
			}
			if r.code != http.StatusSeeOther || r.location.String() != tc.next {
				t.Fatalf("%d %v", r.code, r.location)
			}
		})
	}
}

func TestLogoutWithHint(t *testing.T) {
	e, hint, m := signedInHint(t)
	e.sp.advance(time.Hour) // an expired hint is fine
	r := e.get(LogoutPath, url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://evil.example/"}})
	if r.code != http.StatusBadRequest || r.location != nil || e.sp.ended != 0 {
		t.Fatalf("unregistered post_logout_redirect_uri: %d %v", r.code, r.location)
	}
	r = e.get(LogoutPath, url.Values{"id_token_hint": {hint}, "client_id": {"post"}})
	if r.code != http.StatusBadRequest || e.sp.ended != 0 {
		t.Fatalf("client_id of another client: %d %v", r.code, r.location)
	}
	// An access token is no ID token: as if there were no hint.
	e.confirmed(e.get(LogoutPath, url.Values{"id_token_hint": {m["access_token"].(string)}}), "")
	r = e.get(LogoutPath, url.Values{"id_token_hint": {hint}})
	if r.location.String() != signedOutPath || e.sp.ended != 1 {
		t.Fatalf("no post-logout URI: %v", r.location)
	}
}

// TestLogoutWithoutHint: fedgate's confirmation page, never a 400 for a
// post_logout_redirect_uri; after it, the URI if registered for client_id.
func TestLogoutWithoutHint(t *testing.T) {
	for _, tc := range []struct {
		name string
		q    url.Values
		next string
	}{
		{"nothing", url.Values{}, ""},
		{"registered for client_id", url.Values{"client_id": {"conf"}, "post_logout_redirect_uri": {bye}, "state": {"s&1"}}, bye + "?state=s%261"},
		{"registered, no client_id", url.Values{"post_logout_redirect_uri": {bye}}, ""},
		{"registered for another client", url.Values{"client_id": {"post"}, "post_logout_redirect_uri": {bye}}, ""},
		{"not registered", url.Values{"client_id": {"conf"}, "post_logout_redirect_uri": {"https://evil.example/"}}, ""},
		{"unknown client", url.Values{"client_id": {"nope"}, "post_logout_redirect_uri": {bye}}, ""},
		{"forged hint", url.Values{"id_token_hint": {"eyJhbGciOiJub25lIn0.e30."}, "client_id": {"conf"}, "post_logout_redirect_uri": {bye}}, bye},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newOPEnv(t)
			e.sp.id.SessionID = "sess-1"
			e.confirmed(e.get(LogoutPath, tc.q), tc.next)
			if e.sp.ended != 0 {
				t.Fatal("signed out without confirmation")
			}
		})
	}
}

// TestRefreshRechecksSession: a refresh asks the broker again; a session
// that signed out (or a policy that now says no) gets no tokens, and the
// refresh token is not spent on the way.
func TestRefreshRechecksSession(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"signed out", protocols.ErrLoginRequired},
		{"policy says no", protocols.ErrAccessDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _, m := signedInHint(t)
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)}}
			e.sp.recheck = tc.err
			claims := len(e.sp.claims)
			if r, got := e.token("conf", confSecret, form); r.code != http.StatusBadRequest || got["error"] != "invalid_grant" {
				t.Fatalf("%d %s", r.code, r.body)
			}
			if len(e.sp.claims) != claims {
				t.Fatal("a refused refresh wrote to the store")
			}
			e.sp.recheck = nil
			if r, _ := e.token("conf", confSecret, form); r.code != http.StatusOK {
				t.Fatalf("allowed again: %d %s", r.code, r.body)
			}
		})
	}
}
