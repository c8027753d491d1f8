package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/fedgate/fedgate/protocols"
)

// fakeSP is the broker as the provider sees it: one user, a switchable
// answer, sealing and single-use markers in memory, a fake clock.
type fakeSP struct {
	mu      sync.Mutex
	recheck error // what Recheck answers
	now     time.Time
	id      protocols.Identity
	answer  error // nil: signed in; ErrLoginRequired / ErrAccessDenied
	handled bool  // the broker takes the browser to sign in
	sealed  map[string]sealedValue
	claims  map[string]time.Time
	asked   []protocols.SessionRequest
	audits  []protocols.AuditEvent
	ended   int
	// maxTries > 0: Attempt refuses a key's tries past it (a failure
	// limit as the broker keeps it); outcomes are what done was told.
	maxTries int
	tries    map[string]int
	outcomes []error
	// panicSealing: Seal panics for this purpose (a bug while issuing).
	panicSealing string
	// panicClaiming: Claim panics (a bug in the store); exitClaiming: it
	// ends its goroutine without returning; claimErr: it fails (the store
	// is down).
	panicClaiming bool
	exitClaiming  bool
	claimErr      error
}

type sealedValue struct {
	purpose string
	exp     time.Time
	raw     []byte
}

func newFakeSP(now time.Time) *fakeSP {
	return &fakeSP{now: now, sealed: map[string]sealedValue{}, claims: map[string]time.Time{},
		id: protocols.Identity{Subject: "u-alice", Upstream: "corp", Username: "alice@corp.example", Email: "alice@corp.example",
			DisplayName: "Alice", Groups: []string{"staff", "hr"}, Claims: map[string]string{"employee_id": "E42"},
			AuthTime: now.Add(-time.Minute), AMR: []string{"pwd"}}}
}

func (f *fakeSP) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fakeSP) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func (f *fakeSP) Current(*http.Request) (protocols.Identity, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.id, f.id.Subject != ""
}

func (f *fakeSP) Recheck(*http.Request, string, protocols.Identity) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.recheck
}

func (f *fakeSP) Session(w http.ResponseWriter, r *http.Request, req protocols.SessionRequest) (protocols.Identity, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, req)
	if f.handled {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return protocols.Identity{}, true, nil
	}
	if f.answer != nil {
		return protocols.Identity{}, false, f.answer
	}
	if req.Passive && f.id.AuthTime.Before(req.FreshAfter) {
		return protocols.Identity{}, false, protocols.ErrLoginRequired
	}
	return f.id, false, nil
}

func (f *fakeSP) Seal(purpose string, v any, ttl time.Duration) (string, error) {
	f.mu.Lock()
	bug := f.panicSealing == purpose
	f.mu.Unlock()
	if bug {
		panic("sealing " + purpose)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := randomID() + randomID() // about as long as a real sealed value's MAC
	f.sealed[k] = sealedValue{purpose, f.now.Add(ttl), raw}
	return k, nil
}

func (f *fakeSP) Open(purpose, s string, v any) error {
	f.mu.Lock()
	e, ok := f.sealed[s]
	now := f.now
	f.mu.Unlock()
	if !ok || e.purpose != purpose || !now.Before(e.exp) {
		return errors.New("fake: cannot open")
	}
	return json.Unmarshal(e.raw, v)
}

func (f *fakeSP) Claim(_ context.Context, key string, exp time.Time) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panicClaiming {
		panic("claiming " + key)
	}
	if f.exitClaiming {
		runtime.Goexit()
	}
	if f.claimErr != nil {
		return false, f.claimErr
	}
	if _, ok := f.claims[key]; ok {
		return false, nil
	}
	f.claims[key] = exp
	return true, nil
}

func (f *fakeSP) Claimed(_ context.Context, key string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.claims[key]
	return ok, nil
}

func (f *fakeSP) EndSession(http.ResponseWriter, *http.Request) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended++
	return nil
}

func (f *fakeSP) Audit(_ *http.Request, e protocols.AuditEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.audits = append(f.audits, e)
}

func (f *fakeSP) audited(event, outcome string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.audits {
		if e.Event == event && e.Outcome == outcome {
			return true
		}
	}
	return false
}

const (
	issuer     = "https://sso.example"
	confSecret = "conf-secret-0123456789"
	confCB     = "https://app.example/cb"
	verifier   = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	challenge  = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" // RFC 7636 appendix B
)

type opEnv struct {
	t        testing.TB
	p        *Provider
	sp       *fakeSP
	srv      *httptest.Server
	rsa      *rsa.PrivateKey
	ec       *ecdsa.PrivateKey
	clientEC *ecdsa.PrivateKey
}

func testClients(clientKey *ecdsa.PrivateKey) []ProviderClient {
	jwk := jose.JSONWebKey{Key: clientKey.Public(), KeyID: "ck1", Algorithm: "ES256", Use: "sig"}
	raw, _ := jwk.MarshalJSON()
	var ck ClientJWK
	_ = json.Unmarshal(raw, &ck)
	return []ProviderClient{
		{App: "portal", ClientConfig: ClientConfig{ClientID: "conf", ClientSecret: protocols.NewSecret(confSecret),
			RedirectURIs: []string{confCB, "https://app.example/cb2?x=1"}, PostLogoutRedirectURIs: []string{"https://app.example/bye"},
			RefreshTokens: true, Claims: map[string]string{"employee_id": "claim:employee_id"}, AccessTokenFormat: "jwt"}},
		{App: "wiki", ClientConfig: ClientConfig{ClientID: "post", ClientSecret: protocols.NewSecret("post-secret-0123456789"),
			TokenEndpointAuthMethod: authPost, RedirectURIs: []string{"https://wiki.example/cb"}}},
		{App: "spa", ClientConfig: ClientConfig{ClientID: "spa", Public: true, RedirectURIs: []string{"http://127.0.0.1:3000/cb"}}},
		{App: "jwtapp", ClientConfig: ClientConfig{ClientID: "jwt", JWKS: &ClientJWKS{Keys: []ClientJWK{ck}},
			RedirectURIs: []string{"https://jwt.example/cb"}}},
		{App: "pair", ClientConfig: ClientConfig{ClientID: "pair", ClientSecret: protocols.NewSecret("pair-secret-0123456789"),
			RedirectURIs: []string{"https://pair.example/cb"}, SubjectType: "pairwise", PairwiseSalt: protocols.NewSecret("salt-salt-salt-salt"),
			IDTokenSigningAlg: "ES256", MFAACR: "urn:corp:mfa"}},
	}
}

func newOPEnv(t testing.TB) *opEnv {
	t.Helper()
	e := &opEnv{t: t, sp: newFakeSP(time.Now().Truncate(time.Second))}
	var err error
	if e.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	e.ec, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e.clientEC, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys := []protocols.SigningKey{{Signer: e.rsa, KeyID: "rsa1", Alg: "RS256"}, {Signer: e.ec, KeyID: "ec1", Alg: "ES256"}}
	e.p, err = OpenProvider(ProviderConfig{Issuer: issuer, Clients: testClients(e.clientEC)},
		ProviderDeps{Keys: keys, Now: e.sp.clock})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.p.Mount(mux, e.sp)
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "req-1")
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

type resp struct {
	code     int
	location *url.URL
	header   http.Header
	body     string
}

func (e *opEnv) do(req *http.Request) resp {
	e.t.Helper()
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := resp{code: res.StatusCode, header: res.Header, body: string(b)}
	if l := res.Header.Get("Location"); l != "" {
		out.location, _ = url.Parse(l)
	}
	return out
}

func (e *opEnv) get(path string, q url.Values) resp {
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path+"?"+q.Encode(), nil)
	return e.do(req)
}

// authorizeQuery is a good request for client conf with PKCE.
func authorizeQuery(mut func(url.Values)) url.Values {
	q := url.Values{"client_id": {"conf"}, "redirect_uri": {confCB}, "response_type": {"code"}, "scope": {"openid profile email groups"},
		"state": {"st-1"}, "nonce": {"n-1"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	if mut != nil {
		mut(q)
	}
	return q
}

// code runs an authorization request and returns the code.
func (e *opEnv) code(q url.Values) string {
	e.t.Helper()
	r := e.get(AuthorizePath, q)
	if r.code != http.StatusSeeOther || r.location == nil || r.location.Query().Get("code") == "" {
		e.t.Fatalf("authorize: %d %v %s", r.code, r.location, r.body)
	}
	return r.location.Query().Get("code")
}

// token posts to the token endpoint, with basic auth when user is set.
func (e *opEnv) token(user, pass string, form url.Values) (resp, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	r := e.do(req)
	var m map[string]any
	_ = json.Unmarshal([]byte(r.body), &m)
	return r, m
}

func codeForm(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {confCB}, "code_verifier": {verifier}}
}

// verify checks a JWT against our public key for alg and returns its claims.
func (e *opEnv) verify(raw string, alg jose.SignatureAlgorithm) (map[string]any, jose.Header) {
	e.t.Helper()
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{alg})
	if err != nil {
		e.t.Fatalf("parse %s: %v", raw, err)
	}
	var key crypto.PublicKey = e.rsa.Public()
	if alg == jose.ES256 {
		key = e.ec.Public()
	}
	payload, err := jws.Verify(key)
	if err != nil {
		e.t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(payload, &m)
	return m, jws.Signatures[0].Protected
}

func TestDiscovery(t *testing.T) {
	e := newOPEnv(t)
	r := e.get(DiscoveryPath, nil)
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil || r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	for k, want := range map[string]any{"issuer": issuer, "jwks_uri": issuer + JWKSPath, "token_endpoint": issuer + TokenPath,
		"authorization_endpoint": issuer + AuthorizePath, "end_session_endpoint": issuer + LogoutPath,
		"authorization_response_iss_parameter_supported": true} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	if fmt.Sprint(m["code_challenge_methods_supported"]) != "[S256]" || fmt.Sprint(m["id_token_signing_alg_values_supported"]) != "[RS256 ES256]" {
		t.Errorf("metadata: %v %v", m["code_challenge_methods_supported"], m["id_token_signing_alg_values_supported"])
	}
}

func TestCodeFlow(t *testing.T) {
	e := newOPEnv(t)
	r := e.get(AuthorizePath, authorizeQuery(nil))
	q := r.location.Query()
	if r.code != http.StatusSeeOther || r.location.Host != "app.example" || q.Get("state") != "st-1" || q.Get("iss") != issuer {
		t.Fatalf("authorize: %d %v", r.code, r.location)
	}
	if asked := e.sp.asked[0]; asked.App != "portal" || asked.Passive || !strings.HasPrefix(asked.Resume, ResumePath+"?r=") {
		t.Fatalf("session request: %+v", asked)
	}
	tr, m := e.token("conf", confSecret, codeForm(q.Get("code")))
	if tr.code != 200 || tr.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token: %d %s", tr.code, tr.body)
	}
	id, h := e.verify(m["id_token"].(string), jose.RS256)
	sum := sha256.Sum256([]byte(m["access_token"].(string)))
	want := map[string]any{"iss": issuer, "aud": "conf", "azp": "conf", "sub": "corp:u-alice", "nonce": "n-1", "acr": "0",
		"email": "alice@corp.example", "name": "Alice", "preferred_username": "alice@corp.example", "employee_id": "E42",
		"at_hash":   base64.RawURLEncoding.EncodeToString(sum[:16]),
		"auth_time": float64(e.sp.id.AuthTime.Unix()), "amr": []any{"pwd"}, "groups": []any{"staff", "hr"}}
	for k, v := range want {
		if fmt.Sprint(id[k]) != fmt.Sprint(v) {
			t.Errorf("id_token %s = %v, want %v", k, id[k], v)
		}
	}
	if h.KeyID != "rsa1" || h.ExtraHeaders["typ"] != "JWT" {
		t.Errorf("header %+v", h)
	}
	if m["refresh_token"] == nil || m["token_type"] != "Bearer" || m["scope"] != "openid profile email groups" {
		t.Errorf("token response %v", m)
	}
	at, ah := e.verify(m["access_token"].(string), jose.RS256)
	if at["aud"] != "conf" || ah.ExtraHeaders["typ"] != "at+jwt" {
		t.Errorf("access token %v %v", at, ah)
	}
	if !e.sp.audited("oidc-token", "success") {
		t.Error("token issue not audited")
	}
	// UserInfo with the access token.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+UserInfoPath, nil)
	req.Header.Set("Authorization", "Bearer "+m["access_token"].(string))
	ui := e.do(req)
	var info map[string]any
	_ = json.Unmarshal([]byte(ui.body), &info)
	if ui.code != 200 || info["sub"] != "corp:u-alice" || info["email"] != "alice@corp.example" || info["aud"] != nil {
		t.Fatalf("userinfo %d %s", ui.code, ui.body)
	}
	// An ID token is not an access token.
	req.Header.Set("Authorization", "Bearer "+m["id_token"].(string))
	if r := e.do(req); r.code != http.StatusUnauthorized {
		t.Fatalf("id token accepted at userinfo: %d", r.code)
	}
}

func TestGroupsOnlyWhenAsked(t *testing.T) {
	e := newOPEnv(t)
	code := e.code(authorizeQuery(func(q url.Values) { q.Set("scope", "openid") }))
	_, m := e.token("conf", confSecret, codeForm(code))
	id, _ := e.verify(m["id_token"].(string), jose.RS256)
	if id["groups"] != nil || id["email"] != nil || id["employee_id"] != "E42" {
		t.Fatalf("released with scope openid: %v", id)
	}
}

func TestAuthorizeNoRedirect(t *testing.T) {
	e := newOPEnv(t)
	for name, mut := range map[string]func(url.Values){
		"unknown client":       func(q url.Values) { q.Set("client_id", "nope") },
		"redirect mismatch":    func(q url.Values) { q.Set("redirect_uri", confCB+"/") },
		"redirect of other":    func(q url.Values) { q.Set("redirect_uri", "https://wiki.example/cb") },
		"redirect prefix":      func(q url.Values) { q.Set("redirect_uri", "https://app.example/cb2") },
		"no redirect":          func(q url.Values) { q.Del("redirect_uri") },
		"repeated redirect":    func(q url.Values) { q.Add("redirect_uri", confCB) },
		"javascript redirect":  func(q url.Values) { q.Set("redirect_uri", "javascript:alert(1)") },
		"redirect with suffix": func(q url.Values) { q.Set("redirect_uri", confCB+"?x=1") },
	} {
		t.Run(name, func(t *testing.T) {
			r := e.get(AuthorizePath, authorizeQuery(mut))
			if r.code != http.StatusBadRequest || r.location != nil || !strings.Contains(r.body, "req-1") {
				t.Fatalf("%d %v %q", r.code, r.location, r.body)
			}
		})
	}
}

func TestAuthorizeErrorRedirects(t *testing.T) {
	e := newOPEnv(t)
	for _, tc := range []struct {
		name, want string
		mut        func(url.Values)
		answer     error
	}{
		{"plain pkce", "invalid_request", func(q url.Values) { q.Set("code_challenge_method", "plain") }, nil},
		{"pkce without method", "invalid_request", func(q url.Values) { q.Del("code_challenge_method") }, nil},
		{"short challenge", "invalid_request", func(q url.Values) { q.Set("code_challenge", "abc") }, nil},
		{"no openid", "invalid_scope", func(q url.Values) { q.Set("scope", "profile") }, nil},
		{"token flow", "unsupported_response_type", func(q url.Values) { q.Set("response_type", "token") }, nil},
		{"request object", "request_not_supported", func(q url.Values) { q.Set("request", "x.y.z") }, nil},
		{"bad prompt", "invalid_request", func(q url.Values) { q.Set("prompt", "none login") }, nil},
		{"bad max_age", "invalid_request", func(q url.Values) { q.Set("max_age", "-1") }, nil},
		{"repeated", "invalid_request", func(q url.Values) { q.Add("scope", "openid") }, nil},
		{"long state", "invalid_request", func(q url.Values) { q.Set("state", strings.Repeat("s", 600)) }, nil},
		{"public without pkce", "invalid_request", func(q url.Values) {
			q.Set("client_id", "spa")
			q.Set("redirect_uri", "http://127.0.0.1:3000/cb")
			q.Del("code_challenge")
			q.Del("code_challenge_method")
		}, nil},
		{"prompt none, no session", "login_required", func(q url.Values) { q.Set("prompt", "none") }, protocols.ErrLoginRequired},
		{"policy deny", "access_denied", nil, protocols.ErrAccessDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.sp.answer = tc.answer
			defer func() { e.sp.answer = nil }()
			q := authorizeQuery(tc.mut)
			r := e.get(AuthorizePath, q)
			if r.code != http.StatusSeeOther || r.location == nil {
				t.Fatalf("%d %s", r.code, r.body)
			}
			got := r.location.Query()
			target := q.Get("redirect_uri")
			if r.location.Scheme+"://"+r.location.Host+r.location.Path != target || got.Get("error") != tc.want || got.Get("iss") != issuer {
				t.Fatalf("redirect %v", r.location)
			}
			if tc.name != "long state" && got.Get("state") != q.Get("state") {
				t.Fatalf("state lost: %v", r.location)
			}
		})
	}
}

func TestAuthorizeSessionRequest(t *testing.T) {
	e := newOPEnv(t)
	e.sp.handled = true
	asked := e.sp.clock()
	e.get(AuthorizePath, authorizeQuery(func(q url.Values) {
		q.Set("prompt", "login")
		q.Set("login_hint", "alice@corp.example")
		q.Set("acr_values", "urn:other "+DefaultMFAACR)
	}))
	e.get(AuthorizePath, authorizeQuery(func(q url.Values) { q.Set("max_age", "600") }))
	e.get(AuthorizePath, authorizeQuery(func(q url.Values) { q.Set("prompt", "none") }))
	a := e.sp.asked
	if !a[0].FreshAfter.Equal(asked) || !a[0].MFA || a[0].LoginHint != "alice@corp.example" || a[0].Passive {
		t.Errorf("prompt=login: %+v", a[0])
	}
	if !a[1].FreshAfter.Equal(asked.Add(-10*time.Minute)) || a[1].MFA {
		t.Errorf("max_age: %+v", a[1])
	}
	if !a[2].Passive {
		t.Errorf("prompt=none: %+v", a[2])
	}
	// Back from sign-in: the resume URL carries the request, FreshAfter
	// included, and the code goes to the same redirect URI.
	e.sp.handled = false
	e.sp.advance(5 * time.Minute)
	u, _ := url.Parse(a[1].Resume)
	r := e.get(u.Path, u.Query())
	if r.code != http.StatusSeeOther || r.location.Query().Get("code") == "" || r.location.Query().Get("state") != "st-1" {
		t.Fatalf("resume: %d %v %s", r.code, r.location, r.body)
	}
	if last := e.sp.asked[len(e.sp.asked)-1]; !last.FreshAfter.Equal(asked.Add(-10 * time.Minute)) {
		t.Fatalf("resumed FreshAfter %v", last.FreshAfter)
	}
	if r := e.get(ResumePath, url.Values{"r": {"forged"}}); r.code != 400 || r.location != nil {
		t.Fatalf("forged resume: %d", r.code)
	}
}

func TestFormPost(t *testing.T) {
	e := newOPEnv(t)
	r := e.get(AuthorizePath, authorizeQuery(func(q url.Values) { q.Set("response_mode", "form_post"); q.Set("state", `"><x`) }))
	csp := r.header.Get("Content-Security-Policy")
	if r.code != 200 || !strings.Contains(r.body, `action="https://app.example/cb"`) || !strings.Contains(r.body, `name="code"`) ||
		!strings.Contains(r.body, `value="&#34;&gt;&lt;x"`) || !strings.Contains(csp, "form-action https://app.example;") {
		t.Fatalf("%d %s\n%s", r.code, csp, r.body)
	}
	nonce := csp[strings.Index(csp, "'nonce-")+7:]
	nonce = nonce[:strings.Index(nonce, "'")]
	if !strings.Contains(r.body, `<script nonce="`+nonce+`">`) {
		t.Fatal("script nonce does not match the CSP")
	}
	// Errors use form_post too.
	r = e.get(AuthorizePath, authorizeQuery(func(q url.Values) { q.Set("response_mode", "form_post"); q.Set("scope", "x") }))
	if r.code != 200 || !strings.Contains(r.body, `name="error" value="invalid_scope"`) {
		t.Fatalf("error form_post: %s", r.body)
	}
}

// Refuse writes what the broker's error page would say, with the
// correlation id.
func (f *fakeSP) Refuse(w http.ResponseWriter, _ *http.Request, status int, why protocols.Refusal, detail string) {
	w.WriteHeader(status)
	fmt.Fprintf(w, "refused: %s (%s), reference %s", why, detail, w.Header().Get("X-Request-Id"))
}

func (f *fakeSP) Attempt(_ *http.Request, key string) (func(error), time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tries == nil {
		f.tries = map[string]int{}
	}
	f.tries[key]++
	if f.maxTries > 0 && f.tries[key] > f.maxTries {
		return nil, 90*time.Second + time.Millisecond, nil
	}
	return func(err error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.outcomes = append(f.outcomes, err)
		switch {
		case err == nil:
			delete(f.tries, key)
		case !errors.Is(err, protocols.ErrInvalidCredentials):
			f.tries[key]--
		}
	}, 0, nil
}
