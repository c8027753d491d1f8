package preset

import (
	"slices"
	"strings"
	"testing"
)

const tenant = "8F3B2A10-1c2d-4e5f-9a8b-0123456789ab"

// TestResolve: each preset, for each protocol, says what INTEROP.md says,
// literally; the NameID rules are the same for both protocols.
func TestResolve(t *testing.T) {
	salt := "0123456789abcdef0123"
	tests := []struct {
		name     string
		c        Config
		protocol string
		ids      []string
		replies  []string
		format   string
		value    string
		attrs    []string // name=value
		err      string
	}{
		{name: "entra-b2b SAML", c: Config{Preset: EntraB2B, Tenant: tenant, Salt: salt}, protocol: SAML,
			ids: []string{"https://login.microsoftonline.com/8f3b2a10-1c2d-4e5f-9a8b-0123456789ab/", MicrosoftOnline}, replies: []string{MicrosoftLoginSRF},
			format: NameIDPersistent, value: "pairwise", attrs: []string{ClaimEmailAddress + "=email"}},
		{name: "entra-b2b WS-Fed, ImmutableID", c: Config{Preset: EntraB2B, Tenant: tenant, ImmutableID: "claim:oid"}, protocol: WSFed,
			ids: []string{"https://login.microsoftonline.com/8f3b2a10-1c2d-4e5f-9a8b-0123456789ab/", MicrosoftOnline}, replies: []string{MicrosoftLoginSRF},
			format: NameIDPersistent, value: "claim:oid", attrs: []string{ClaimImmutableID + "=claim:oid", ClaimEmailAddress + "=email"}},
		{name: "entra-b2b WS-Fed without ImmutableID: pairwise", c: Config{Preset: EntraB2B, Tenant: tenant, Salt: salt}, protocol: WSFed,
			ids: []string{"https://login.microsoftonline.com/8f3b2a10-1c2d-4e5f-9a8b-0123456789ab/", MicrosoftOnline}, replies: []string{MicrosoftLoginSRF},
			format: NameIDPersistent, value: "pairwise", attrs: []string{ClaimImmutableID + "=pairwise", ClaimEmailAddress + "=email"}},
		{name: "entra-b2b CIAM", c: Config{Preset: EntraB2B, Tenant: tenant, CIAM: true, Salt: salt}, protocol: SAML,
			ids: []string{"https://login.microsoftonline.com/8f3b2a10-1c2d-4e5f-9a8b-0123456789ab/", MicrosoftOnline}, replies: []string{"https://8f3b2a10-1c2d-4e5f-9a8b-0123456789ab.ciamlogin.com/login.srf"},
			format: NameIDPersistent, value: "pairwise", attrs: []string{ClaimEmailAddress + "=email"}},
		{name: "entra-b2b: a configured attribute is kept", c: Config{Preset: EntraB2B, Tenant: tenant, Salt: salt, Attributes: []Attribute{{Name: ClaimEmailAddress, Value: "upn"}}}, protocol: SAML,
			ids: []string{"https://login.microsoftonline.com/8f3b2a10-1c2d-4e5f-9a8b-0123456789ab/", MicrosoftOnline}, replies: []string{MicrosoftLoginSRF},
			format: NameIDPersistent, value: "pairwise", attrs: []string{ClaimEmailAddress + "=upn"}},
		{name: "m365 SAML: NameID forced", c: Config{Preset: M365, ImmutableID: "claim:immutable_id", NameIDFormat: "email", NameIDValue: "email"}, protocol: SAML,
			ids: []string{MicrosoftOnline}, replies: []string{MicrosoftLoginSRF},
			format: NameIDPersistent, value: "claim:immutable_id", attrs: []string{AttrIDPEmail + "=upn"}},
		{name: "m365 WS-Fed", c: Config{Preset: M365, ImmutableID: "claim:immutable_id"}, protocol: WSFed,
			ids: []string{MicrosoftOnline}, replies: []string{MicrosoftLoginSRF},
			format: NameIDPersistent, value: "claim:immutable_id", attrs: []string{ClaimUPN + "=upn", ClaimImmutableID + "=claim:immutable_id"}},
		{name: "no preset: transient in SAML", c: Config{NameIDFormat: "transient"}, protocol: SAML, format: NameIDTransient, value: "transient"},
		{name: "no preset: WS-Fed has no transient ids", c: Config{NameIDFormat: "transient"}, protocol: WSFed, format: NameIDTransient, value: "username"},
		{name: "no preset: email", c: Config{NameIDFormat: "emailAddress"}, protocol: WSFed, format: NameIDEmail, value: "email"},
		{name: "no preset: a URN format", c: Config{NameIDFormat: "urn:x:y"}, protocol: SAML, format: "urn:x:y", value: "username"},

		{name: "entra-b2b without tenant", c: Config{Preset: EntraB2B, Salt: salt}, protocol: SAML, err: "preset entra-b2b needs tenant"},
		{name: "m365 without immutable_id", c: Config{Preset: M365}, protocol: WSFed, err: "preset m365 needs immutable_id"},
		{name: "m365 with two domains", c: Config{Preset: M365, ImmutableID: "claim:x", Domains: []string{"a.example", "b.example"}}, protocol: SAML, err: "one app per federated domain"},
		{name: "unknown preset", c: Config{Preset: "okta"}, protocol: SAML, err: `unknown preset "okta" (known: entra-b2b, m365)`},
		{name: "pairwise without salt", c: Config{}, protocol: SAML, err: "persistent_salt"},
		{name: "a pairwise claim without salt", c: Config{NameIDFormat: "email", Attributes: []Attribute{{Name: "a/b", Value: "pairwise"}}}, protocol: WSFed, err: "persistent_salt"},
		{name: "bad format", c: Config{NameIDFormat: "x509", Salt: salt}, protocol: SAML, err: `name_id_format "x509"`},
		{name: "groups are no NameID", c: Config{NameIDValue: "groups"}, protocol: SAML, err: `name_id_value "groups"`},
		{name: "transient value in WS-Fed", c: Config{NameIDValue: "transient"}, protocol: WSFed, err: `name_id_value "transient"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Resolve(tt.c, tt.protocol)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var attrs []string
			for _, a := range p.Attributes {
				attrs = append(attrs, a.Name+"="+a.Value)
			}
			if !slices.Equal(p.IDs, tt.ids) || !slices.Equal(p.Replies, tt.replies) || p.NameIDFormat != tt.format || p.NameIDValue != tt.value || !slices.Equal(attrs, tt.attrs) {
				t.Errorf("got ids %q replies %q nameid %s/%s attrs %q\nwant ids %q replies %q nameid %s/%s attrs %q",
					p.IDs, p.Replies, p.NameIDFormat, p.NameIDValue, attrs, tt.ids, tt.replies, tt.format, tt.value, tt.attrs)
			}
			if len(p.IDs) > 0 && p.Audience != p.IDs[0] {
				t.Errorf("audience %q, want the primary id %q", p.Audience, p.IDs[0])
			}
		})
	}
}

func TestWarning(t *testing.T) {
	for _, c := range []struct{ preset, url, want string }{
		{M365, "http://sso.example.co.jp", "http:// public_url"},
		{EntraB2B, "HTTP://sso.example.co.jp", "accepts only https"},
		{M365, "https://sso.example.co.jp", ""},
		{"", "http://127.0.0.1:8080", ""},
	} {
		if got := Warning(c.preset, c.url); (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("Warning(%q, %q) = %q, want %q", c.preset, c.url, got, c.want)
		}
	}
}

// TestOwners: one id, one app; Microsoft 365's id may repeat, each time
// with its own issuer.
func TestOwners(t *testing.T) {
	o := NewOwners("realm")
	steps := []struct{ app, id, preset, issuer, err string }{
		{"intranet", "urn:intranet", "", "https://sso/wsfed", ""},
		{"evil", "urn:intranet", "", "https://sso/wsfed", `realm "urn:intranet" is already app "intranet"'s`},
		{"m365-a", MicrosoftOnline, M365, "http://a/adfs/services/trust", ""},
		{"m365-b", MicrosoftOnline, M365, "http://b/adfs/services/trust", ""},
		{"m365-c", MicrosoftOnline, M365, "http://a/adfs/services/trust", "needs its own IssuerUri"},
		{"other", "urn:other", "", "http://a/adfs/services/trust", ""}, // the issuer rule is m365's only
	}
	for _, s := range steps {
		err := o.Claim(s.app, s.id, s.preset, s.issuer)
		if (s.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), s.err)) {
			t.Errorf("Claim(%s): %v, want %q", s.app, err, s.err)
		}
	}
}
