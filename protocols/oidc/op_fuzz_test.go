package oidc

import (
	"net/url"
	"testing"
)

// FuzzParseAuthorize: any query either fails cleanly or yields a request
// within the bounds the resume URL needs, for a registered redirect URI.
func FuzzParseAuthorize(f *testing.F) {
	e := newOPEnv(f)
	f.Add(authorizeQuery(nil).Encode())
	f.Add(authorizeQuery(func(q url.Values) { q.Set("prompt", "none login"); q.Set("max_age", "99999999999") }).Encode())
	f.Add("client_id=conf&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&client_id=x")
	f.Add("client_id=spa&redirect_uri=http://127.0.0.1:3000/cb&response_type=code&scope=openid&code_challenge_method=plain")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		c, a, err := e.p.parseAuthorize(q)
		if a != nil && (c == nil || c.redirectByTag(a.RedirectTag) != a.redirect || a.redirect == "") {
			t.Fatalf("request without a registered redirect: %+v", a)
		}
		if err != nil {
			return
		}
		if len(a.State) > maxStateLen || len(a.Nonce) > maxNonceLen || len(a.LoginHint) > maxHintLen || len(a.Challenge) > pkceMaxLen {
			t.Fatalf("unbounded: %+v", a)
		}
		if c.Public && a.Challenge == "" {
			t.Fatal("public client without PKCE")
		}
	})
}

// FuzzParseClientAssertion: never panics, bounded.
func FuzzParseClientAssertion(f *testing.F) {
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJqd3QifQ.")
	f.Add("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJhdWQiOlsiYSIsImIiXSwiZXhwIjoxZTEwfQ.c2ln")
	f.Add("a.b.c.d.e")
	f.Fuzz(func(t *testing.T, raw string) {
		jws, _, err := parseClientAssertion(raw)
		if err == nil && (len(raw) > maxAssertionLen || len(jws.Signatures) != 1) {
			t.Fatal("accepted out of bounds")
		}
	})
}
