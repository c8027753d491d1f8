package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/oidc/oidctest"
)

const (
	tenant      = "11111111-2222-3333-4444-555555555555"
	otherTenant = "99999999-8888-7777-6666-555555555555"
)

type env struct {
	op  *oidctest.Server
	up  *Upstream
	now time.Time
	a   protocols.AuthRequest
}

// newEnv starts a fake OP shaped like the preset and an upstream for it.
func newEnv(t *testing.T, preset string, mut func(*Config)) *env {
	t.Helper()
	path := map[string]string{PresetADFS: "/adfs", PresetEntra: "/" + tenant + "/v2.0", PresetGeneric: ""}[preset]
	op := oidctest.New(path)
	t.Cleanup(op.Close)
	e := &env{op: op, now: time.Now().Truncate(time.Second)}
	cfg := Config{ID: "idp", Type: "oidc", Preset: preset, Issuer: op.Issuer, ClientID: "fedgate",
		ClientSecret: protocols.NewSecret("s3cret")}
	if preset == PresetEntra {
		cfg.Tenant = tenant
	}
	if mut != nil {
		mut(&cfg)
	}
	up, err := Open(cfg, Deps{HTTPClient: op.Client(), Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	e.up = up
	e.a = protocols.AuthRequest{State: "state-1", Nonce: "nonce-1", PKCEVerifier: strings.Repeat("v", 43),
		CallbackURL: "https://sso.example/callback/idp"}
	return e
}

// claims is a valid ID token for the login, in the preset's shape.
func (e *env) claims(preset string) map[string]any {
	c := map[string]any{"iss": e.op.Issuer, "aud": "fedgate", "sub": "sub-alice", "nonce": e.a.Nonce,
		"iat": e.now.Unix(), "exp": e.now.Add(5 * time.Minute).Unix()}
	switch preset {
	case PresetADFS:
		c["upn"], c["unique_name"], c["sid"], c["ver"] = "alice@corp.example", `CORP\alice`, "S-1-5-21-1", "1.0"
		c["auth_time"] = e.now.Add(-time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")
		c["group"] = []any{"staff", "CN=Admins,OU=Groups,DC=corp,DC=example"}
		c["amr"] = []any{"http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password"}
	case PresetEntra:
		c["tid"], c["oid"], c["preferred_username"], c["name"] = tenant, "AAAA-oid", "alice@corp.example", "Alice"
		c["groups"] = []any{"g-staff"}
	}
	return c
}

// begin runs Begin and returns its query.
func (e *env) begin(t *testing.T) url.Values {
	t.Helper()
	to, err := e.up.Begin(context.Background(), e.a)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(to)
	return u.Query()
}

// finish answers the callback with a code for idToken.
func (e *env) finish(t *testing.T, idToken string, query func(url.Values)) (protocols.Identity, error) {
	t.Helper()
	q := e.begin(t)
	v := url.Values{"code": {e.op.Code(q.Get("code_challenge"), idToken, "")}, "state": {e.a.State}, "iss": {e.op.Issuer}}
	if query != nil {
		query(v)
	}
	r := httptest.NewRequest(http.MethodGet, "/callback/idp?"+v.Encode(), nil)
	return e.up.Finish(context.Background(), r, e.a)
}

func TestFinishRejects(t *testing.T) {
	tests := []struct {
		name   string
		preset string
		cfg    func(*Config)
		token  func(e *env, c map[string]any) string
		query  func(url.Values)
		want   error
		msg    string
	}{
		{name: "valid", preset: PresetGeneric},
		{name: "wrong iss", preset: PresetGeneric, token: func(e *env, c map[string]any) string {
			c["iss"] = "https://evil.example"
			return e.op.Sign(c)
		}, want: protocols.ErrRejected, msg: "issuer"},
		{name: "wrong aud", preset: PresetGeneric, token: func(e *env, c map[string]any) string {
			c["aud"] = "someone-else"
			return e.op.Sign(c)
		}, want: protocols.ErrRejected, msg: "audience"},
		{name: "several audiences without azp", preset: PresetGeneric, token: func(e *env, c map[string]any) string {
			c["aud"] = []any{"fedgate", "other"}
			return e.op.Sign(c)
		}, want: protocols.ErrRejected, msg: "no azp"},
		{name: "azp mismatch", preset: PresetGeneric, token: func(e *env, c map[string]any) string {
			c["aud"], c["azp"] = []any{"fedgate", "other"}, "other"
			return e.op.Sign(c)
		}, want: protocols.ErrRejected, msg: "azp"},
		{name: "expired", preset: PresetGeneric, token: func(e *env, c map[string]any) string {
			c["exp"] = e.now.Add(-3 * time.Minute).Unix()
			return e.op.Sign(c)
		}, want: protocols.ErrRejected, msg: "expired"},
		{name: "expired within skew", preset: PresetGeneric, token: func(e *env, c map[string]any) string {
			c["exp"] = e.now.Add(-time.Minute).Unix()
			return e.op.Sign(c)
		}},
		{name: "expired, no skew configured", preset: PresetGeneric, cfg: func(c *Config) { c.ClockSkew = time.Second },
			token: func(e *env, c map[string]any) string {
				c["exp"] = e.now.Add(-time.Minute).Unix()
				return e.op.Sign(c)
			}, want: protocols.ErrRejected, msg: "expired"},
		{name: "auth_time in the future (a local-time ISO string read as UTC)", preset: PresetADFS, token: func(e *env, c map[string]any) string {
			c["auth_time"] = e.now.Add(9 * time.Hour).UTC().Format("2006-01-02T15:04:05")
			return e.op.Sign(c)
		}, want: protocols.ErrRejected, msg: "auth_time"},
		{name: "auth_time unreadable", preset: PresetADFS, token: func(e *env, c map[string]any) string {
			c["auth_time"] = "1/15/2019 10:12:37 AM"
			return e.op.Sign(c)
		}, want: protocols.ErrRejected, msg: "auth_time"},
		{name: "issued in the future", preset: PresetGeneric, token: func(e *env, c map[string]any) string {
			c["iat"] = e.now.Add(10 * time.Minute).Unix()
			return e.op.Sign(c)
		}, want: protocols.ErrRejected, msg: "future"},
		{name: "no iat", preset: PresetGeneric, token: func(e *env, c map[string]any) string {
			delete(c, "iat")
			return e.op.Sign(c)
		}, want: protocols.ErrRejected, msg: "iat"},
		{name: "nonce of another login (replayed token)", preset: PresetGeneric, token: func(e *env, c map[string]any) string {
			c["nonce"] = "nonce-of-an-earlier-login"
			return e.op.Sign(c)
		}, want: protocols.ErrRejected, msg: "nonce"},
		{name: "alg none", preset: PresetGeneric, token: func(e *env, c map[string]any) string {
			return oidctest.Unsigned(c)
		}, want: protocols.ErrRejected, msg: "signature"},
		{name: "HS256 keyed with the IdP's public key", preset: PresetGeneric, token: func(e *env, c map[string]any) string {
			return e.op.SignHS256WithPublicKey(c)
		}, want: protocols.ErrRejected, msg: "signature"},
		{name: "signed by a key the IdP does not publish", preset: PresetGeneric, token: func(e *env, c map[string]any) string {
			return oidctest.SignRSA(oidctest.NewKey(), e.op.KeyID, c)
		}, want: protocols.ErrRejected, msg: "signature"},
		{name: "RS256 not in the allow-list", preset: PresetGeneric, cfg: func(c *Config) { c.SigningAlgs = []string{"ES256"} },
			want: protocols.ErrRejected, msg: "signature"},
		{name: "no id_token", preset: PresetGeneric, token: func(*env, map[string]any) string { return "" },
			want: protocols.ErrRejected, msg: "id_token"},
		{name: "iss response parameter of another IdP (mix-up)", preset: PresetGeneric,
			query: func(v url.Values) { v.Set("iss", "https://other-idp.example") }, want: protocols.ErrRejected, msg: "mix-up"},
		{name: "iss response parameter missing though promised", preset: PresetGeneric,
			query: func(v url.Values) { v.Del("iss") }, want: protocols.ErrRejected, msg: "RFC 9207"},
		{name: "state mismatch", preset: PresetGeneric,
			query: func(v url.Values) { v.Set("state", "another") }, want: protocols.ErrRejected, msg: "state"},
		{name: "code refused by the token endpoint", preset: PresetGeneric,
			query: func(v url.Values) { v.Set("code", "made-up") }, want: protocols.ErrRejected, msg: "invalid_grant"},
		{name: "IdP error answer", preset: PresetGeneric,
			query: func(v url.Values) { v.Del("code"); v.Set("error", "access_denied") }, want: protocols.ErrDeclined, msg: "access_denied"},
		{name: "entra: tenant not allowed", preset: PresetEntra, token: func(e *env, c map[string]any) string {
			c["tid"] = otherTenant
			return e.op.Sign(c)
		}, want: protocols.ErrRejected, msg: "tenant"},
		{name: "entra multi-tenant: tenant not in allowed_tenants", preset: PresetEntra, cfg: func(c *Config) {
			c.Issuer = strings.Replace(c.Issuer, tenant, "organizations", 1)
			c.Tenant, c.AllowedTenants = "organizations", []string{otherTenant}
		}, want: protocols.ErrRejected, msg: "tenant " + tenant + " is not allowed"},
		{name: "entra multi-tenant: token tid not allowed (no iss parameter)", preset: PresetEntra, cfg: func(c *Config) {
			c.Issuer = strings.Replace(c.Issuer, tenant, "organizations", 1)
			c.Tenant, c.AllowedTenants = "organizations", []string{otherTenant}
		}, query: func(v url.Values) { v.Del("iss") }, want: protocols.ErrRejected, msg: "is not allowed"},
		{name: "entra: no tid", preset: PresetEntra, token: func(e *env, c map[string]any) string {
			delete(c, "tid")
			return e.op.Sign(c)
		}, want: protocols.ErrRejected, msg: "tid"},
		{name: "entra: overage denied by default", preset: PresetEntra, token: func(e *env, c map[string]any) string {
			delete(c, "groups")
			c["_claim_names"] = map[string]any{"groups": "src1"}
			c["_claim_sources"] = map[string]any{"src1": map[string]any{"endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects"}}
			return e.op.Sign(c)
		}, want: protocols.ErrRejected, msg: "overage"},
		{name: "adfs: access token from the wrong issuer", preset: PresetADFS,
			cfg: func(c *Config) { c.Resource, c.AccessTokenClaims = "urn:api", true }, want: protocols.ErrRejected, msg: "access token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.preset, tt.cfg)
			if e.up.cfg.multiTenant() {
				e.op.Metadata["issuer"] = strings.Replace(e.op.Issuer, tenant, "{tenantid}", 1)
				e.op.Metadata["authorization_response_iss_parameter_supported"] = false
				e.op.ServeDiscoveryAt("/organizations/v2.0")
			}
			tok := tt.token
			if tok == nil {
				tok = func(e *env, c map[string]any) string { return e.op.Sign(c) }
			}
			_, err := e.finish(t, tok(e, e.claims(tt.preset)), tt.query)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Finish: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Finish error = %v, want %v mentioning %q", err, tt.want, tt.msg)
			}
		})
	}
}

func TestIdentityMapping(t *testing.T) {
	tests := []struct {
		name    string
		preset  string
		cfg     func(*Config)
		mfa     bool // step-up request
		force   bool // prompt=login
		edit    func(c map[string]any)
		check   func(t *testing.T, id protocols.Identity)
		wantMFA bool
	}{
		{name: "adfs: upn, groups, ISO auth_time, password", preset: PresetADFS, check: func(t *testing.T, id protocols.Identity) {
			if id.Subject != "sub-alice" || id.Username != "alice@corp.example" || id.Email != "alice@corp.example" {
				t.Errorf("identity = %+v", id)
			}
			if !slices.Equal(id.Groups, []string{"staff", "CN=Admins,OU=Groups,DC=corp,DC=example"}) {
				t.Errorf("groups = %q", id.Groups)
			}
			if id.Claims["sid"] != "S-1-5-21-1" || id.Claims["unique_name"] != `CORP\alice` {
				t.Errorf("claims = %v", id.Claims)
			}
			if !slices.Equal(id.AMR, []string{"pwd"}) {
				t.Errorf("amr = %q", id.AMR)
			}
		}},
		{name: "adfs: numeric auth_time and group DN as CN", preset: PresetADFS, cfg: func(c *Config) { c.GroupDN = "cn" },
			edit: func(c map[string]any) { c["auth_time"] = c["iat"].(int64) - 60 }, check: func(t *testing.T, id protocols.Identity) {
				if !slices.Equal(id.Groups, []string{"staff", "Admins"}) {
					t.Errorf("groups = %q", id.Groups)
				}
			}},
		{name: "adfs: multipleauthn in amr", preset: PresetADFS, mfa: true, wantMFA: true,
			edit: func(c map[string]any) { c["amr"] = []any{"http://schemas.microsoft.com/claims/multipleauthn"} }},
		{name: "adfs: multipleauthn in authnmethodsreferences", preset: PresetADFS, wantMFA: true,
			edit: func(c map[string]any) {
				c["authnmethodsreferences"] = "http://schemas.microsoft.com/claims/multipleauthn"
			}},
		{name: "adfs: multipleauthn in the authenticationmethod claim", preset: PresetADFS, wantMFA: true,
			edit: func(c map[string]any) { c[authMethodClaim] = "http://schemas.microsoft.com/claims/multipleauthn" }},
		{name: "adfs: plain mfa is not ADFS evidence", preset: PresetADFS, wantMFA: false,
			edit: func(c map[string]any) { c["amr"] = []any{"mfa"} }},
		{name: "adfs: windows maps to kerberos", preset: PresetADFS,
			edit: func(c map[string]any) {
				c["amr"] = []any{"http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/windows"}
			},
			check: func(t *testing.T, id protocols.Identity) {
				if !slices.Equal(id.AMR, []string{"kerberos"}) {
					t.Errorf("amr = %q", id.AMR)
				}
			}},
		{name: "entra: subject is tid:oid, not email; unverified email dropped; no auth_time is unknown", preset: PresetEntra,
			edit: func(c map[string]any) { c["email"] = "boss@corp.example" },
			check: func(t *testing.T, id protocols.Identity) {
				if id.Subject != tenant+":aaaa-oid" || id.Username != "alice@corp.example" || id.DisplayName != "Alice" {
					t.Errorf("identity = %+v", id)
				}
				if !slices.Equal(id.Groups, []string{"g-staff"}) || id.Claims["tid"] != tenant {
					t.Errorf("groups = %q claims %v", id.Groups, id.Claims)
				}
				if id.Email != "" {
					t.Errorf("email without xms_edov passed on: %q", id.Email)
				}
				if !id.AuthTime.IsZero() {
					t.Errorf("auth time guessed from iat without prompt=login: %v", id.AuthTime)
				}
			}},
		{name: "entra: verified email domain kept; iat is the auth time after prompt=login", preset: PresetEntra, force: true,
			edit: func(c map[string]any) { c["email"], c["xms_edov"] = "alice@corp.example", true },
			check: func(t *testing.T, id protocols.Identity) {
				if id.Email != "alice@corp.example" || id.AuthTime.IsZero() {
					t.Errorf("identity = %+v", id)
				}
			}},
		{name: "entra: amr mfa", preset: PresetEntra, wantMFA: true, edit: func(c map[string]any) { c["amr"] = []any{"pwd", "mfa"} }},
		{name: "entra: amr ngcmfa", preset: PresetEntra, wantMFA: true, edit: func(c map[string]any) { c["amr"] = []any{"ngcmfa"} }},
		{name: "entra: acrs has the configured context", preset: PresetEntra, cfg: func(c *Config) { c.StepUp.AuthContext = "c1" },
			mfa: true, wantMFA: true, edit: func(c map[string]any) { c["acrs"] = []any{"c1"} }},
		{name: "entra: acrs has another context", preset: PresetEntra, cfg: func(c *Config) { c.StepUp.AuthContext = "c1" },
			mfa: true, wantMFA: false, edit: func(c map[string]any) { c["acrs"] = []any{"c2"} }},
		{name: "entra: overage with warn signs in without groups", preset: PresetEntra, cfg: func(c *Config) { c.GroupsOverage = "warn" },
			edit: func(c map[string]any) {
				delete(c, "groups")
				c["_claim_names"] = map[string]any{"groups": "src1"}
				c["_claim_sources"] = map[string]any{"src1": map[string]any{"endpoint": "https://graph.example/x"}}
			},
			check: func(t *testing.T, id protocols.Identity) {
				if len(id.Groups) != 0 {
					t.Errorf("groups = %q", id.Groups)
				}
			}},
		{name: "entra: multi-tenant template, allowed tenant", preset: PresetEntra, cfg: func(c *Config) {
			c.Issuer = strings.Replace(c.Issuer, tenant, "organizations", 1)
			c.Tenant, c.AllowedTenants = "organizations", []string{tenant}
		}},
		{name: "generic: email without email_verified is dropped, and not used as the username", preset: PresetGeneric,
			edit:  func(c map[string]any) { c["email"] = "boss@corp.example" },
			check: wantNames("sub-alice", "")},
		{name: "generic: email_verified false drops the email", preset: PresetGeneric,
			edit: func(c map[string]any) {
				c["email"], c["email_verified"], c["preferred_username"] = "boss@corp.example", false, "al"
			},
			check: wantNames("al", "")},
		{name: "generic: email_verified true keeps it (and it is the username fallback)", preset: PresetGeneric,
			edit:  func(c map[string]any) { c["email"], c["email_verified"] = "alice@corp.example", true },
			check: wantNames("alice@corp.example", "alice@corp.example")},
		{name: "generic: email_verified as the string true", preset: PresetGeneric,
			edit:  func(c map[string]any) { c["email"], c["email_verified"] = "alice@corp.example", "true" },
			check: wantNames("alice@corp.example", "alice@corp.example")},
		{name: "generic: trust_email keeps an email sent without email_verified", preset: PresetGeneric,
			cfg:   func(c *Config) { c.TrustEmail = true },
			edit:  func(c map[string]any) { c["email"] = "alice@corp.example" },
			check: wantNames("alice@corp.example", "alice@corp.example")},
		{name: "generic: trust_email does not override email_verified false", preset: PresetGeneric,
			cfg:   func(c *Config) { c.TrustEmail = true },
			edit:  func(c map[string]any) { c["email"], c["email_verified"] = "boss@corp.example", false },
			check: wantNames("sub-alice", "")},
		{name: "generic: an email mapped as the username is dropped unverified", preset: PresetGeneric,
			cfg:   func(c *Config) { c.Claims.Email, c.Claims.Username = "mail", "mail" },
			edit:  func(c map[string]any) { c["mail"] = "boss@corp.example" },
			check: wantNames("sub-alice", "")},
		{name: "entra: email_verified true is not xms_edov", preset: PresetEntra,
			edit:  func(c map[string]any) { c["email"], c["email_verified"] = "boss@corp.example", true },
			check: wantNames("alice@corp.example", "")},
		{name: "adfs: email_verified false drops the email but not the upn username", preset: PresetADFS,
			edit:  func(c map[string]any) { c["email"], c["email_verified"] = "alice@corp.example", false },
			check: wantNames("alice@corp.example", "")},
		{name: "generic: claim mapping overrides", preset: PresetGeneric, cfg: func(c *Config) {
			c.Claims = ClaimMapping{Username: "login", ImmutableID: "guid", Extra: map[string]string{"dept": "department"}}
		}, edit: func(c map[string]any) { c["login"], c["guid"], c["department"] = "alice", "ImM==", "R&D" },
			check: func(t *testing.T, id protocols.Identity) {
				if id.Username != "alice" || id.Claims["immutable_id"] != "ImM==" || id.Claims["dept"] != "R&D" {
					t.Errorf("identity = %+v", id)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.preset, tt.cfg)
			if e.up.cfg.multiTenant() {
				e.op.Metadata["issuer"] = strings.Replace(e.op.Issuer, tenant, "{tenantid}", 1)
				e.op.ServeDiscoveryAt("/organizations/v2.0")
			}
			if tt.mfa {
				e.a.MFA, e.a.ForceLogin = &protocols.MFARequest{Methods: []string{"mfa"}}, true
			}
			e.a.ForceLogin = e.a.ForceLogin || tt.force
			c := e.claims(tt.preset)
			if tt.edit != nil {
				tt.edit(c)
			}
			id, err := e.finish(t, e.op.Sign(c), nil)
			if err != nil {
				t.Fatalf("Finish: %v", err)
			}
			if id.Upstream != "idp" {
				t.Errorf("upstream = %q", id.Upstream)
			}
			if got := id.HasAMR("mfa"); got != tt.wantMFA {
				t.Errorf("mfa = %v, want %v (amr %q)", got, tt.wantMFA, id.AMR)
			}
			if tt.preset == PresetADFS && tt.name == "adfs: upn, groups, ISO auth_time, password" &&
				!id.AuthTime.Equal(e.now.Add(-time.Minute)) {
				t.Errorf("auth_time = %v, want %v", id.AuthTime, e.now.Add(-time.Minute))
			}
			if tt.check != nil {
				tt.check(t, id)
			}
		})
	}
}

// wantNames checks the username and email of an identity.
func wantNames(username, email string) func(*testing.T, protocols.Identity) {
	return func(t *testing.T, id protocols.Identity) {
		t.Helper()
		if id.Username != username || id.Email != email {
			t.Errorf("username %q email %q, want %q %q", id.Username, id.Email, username, email)
		}
	}
}

func callback(v url.Values) *http.Request {
	return httptest.NewRequest(http.MethodGet, "/callback/idp?"+v.Encode(), nil)
}
