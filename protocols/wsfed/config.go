package wsfed

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/assertion"
	"github.com/fedgate/fedgate/protocols/internal/preset"
)

// RPConfig is the `wsfed:` block of a `type: wsfed` app: one relying party.
//
//	apps:
//	  - id: intranet
//	    type: wsfed
//	    policy: staff
//	    wsfed:
//	      realm: urn:intranet
//	      reply_urls: [https://intranet.example.co.jp/]
//	      token_type: saml2            # or saml11 (default)
//	      claims:
//	        - { type: http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn, value: upn }
//
// Presets: `preset: m365` (with immutable_id) and `preset: entra-b2b` (with
// tenant).
type RPConfig struct {
	Preset      string   `yaml:"preset"`
	Tenant      string   `yaml:"tenant"`
	CIAM        bool     `yaml:"ciam"`
	Domains     []string `yaml:"domains"`
	ImmutableID string   `yaml:"immutable_id"`

	// Realm is the wtrealm the RP sends; it is the token's audience unless
	// Audience says otherwise.
	Realm    string `yaml:"realm"`
	Audience string `yaml:"audience"`
	// ReplyURLs are where tokens may be posted (wreply must be one of them,
	// exactly; without wreply the first).
	ReplyURLs []string `yaml:"reply_urls"`
	// TokenType: saml11 (default, what ADFS and Microsoft 365 use) or saml2.
	TokenType string `yaml:"token_type"`
	Issuer    string `yaml:"issuer"`

	// NameIDFormat / NameIDValue / PersistentSalt: as in saml: blocks.
	NameIDFormat   string           `yaml:"name_id_format"`
	NameIDValue    string           `yaml:"name_id_value"`
	PersistentSalt protocols.Secret `yaml:"persistent_salt"`
	// Claims are the token's attributes: a claim type URI and its value
	// source (username, upn, email, name, groups, subject, upstream,
	// claim:<name>).
	Claims []Claim `yaml:"claims"`
	// MFAMethod is the authentication method of a sign-in with MFA
	// (default Microsoft's http://schemas.microsoft.com/claims/multipleauthn).
	MFAMethod string `yaml:"mfa_method"`
	SHA1      bool   `yaml:"sha1"`
	// TokenTTL (default 1h, as ADFS) and ClockSkew (default 1m).
	TokenTTL  time.Duration `yaml:"token_ttl"`
	ClockSkew time.Duration `yaml:"clock_skew"`
}

// Claim is one attribute of the token.
type Claim struct {
	Type  string `yaml:"type"`
	Value string `yaml:"value"`
}

// Presets, token types, and Microsoft's URIs (defined once in
// protocols/internal/preset).
const (
	TokenSAML11 = "saml11"
	TokenSAML2  = "saml2"

	msClaims          = "http://schemas.microsoft.com/ws/2008/06/identity/claims"
	ClaimAuthnMethod  = msClaims + "/authenticationmethod"
	ClaimAuthnInstant = msClaims + "/authenticationinstant"
)

// rp is one relying party, resolved.
type rp struct {
	App          string
	Realms       []string // accepted wtrealm values, the primary first
	Audience     string
	Replies      []string
	TokenType    string
	Issuer       string
	NameIDFormat string
	NameIDValue  string
	Salt         string
	Claims       []Claim
	MFAMethod    string
	SHA1         bool
	TTL, Skew    time.Duration
	Preset       string
	Tenant       string
	Domains      []string
}

// resolve applies the preset, fills defaults and validates, returning
// every problem.
func (c RPConfig) resolve(app string) (*rp, error) {
	r := &rp{App: app, Audience: c.Audience, Replies: c.ReplyURLs, TokenType: c.TokenType, Issuer: c.Issuer,
		Salt: c.PersistentSalt.Value(), MFAMethod: c.MFAMethod, SHA1: c.SHA1, TTL: c.TokenTTL, Skew: c.ClockSkew,
		Preset: c.Preset, Tenant: c.Tenant, Domains: c.Domains}
	if c.Realm != "" {
		r.Realms = []string{c.Realm}
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	var claims []preset.Attribute
	for _, cl := range c.Claims {
		claims = append(claims, preset.Attribute{Name: cl.Type, Value: cl.Value})
	}
	peer, err := preset.Resolve(preset.Config{Preset: c.Preset, Tenant: c.Tenant, CIAM: c.CIAM, Domains: c.Domains, ImmutableID: c.ImmutableID,
		NameIDFormat: c.NameIDFormat, NameIDValue: c.NameIDValue, Salt: r.Salt, Attributes: claims}, preset.WSFed)
	if err != nil {
		errs = append(errs, err)
	}
	r.NameIDFormat, r.NameIDValue = peer.NameIDFormat, peer.NameIDValue
	for _, a := range peer.Attributes {
		r.Claims = append(r.Claims, Claim{Type: a.Name, Value: a.Value})
	}
	if pr := peer.Preset; pr != nil {
		r.Realms, r.Audience, r.Replies = peer.IDs, peer.Audience, peer.Replies
		if pr.SAML11 {
			r.TokenType = TokenSAML11
		}
	}
	if r.TokenType == "" {
		r.TokenType = TokenSAML11
	}
	if r.MFAMethod == "" {
		r.MFAMethod = preset.MethodMFA
	}
	if r.TTL == 0 {
		r.TTL = time.Hour
	}
	if r.Skew == 0 {
		r.Skew = time.Minute
	}
	if len(r.Realms) == 0 {
		bad("realm is required (the wtrealm the relying party sends)")
	} else if r.Audience == "" {
		r.Audience = r.Realms[0]
	}
	if r.TokenType != TokenSAML11 && r.TokenType != TokenSAML2 {
		bad("token_type %q: use saml11 or saml2", r.TokenType)
	}
	if len(r.Replies) == 0 {
		bad("reply_urls: at least one is required")
	}
	for i, u := range r.Replies {
		if err := assertion.CheckEndpoint(u); err != nil {
			bad("reply_urls[%d]: %v", i, err)
		}
	}
	for i, cl := range r.Claims {
		if r.TokenType == TokenSAML11 && !strings.Contains(cl.Type, "/") {
			bad("claims[%d]: type %q must be a URI (namespace/name) in SAML 1.1 tokens", i, cl.Type)
		}
		if cl.Value != "pairwise" && !assertion.ValueSource.MatchString(cl.Value) {
			bad("claims[%d] (%s): value %q: use username, upn, email, name, groups, subject, upstream or claim:<name>", i, cl.Type, cl.Value)
		}
	}
	return r, errors.Join(errs...)
}
