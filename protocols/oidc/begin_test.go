package oidc

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fedgate/fedgate/protocols"
)

func TestBeginParameters(t *testing.T) {
	tests := []struct {
		name   string
		preset string
		cfg    func(*Config)
		req    func(*protocols.AuthRequest)
		want   map[string]string // "" means absent
	}{
		{name: "plain login with hints", preset: PresetGeneric,
			req: func(a *protocols.AuthRequest) { a.LoginHint, a.DomainHint = "alice@corp.example", "corp.example" },
			want: map[string]string{"response_type": "code", "response_mode": "query", "code_challenge_method": "S256",
				"client_id": "fedgate", "redirect_uri": "https://sso.example/callback/idp", "state": "state-1", "nonce": "nonce-1",
				"scope": "openid profile email", "login_hint": "alice@corp.example", "domain_hint": "corp.example", "prompt": ""}},
		{name: "adfs: resource, scopes, extra params", preset: PresetADFS,
			cfg: func(c *Config) {
				c.Resource, c.Scopes, c.AuthParams = "urn:api", []string{"allatclaims"}, map[string]string{"ui_locales": "ja"}
			},
			want: map[string]string{"resource": "urn:api", "scope": "openid allatclaims", "ui_locales": "ja", "amr_values": ""}},
		{name: "adfs: step-up asks amr_values=ngcmfa and prompt=login", preset: PresetADFS,
			req: func(a *protocols.AuthRequest) {
				a.MFA, a.ForceLogin = &protocols.MFARequest{Methods: []string{"mfa"}}, true
			},
			want: map[string]string{"amr_values": "ngcmfa", "prompt": "login", "acr_values": ""}},
		{name: "adfs: step-up with acr_values", preset: PresetADFS,
			cfg:  func(c *Config) { c.StepUp.ACRValues = multipleAuthN },
			req:  func(a *protocols.AuthRequest) { a.MFA, a.ForceLogin = &protocols.MFARequest{}, true },
			want: map[string]string{"acr_values": multipleAuthN, "amr_values": "", "prompt": "login"}},
		{name: "entra: step-up asks the auth context with claims", preset: PresetEntra,
			cfg:  func(c *Config) { c.StepUp.AuthContext = "c1" },
			req:  func(a *protocols.AuthRequest) { a.MFA, a.ForceLogin = &protocols.MFARequest{}, true },
			want: map[string]string{"claims": `{"id_token":{"acrs":{"essential":true,"value":"c1"}}}`, "prompt": "login"}},
		{name: "entra: step-up without prompt=login when configured", preset: PresetEntra,
			cfg:  func(c *Config) { f := false; c.StepUp.AuthContext, c.StepUp.PromptLogin = "c3", &f },
			req:  func(a *protocols.AuthRequest) { a.MFA, a.ForceLogin = &protocols.MFARequest{}, true },
			want: map[string]string{"claims": `{"id_token":{"acrs":{"essential":true,"value":"c3"}}}`, "prompt": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.preset, tt.cfg)
			if tt.req != nil {
				tt.req(&e.a)
			}
			q := e.begin(t)
			for k, v := range tt.want {
				if q.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, q.Get(k), v)
				}
			}
			if len(q.Get("code_challenge")) != 43 {
				t.Errorf("code_challenge = %q", q.Get("code_challenge"))
			}
		})
	}
}

func TestCanRequestMFA(t *testing.T) {
	for preset, want := range map[string]bool{PresetADFS: true, PresetEntra: false, PresetGeneric: false} {
		if got := newEnv(t, preset, nil).up.CanRequestMFA(); got != want {
			t.Errorf("%s: CanRequestMFA = %v", preset, got)
		}
	}
	if !newEnv(t, PresetEntra, func(c *Config) { c.StepUp.AuthContext = "c1" }).up.CanRequestMFA() {
		t.Error("entra with auth_context cannot request MFA")
	}
}

// An IdP that is down when fedgate starts does not stop it: Open succeeds,
// the upstream is unavailable, and it recovers on its own.
func TestDiscoveryDownThenRecovers(t *testing.T) {
	e := newEnv(t, PresetGeneric, nil)
	e.op.SetDown(true)
	ctx := context.Background()
	if err := e.up.Ready(ctx); !errors.Is(err, protocols.ErrUnavailable) {
		t.Fatalf("Ready while down = %v", err)
	}
	if _, err := e.up.Begin(ctx, e.a); !errors.Is(err, protocols.ErrUnavailable) {
		t.Fatalf("Begin while down = %v", err)
	}
	e.op.SetDown(false)
	if err := e.up.Ready(ctx); !errors.Is(err, protocols.ErrUnavailable) {
		t.Fatalf("Ready retried before the back-off: %v", err)
	}
	e.now = e.now.Add(retryAfter)
	if err := e.up.Ready(ctx); err != nil {
		t.Fatalf("Ready after recovery = %v", err)
	}
	// Once known, a failing refresh keeps the last good discovery.
	e.op.SetDown(true)
	e.now = e.now.Add(2 * time.Hour)
	if err := e.up.Ready(ctx); err != nil {
		t.Fatalf("Ready with stale discovery = %v", err)
	}
}

// The IdP going away between the redirect and the callback is "unavailable",
// not "rejected".
func TestTokenEndpointUnreachable(t *testing.T) {
	e := newEnv(t, PresetGeneric, nil)
	e.begin(t) // discovery cached
	e.op.SetDown(true)
	_, err := e.finish(t, e.op.Sign(e.claims(PresetGeneric)), nil)
	if !errors.Is(err, protocols.ErrUnavailable) {
		t.Fatalf("Finish = %v", err)
	}
	e.op.Close()
	_, err = e.finish(t, "x", nil)
	if !errors.Is(err, protocols.ErrUnavailable) {
		t.Fatalf("Finish with the IdP gone = %v", err)
	}
}

// Keys rotated at the IdP are fetched when a token names an unknown kid.
func TestKeyRotation(t *testing.T) {
	e := newEnv(t, PresetGeneric, nil)
	if _, err := e.finish(t, e.op.Sign(e.claims(PresetGeneric)), nil); err != nil {
		t.Fatal(err)
	}
	e.op.Rotate()
	if _, err := e.finish(t, e.op.Sign(e.claims(PresetGeneric)), nil); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
}

// ADFS: claims from a verified access token (issuer .../adfs/services/trust,
// audience = resource) fill in what the ID token lacks.
func TestADFSAccessTokenClaims(t *testing.T) {
	e := newEnv(t, PresetADFS, func(c *Config) { c.Resource, c.AccessTokenClaims = "urn:api", true })
	trust := "http://" + strings.TrimPrefix(e.op.URL, "http://") + "/adfs/services/trust"
	at := func(iss, aud string) string {
		return e.op.Sign(map[string]any{"iss": iss, "aud": aud, "sub": "sub-alice", "iat": e.now.Unix(),
			"exp": e.now.Add(time.Hour).Unix(), "group": []any{"from-access-token"}, "email": "alice@corp.example"})
	}
	id := e.claims(PresetADFS)
	delete(id, "group")
	for _, tt := range []struct {
		name, iss, aud string
		ok             bool
	}{
		{"valid", trust, "urn:api", true},
		{"wrong issuer", "https://evil.example/adfs/services/trust", "urn:api", false},
		{"wrong audience", trust, "urn:other", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := e.begin(t)
			code := e.op.Code(q.Get("code_challenge"), e.op.Sign(id), at(tt.iss, tt.aud))
			r := callback(url.Values{"code": {code}, "state": {e.a.State}, "iss": {e.op.Issuer}})
			got, err := e.up.Finish(context.Background(), r, e.a)
			if !tt.ok {
				if !errors.Is(err, protocols.ErrRejected) {
					t.Fatalf("Finish = %v", err)
				}
				return
			}
			if err != nil || len(got.Groups) != 1 || got.Groups[0] != "from-access-token" {
				t.Fatalf("Finish = %+v, %v", got, err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := Config{ID: "x", Type: "oidc", Issuer: "https://idp.example", ClientID: "c", ClientSecret: protocols.NewSecret("s")}
	tests := []struct {
		name string
		mut  func(*Config)
		want []string
	}{
		{"ok", func(*Config) {}, nil},
		{"everything missing", func(c *Config) { *c = Config{} }, []string{"client_id", "client_secret", "issuer"}},
		{"unknown preset", func(c *Config) { c.Preset = "okta" }, []string{"preset"}},
		{"http issuer", func(c *Config) { c.Issuer = "http://idp.example" }, []string{"https"}},
		{"alg none and HS256", func(c *Config) { c.SigningAlgs = []string{"none", "HS256", "RS1"} }, []string{"none", "HMAC", "unknown"}},
		{"entra without tenant", func(c *Config) { c.Preset = PresetEntra }, []string{"tenant is required"}},
		{"entra organizations without allow-list", func(c *Config) { c.Preset, c.Tenant = PresetEntra, "organizations" }, []string{"allowed_tenants"}},
		{"entra email as subject", func(c *Config) { c.Preset, c.Tenant, c.Claims.Subject = PresetEntra, tenant, "email" }, []string{"mutable"}},
		{"entra bad auth context", func(c *Config) { c.Preset, c.Tenant, c.StepUp.AuthContext = PresetEntra, tenant, "c99" }, []string{"c1..c25"}},
		{"tenant on adfs", func(c *Config) { c.Preset, c.Tenant = PresetADFS, tenant }, []string{"entra only"}},
		{"reserved auth param", func(c *Config) { c.AuthParams = map[string]string{"redirect_uri": "https://evil"} }, []string{"redirect_uri"}},
		{"overage value", func(c *Config) { c.Preset, c.Tenant, c.GroupsOverage = PresetEntra, tenant, "ignore" }, []string{"deny or warn"}},
		{"trust_email on entra", func(c *Config) { c.Preset, c.Tenant, c.TrustEmail = PresetEntra, tenant, true }, []string{"trust_email"}},
		{"trust_email on adfs", func(c *Config) { c.Preset, c.TrustEmail = PresetADFS, true }, []string{"trust_email"}},
		{"access token claims without resource", func(c *Config) { c.Preset, c.AccessTokenClaims = PresetADFS, true }, []string{"needs resource"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mut(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %v, want it to mention %q", err, w)
				}
			}
		})
	}
}
