package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/fedgate/fedgate/protocols"
)

func TestTokenNegatives(t *testing.T) {
	e := newOPEnv(t)
	for _, tc := range []struct {
		name, user, pass, want string
		status                 int
		form                   func(url.Values)
	}{
		{"wrong secret", "conf", "wrong-secret-0123456789", "invalid_client", 401, nil},
		{"unknown client", "nope", confSecret, "invalid_client", 401, nil},
		{"secret of another client", "conf", "post-secret-0123456789", "invalid_client", 401, nil},
		{"basic for a post client", "post", "post-secret-0123456789", "invalid_client", 401, func(f url.Values) {}},
		{"two methods", "conf", confSecret, "invalid_client", 401, func(f url.Values) { f.Set("client_secret", confSecret) }},
		{"no auth", "", "", "invalid_client", 401, func(f url.Values) { f.Set("client_id", "conf") }},
		{"wrong verifier", "conf", confSecret, "invalid_grant", 400, func(f url.Values) { f.Set("code_verifier", strings.Repeat("a", 43)) }},
		{"no verifier", "conf", confSecret, "invalid_grant", 400, func(f url.Values) { f.Del("code_verifier") }},
		{"other redirect", "conf", confSecret, "invalid_grant", 400, func(f url.Values) { f.Set("redirect_uri", "https://app.example/cb2?x=1") }},
		{"forged code", "conf", confSecret, "invalid_grant", 400, func(f url.Values) { f.Set("code", "forged") }},
		{"grant type", "conf", confSecret, "unsupported_grant_type", 400, func(f url.Values) { f.Set("grant_type", "password") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := codeForm(e.code(authorizeQuery(nil)))
			if tc.form != nil {
				tc.form(form)
			}
			r, m := e.token(tc.user, tc.pass, form)
			if r.code != tc.status || m["error"] != tc.want || r.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("%d %s", r.code, r.body)
			}
			if tc.status == 401 && tc.user != "" && r.header.Get("WWW-Authenticate") == "" {
				t.Fatal("no Basic challenge")
			}
		})
	}
	if !e.sp.audited("oidc-client-auth", "failure") {
		t.Error("refused client authentication not audited")
	}
	// A client with a secret and no explicit method may post it.
	form := codeForm(e.code(authorizeQuery(nil)))
	form.Set("client_id", "conf")
	form.Set("client_secret", confSecret)
	if r, _ := e.token("", "", form); r.code != 200 {
		t.Fatalf("client_secret_post, method unset: %d %s", r.code, r.body)
	}
	// client_secret_post for the client registered with it.
	q := authorizeQuery(func(q url.Values) { q.Set("client_id", "post"); q.Set("redirect_uri", "https://wiki.example/cb") })
	form = codeForm(e.code(q))
	form.Set("redirect_uri", "https://wiki.example/cb")
	form.Set("client_id", "post")
	form.Set("client_secret", "post-secret-0123456789")
	if r, _ := e.token("", "", form); r.code != 200 {
		t.Fatalf("client_secret_post: %d %s", r.code, r.body)
	}
}

func TestCodeExpires(t *testing.T) {
	e := newOPEnv(t)
	code := e.code(authorizeQuery(nil))
	e.sp.advance(codeTTL)
	if r, m := e.token("conf", confSecret, codeForm(code)); r.code != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("expired code: %d %s", r.code, r.body)
	}
}

func TestCodeReuseRevokesFamily(t *testing.T) {
	e := newOPEnv(t)
	code := e.code(authorizeQuery(nil))
	r, first := e.token("conf", confSecret, codeForm(code))
	if r.code != 200 {
		t.Fatal(r.body)
	}
	if r, m := e.token("conf", confSecret, codeForm(code)); r.code != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("second use: %d %s", r.code, r.body)
	}
	if !e.sp.audited("oidc-code-reuse", "failure") {
		t.Error("code reuse not audited")
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first["refresh_token"].(string)}}
	if r, m := e.token("conf", confSecret, refresh); r.code != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("refresh token of a replayed code: %d %s", r.code, r.body)
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+UserInfoPath, nil)
	req.Header.Set("Authorization", "Bearer "+first["access_token"].(string))
	if r := e.do(req); r.code != http.StatusUnauthorized {
		t.Fatalf("access token of a replayed code at userinfo: %d", r.code)
	}
}

func TestRefreshRotation(t *testing.T) {
	e := newOPEnv(t)
	_, m := e.token("conf", confSecret, codeForm(e.code(authorizeQuery(nil))))
	rt1 := m["refresh_token"].(string)
	e.sp.advance(time.Minute)
	r, m2 := e.token("conf", confSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}})
	if r.code != 200 || m2["refresh_token"] == rt1 || m2["refresh_token"] == nil {
		t.Fatalf("refresh: %d %s", r.code, r.body)
	}
	id, _ := e.verify(m2["id_token"].(string), jose.RS256)
	if id["nonce"] != nil || id["sub"] != "corp:u-alice" || id["auth_time"] != float64(e.sp.id.AuthTime.Unix()) {
		t.Fatalf("refreshed id token %v", id)
	}
	// The old one again: refused, and the new one dies with it.
	if r, _ := e.token("conf", confSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}}); r.code != 400 {
		t.Fatalf("old refresh token reused: %d", r.code)
	}
	if r, _ := e.token("conf", confSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m2["refresh_token"].(string)}}); r.code != 400 {
		t.Fatalf("rotated refresh token after reuse: %d", r.code)
	}
	if !e.sp.audited("oidc-refresh-reuse", "failure") {
		t.Error("refresh reuse not audited")
	}
	// Another client cannot use it; the chain ends at refresh_token_max_age.
	_, m = e.token("conf", confSecret, codeForm(e.code(authorizeQuery(nil))))
	if r, _ := e.token("", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)}, "client_id": {"post"},
		"client_secret": {"post-secret-0123456789"}}); r.code != 400 {
		t.Fatalf("refresh by another client: %d", r.code)
	}
	rt := m["refresh_token"].(string)
	for i := 0; ; i++ {
		e.sp.advance(7 * time.Hour)
		r, m := e.token("conf", confSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		if r.code != 200 {
			if i < 3 {
				t.Fatalf("chain ended after %d refreshes", i)
			}
			break
		}
		if m["refresh_token"] == nil {
			break
		}
		rt = m["refresh_token"].(string)
		if i > 4 {
			t.Fatal("refresh chain outlives refresh_token_max_age")
		}
	}
}

func TestPublicClient(t *testing.T) {
	e := newOPEnv(t)
	q := authorizeQuery(func(q url.Values) { q.Set("client_id", "spa"); q.Set("redirect_uri", "http://127.0.0.1:3000/cb") })
	form := codeForm(e.code(q))
	form.Set("redirect_uri", "http://127.0.0.1:3000/cb")
	form.Set("client_id", "spa")
	r, m := e.token("", "", form)
	if r.code != 200 || m["refresh_token"] != nil {
		t.Fatalf("%d %s", r.code, r.body)
	}
}

func TestPrivateKeyJWT(t *testing.T) {
	e := newOPEnv(t)
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: e.clientEC}, (&jose.SignerOptions{}).WithHeader("kid", "ck1"))
	assertion := func(mut func(map[string]any)) string {
		c := map[string]any{"iss": "jwt", "sub": "jwt", "aud": issuer + TokenPath, "jti": randomID(),
			"exp": e.sp.clock().Add(time.Minute).Unix(), "iat": e.sp.clock().Unix()}
		if mut != nil {
			mut(c)
		}
		s, err := sign(signer, c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	try := func(a string) (resp, map[string]any) {
		q := authorizeQuery(func(q url.Values) { q.Set("client_id", "jwt"); q.Set("redirect_uri", "https://jwt.example/cb") })
		form := codeForm(e.code(q))
		form.Set("redirect_uri", "https://jwt.example/cb")
		form.Set("client_assertion_type", jwtBearer)
		form.Set("client_assertion", a)
		return e.token("", "", form)
	}
	good := assertion(nil)
	if r, _ := try(good); r.code != 200 {
		t.Fatalf("private_key_jwt: %d %s", r.code, r.body)
	}
	if r, _ := try(good); r.code != 401 {
		t.Fatalf("replayed assertion: %d", r.code)
	}
	other, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: e.rsa}, nil)
	forged, _ := sign(other, map[string]any{"iss": "jwt", "sub": "jwt", "aud": issuer, "jti": "x",
		"exp": e.sp.clock().Add(time.Minute).Unix()})
	for name, a := range map[string]string{
		"issuer as audience": "", // good, filled below
		"wrong audience":     assertion(func(c map[string]any) { c["aud"] = "https://elsewhere.example" }),
		"expired":            assertion(func(c map[string]any) { c["exp"] = e.sp.clock().Add(-5 * time.Minute).Unix() }),
		"too long-lived":     assertion(func(c map[string]any) { c["exp"] = e.sp.clock().Add(time.Hour).Unix() }),
		"no jti":             assertion(func(c map[string]any) { delete(c, "jti") }),
		"other sub":          assertion(func(c map[string]any) { c["sub"] = "conf" }),
		"wrong key":          forged,
		"alg none":           "eyJhbGciOiJub25lIn0.eyJpc3MiOiJqd3QiLCJzdWIiOiJqd3QifQ.",
	} {
		t.Run(name, func(t *testing.T) {
			want := 401
			if a == "" {
				a, want = assertion(func(c map[string]any) { c["aud"] = []string{issuer} }), 200
			}
			if r, _ := try(a); r.code != want {
				t.Fatalf("%d %s", r.code, r.body)
			}
		})
	}
}

func TestPairwiseES256(t *testing.T) {
	e := newOPEnv(t)
	q := authorizeQuery(func(q url.Values) {
		q.Set("client_id", "pair")
		q.Set("redirect_uri", "https://pair.example/cb")
		q.Set("acr_values", "urn:corp:mfa")
	})
	e.sp.id.AMR = []string{"pwd", "otp", "mfa"}
	form := codeForm(e.code(q))
	form.Set("redirect_uri", "https://pair.example/cb")
	r, m := e.token("pair", "pair-secret-0123456789", form)
	if r.code != 200 {
		t.Fatal(r.body)
	}
	id, h := e.verify(m["id_token"].(string), jose.ES256)
	if h.KeyID != "ec1" || id["acr"] != "urn:corp:mfa" {
		t.Fatalf("%v %v", h, id)
	}
	sub := id["sub"].(string)
	if sub == "corp:u-alice" || len(sub) != 43 || strings.Contains(sub, "alice") {
		t.Fatalf("pairwise sub %q", sub)
	}
	if !e.sp.asked[0].MFA {
		t.Fatal("acr_values with the client's MFA acr did not ask for MFA")
	}
	// Stable across sign-ins.
	form = codeForm(e.code(q))
	form.Set("redirect_uri", "https://pair.example/cb")
	_, m = e.token("pair", "pair-secret-0123456789", form)
	if id, _ := e.verify(m["id_token"].(string), jose.ES256); id["sub"] != sub {
		t.Fatal("pairwise sub changed")
	}
}

func TestClientConfigValidate(t *testing.T) {
	good := ClientConfig{ClientID: "c", ClientSecret: secret("0123456789abcdef"), RedirectURIs: []string{"https://a.example/cb"}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*ClientConfig){
		"no redirect":      func(c *ClientConfig) { c.RedirectURIs = nil },
		"http redirect":    func(c *ClientConfig) { c.RedirectURIs = []string{"http://a.example/cb"} },
		"fragment":         func(c *ClientConfig) { c.RedirectURIs = []string{"https://a.example/cb#x"} },
		"no secret":        func(c *ClientConfig) { c.ClientSecret = secret("") },
		"short secret":     func(c *ClientConfig) { c.ClientSecret = secret("short") },
		"public w/ secret": func(c *ClientConfig) { c.Public = true },
		"bad hash":         func(c *ClientConfig) { c.ClientSecret = secret(""); c.ClientSecretHash = "plain" },
		"alg":              func(c *ClientConfig) { c.IDTokenSigningAlg = "HS256" },
		"pairwise no salt": func(c *ClientConfig) { c.SubjectType = "pairwise" },
		"reserved claim":   func(c *ClientConfig) { c.Claims = map[string]string{"sub": "email"} },
		"bad claim source": func(c *ClientConfig) { c.Claims = map[string]string{"x": "password"} },
		"jwt without jwks": func(c *ClientConfig) { c.TokenEndpointAuthMethod = authJWT },
		"unknown method":   func(c *ClientConfig) { c.TokenEndpointAuthMethod = "tls_client_auth" },
		"private jwk": func(c *ClientConfig) {
			c.ClientSecret = secret("")
			c.JWKS = &ClientJWKS{Keys: []ClientJWK{{Kty: "oct"}}}
		},
		"negative lifetime": func(c *ClientConfig) { c.AccessTokenTTL = -time.Second },
	} {
		t.Run(name, func(t *testing.T) {
			c := good
			mut(&c)
			if c.Validate() == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func secret(s string) protocols.Secret { return protocols.NewSecret(s) }

func TestSecretHash(t *testing.T) {
	// argon2id of "s3cret-client-secret" (m=19456,t=2,p=1).
	h, err := parseSecretHash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$" +
		"UdfHXYnTjk6DRySpJUjol4HOEBs+4B7AmJ+ThT5ofDs")
	if err != nil {
		t.Fatal(err)
	}
	good, err1 := h.Verify(t.Context(), "s3cret-client-secret")
	bad, err2 := h.Verify(t.Context(), "wrong")
	if !good || bad || err1 != nil || err2 != nil {
		t.Fatal("argon2id verify")
	}
}

// countingSecret counts the secret checks that reach the hash.
type countingSecret struct {
	secretHash
	n *atomic.Int32
}

func (c countingSecret) Verify(ctx context.Context, s string) (bool, error) {
	c.n.Add(1)
	return c.secretHash.Verify(ctx, s)
}

// TestClientSecretGuessesThrottled: every secret check is counted with the
// broker before it is made; past the limit the token endpoint answers 429
// (RFC 6749 JSON error, Retry-After in whole seconds) without checking, for
// Basic and POST clients; unknown clients are never counted (nothing is
// written for a request that names no registered client).
func TestClientSecretGuessesThrottled(t *testing.T) {
	for _, tc := range []struct{ client, secret string }{{"conf", confSecret}, {"post", "post-secret-0123456789"}} {
		t.Run(tc.client, func(t *testing.T) {
			e := newOPEnv(t)
			e.sp.maxTries = 3
			var checks atomic.Int32
			c := e.p.clients[tc.client]
			c.secret = countingSecret{c.secret, &checks}
			guess := func(secret string) resp {
				form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}
				if tc.client == "post" {
					form.Set("client_id", tc.client)
					form.Set("client_secret", secret)
					r, _ := e.token("", "", form)
					return r
				}
				r, _ := e.token(tc.client, secret, form)
				return r
			}
			var wg sync.WaitGroup
			codes := make(chan resp, 20)
			for i := range 20 {
				wg.Go(func() { codes <- guess(fmt.Sprintf("guess-%02d-0123456789", i)) })
			}
			wg.Wait()
			close(codes)
			var n401, n429 int
			for r := range codes {
				switch r.code {
				case http.StatusUnauthorized:
					n401++
				case http.StatusTooManyRequests:
					n429++
					if r.header.Get("Retry-After") != "91" || !strings.Contains(r.body, `"error":"temporarily_unavailable"`) {
						t.Errorf("429 answer: Retry-After %q, %s", r.header.Get("Retry-After"), r.body)
					}
				default:
					t.Errorf("guess = %d %s", r.code, r.body)
				}
			}
			if n401 != 3 || n429 != 17 || checks.Load() != 3 {
				t.Fatalf("401s %d, 429s %d, checks %d; want 3, 17, 3", n401, n429, checks.Load())
			}
			// Even the right secret waits for the window.
			if r := guess(tc.secret); r.code != http.StatusTooManyRequests || checks.Load() != 3 {
				t.Fatalf("right secret while throttled = %d (checks %d)", r.code, checks.Load())
			}
			for _, o := range e.sp.outcomes {
				if !errors.Is(o, protocols.ErrInvalidCredentials) {
					t.Errorf("outcome %v, want ErrInvalidCredentials", o)
				}
			}
			if _, ok := e.sp.tries["oidc-client:nope"]; ok {
				t.Fatal("an unknown client was counted")
			}
		})
	}
}

// TestClientSecretSuccessForgets: a right secret tells the broker so (its
// failures are forgotten); unknown clients are not counted at all.
func TestClientSecretSuccessForgets(t *testing.T) {
	e := newOPEnv(t)
	e.sp.maxTries = 3
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}
	e.token("conf", "wrong-secret-0123456789", form)
	e.token("nope", "wrong-secret-0123456789", form)
	r, _ := e.token("conf", confSecret, form) // authenticated; the grant then fails
	if r.code != http.StatusBadRequest {
		t.Fatalf("right secret = %d %s", r.code, r.body)
	}
	if len(e.sp.outcomes) != 2 || e.sp.outcomes[1] != nil || len(e.sp.tries) != 0 {
		t.Fatalf("outcomes %v, tries %v", e.sp.outcomes, e.sp.tries)
	}
}

// By default the access token is opaque: sealed, not a JWT (one signature
// per token response). UserInfo reads it; it refuses one that expired, one
// of a revoked family, and a sealed value made for another purpose.
func TestOpaqueAccessToken(t *testing.T) {
	e := newOPEnv(t)
	e.p.clients["conf"].AccessTokenFormat = ""
	userinfo := func(tok string) resp {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+UserInfoPath, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		return e.do(req)
	}
	code := e.code(authorizeQuery(nil))
	r, m := e.token("conf", confSecret, codeForm(code))
	if r.code != 200 {
		t.Fatal(r.body)
	}
	at := m["access_token"].(string)
	if strings.Contains(at, ".") {
		t.Fatalf("access token is a JWT by default: %s", at)
	}
	id, _ := e.verify(m["id_token"].(string), jose.RS256)
	sum := sha256.Sum256([]byte(at))
	if id["at_hash"] != base64.RawURLEncoding.EncodeToString(sum[:16]) {
		t.Errorf("at_hash %v does not match the opaque access token", id["at_hash"])
	}
	ui := userinfo(at)
	var info map[string]any
	_ = json.Unmarshal([]byte(ui.body), &info)
	if ui.code != 200 || info["sub"] != "corp:u-alice" || info["email"] != "alice@corp.example" || info["employee_id"] != "E42" || info["fam"] != nil {
		t.Fatalf("userinfo with an opaque token: %d %s", ui.code, ui.body)
	}
	for name, tok := range map[string]string{
		"refresh token": m["refresh_token"].(string), // sealed too, for another purpose
		"tampered":      at[:len(at)-2] + "xx",
	} {
		if r := userinfo(tok); r.code != http.StatusUnauthorized {
			t.Errorf("%s accepted at userinfo: %d", name, r.code)
		}
	}
	e.sp.advance(10 * time.Minute)
	if r := userinfo(at); r.code != http.StatusUnauthorized {
		t.Fatalf("expired opaque token: %d", r.code)
	}
	// A replayed code revokes the family: its opaque token dies at once.
	code = e.code(authorizeQuery(nil))
	_, m = e.token("conf", confSecret, codeForm(code))
	fresh := m["access_token"].(string)
	if r := userinfo(fresh); r.code != 200 {
		t.Fatalf("fresh opaque token: %d", r.code)
	}
	if r, _ := e.token("conf", confSecret, codeForm(code)); r.code != 400 {
		t.Fatalf("replayed code: %d", r.code)
	}
	if r := userinfo(fresh); r.code != http.StatusUnauthorized {
		t.Fatalf("opaque token of a replayed code at userinfo: %d", r.code)
	}
}

func TestAccessTokenFormatChecked(t *testing.T) {
	c := ClientConfig{ClientID: "x", ClientSecret: protocols.NewSecret("x-secret-0123456789abc"), RedirectURIs: []string{"https://x.example/cb"},
		AccessTokenFormat: "JWT "}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "access_token_format") {
		t.Fatalf("bad access_token_format: %v", err)
	}
}

// TestTokenFailuresEndOnlyTheRequest: tokens are signed beside the
// single-use claim, which runs on a goroutine of its own where net/http's
// recovery does not reach. A bug on either side, or a store that fails,
// must end that request with the token endpoint's 500 and no tokens, not
// the process; for both grants. A code or refresh token whose claim went
// through is spent even though its tokens were not issued.
func TestTokenFailuresEndOnlyTheRequest(t *testing.T) {
	grants := map[string]func(e *opEnv) url.Values{
		"code": func(e *opEnv) url.Values { return codeForm(e.code(authorizeQuery(nil))) },
		"refresh": func(e *opEnv) url.Values {
			_, m := e.token("conf", confSecret, codeForm(e.code(authorizeQuery(nil))))
			return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)}}
		},
	}
	failures := map[string]struct {
		set   func(f *fakeSP, on bool)
		spent bool // the claim went through
	}{
		"issuing panics": {func(f *fakeSP, on bool) {
			f.panicSealing = ""
			if on {
				f.panicSealing = purposeRefresh
			}
		}, true},
		"claiming panics":     {func(f *fakeSP, on bool) { f.panicClaiming = on }, false},
		"claim never returns": {func(f *fakeSP, on bool) { f.exitClaiming = on }, false},
		"claim fails": {func(f *fakeSP, on bool) {
			f.claimErr = nil
			if on {
				f.claimErr = errors.New("store down")
			}
		}, false},
	}
	for gname, grant := range grants {
		for fname, fail := range failures {
			t.Run(gname+"/"+fname, func(t *testing.T) {
				e := newOPEnv(t)
				form := grant(e)
				e.sp.mu.Lock()
				fail.set(e.sp, true)
				e.sp.mu.Unlock()
				if r, m := e.token("conf", confSecret, form); r.code != http.StatusInternalServerError || m["error"] != "server_error" || m["id_token"] != nil {
					t.Fatalf("token while %s: %d %s, want 500 server_error", fname, r.code, r.body)
				}
				e.sp.mu.Lock()
				fail.set(e.sp, false)
				e.sp.mu.Unlock()
				// Spent (its family revoked on reuse), or still good.
				r, m := e.token("conf", confSecret, form)
				if fail.spent && (r.code != http.StatusBadRequest || m["error"] != "invalid_grant") {
					t.Fatalf("spent %s again: %d %s, want invalid_grant", gname, r.code, r.body)
				}
				if !fail.spent && (r.code != http.StatusOK || m["id_token"] == nil) {
					t.Fatalf("%s again after the failure: %d %s", gname, r.code, r.body)
				}
				if r, m := e.token("conf", confSecret, codeForm(e.code(authorizeQuery(nil)))); r.code != http.StatusOK || m["id_token"] == nil {
					t.Fatalf("next token request: %d %s", r.code, r.body)
				}
			})
		}
	}
}
