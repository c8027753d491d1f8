package wsfed

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/assertion"
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

// Presets, token types, URIs.
const (
	PresetEntraB2B = "entra-b2b"
	PresetM365     = "m365"
	TokenSAML11    = "saml11"
	TokenSAML2     = "saml2"

	MicrosoftOnline   = "urn:federation:MicrosoftOnline"
	MicrosoftLoginSRF = "https://login.microsoftonline.com/login.srf"
	ClaimEmailAddress = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
	ClaimImmutableID  = "http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID"
	ClaimUPN          = "http://schemas.xmlsoap.org/claims/UPN"
	MethodMFA         = protocols.MicrosoftMFA
	msClaims          = "http://schemas.microsoft.com/ws/2008/06/identity/claims"
	ClaimAuthnMethod  = msClaims + "/authenticationmethod"
	ClaimAuthnInstant = msClaims + "/authenticationinstant"

	NameIDPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	NameIDTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	NameIDEmail       = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	NameIDUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
)

var (
	tenantID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
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

func (c RPConfig) resolve(app string) (*rp, error) {
	r := &rp{App: app, Audience: c.Audience, Replies: c.ReplyURLs, TokenType: c.TokenType, Issuer: c.Issuer,
		NameIDFormat: c.NameIDFormat, NameIDValue: c.NameIDValue, Salt: c.PersistentSalt.Value(), Claims: c.Claims,
		MFAMethod: c.MFAMethod, SHA1: c.SHA1, TTL: c.TokenTTL, Skew: c.ClockSkew, Preset: c.Preset, Tenant: c.Tenant, Domains: c.Domains}
	if c.Realm != "" {
		r.Realms = []string{c.Realm}
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch c.Preset {
	case "":
	case PresetEntraB2B:
		if !tenantID.MatchString(c.Tenant) {
			bad("preset entra-b2b needs tenant: the partner tenant's id (a GUID)")
		}
		aud := "https://login.microsoftonline.com/" + strings.ToLower(c.Tenant) + "/"
		reply := MicrosoftLoginSRF
		if c.CIAM {
			reply = "https://" + strings.ToLower(c.Tenant) + ".ciamlogin.com/login.srf"
		}
		r.Realms = []string{aud, MicrosoftOnline}
		r.Audience, r.Replies = aud, []string{reply}
		setDefault(&r.TokenType, TokenSAML11)
		setDefault(&r.NameIDFormat, NameIDPersistent)
		if c.ImmutableID != "" {
			setDefault(&r.NameIDValue, c.ImmutableID)
		}
		addClaim(r, ClaimImmutableID, firstNonEmpty(c.ImmutableID, "pairwise"))
		addClaim(r, ClaimEmailAddress, "email")
	case PresetM365:
		if c.ImmutableID == "" || !assertion.ValueSource.MatchString(c.ImmutableID) {
			bad("preset m365 needs immutable_id: where the user's ImmutableID comes from (e.g. claim:immutable_id)")
		}
		if len(c.Domains) > 1 {
			bad("preset m365: one app per federated domain (Entra needs a distinct IssuerUri for each: give each app its own issuer)")
		}
		r.Realms = []string{MicrosoftOnline}
		r.Audience, r.Replies = MicrosoftOnline, []string{MicrosoftLoginSRF}
		r.TokenType = TokenSAML11 // Entra does not accept SAML 2.0 tokens here
		r.NameIDFormat, r.NameIDValue = NameIDPersistent, c.ImmutableID
		addClaim(r, ClaimUPN, "upn")
		addClaim(r, ClaimImmutableID, c.ImmutableID)
	default:
		bad("unknown preset %q (known: entra-b2b, m365)", c.Preset)
	}
	setDefault(&r.TokenType, TokenSAML11)
	setDefault(&r.MFAMethod, MethodMFA)
	if r.TTL == 0 {
		r.TTL = time.Hour
	}
	if r.Skew == 0 {
		r.Skew = time.Minute
	}
	if len(r.Realms) == 0 {
		bad("realm is required (the wtrealm the relying party sends)")
	} else {
		setDefault(&r.Audience, r.Realms[0])
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
	switch strings.ToLower(r.NameIDFormat) {
	case "", "persistent":
		r.NameIDFormat = NameIDPersistent
	case "transient":
		r.NameIDFormat = NameIDTransient
	case "emailaddress", "email":
		r.NameIDFormat = NameIDEmail
	case "unspecified":
		r.NameIDFormat = NameIDUnspecified
	default:
		if !strings.HasPrefix(r.NameIDFormat, "urn:") {
			bad("name_id_format %q: use persistent, emailAddress, unspecified, transient or a URN", r.NameIDFormat)
		}
	}
	if r.NameIDValue == "" {
		switch r.NameIDFormat {
		case NameIDPersistent:
			r.NameIDValue = "pairwise"
		case NameIDEmail:
			r.NameIDValue = "email"
		default:
			r.NameIDValue = "username"
		}
	}
	usesPairwise := r.NameIDValue == "pairwise" || slices.ContainsFunc(r.Claims, func(c Claim) bool { return c.Value == "pairwise" })
	if usesPairwise && len(r.Salt) < 16 {
		bad("persistent_salt: at least 16 characters are needed for pairwise persistent ids (keep it secret and never change it)")
	}
	if r.NameIDValue != "pairwise" && (!assertion.ValueSource.MatchString(r.NameIDValue) || r.NameIDValue == "groups") {
		bad("name_id_value %q: use pairwise, username, upn, email, subject or claim:<name>", r.NameIDValue)
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

func addClaim(r *rp, typ, value string) {
	if !slices.ContainsFunc(r.Claims, func(c Claim) bool { return c.Type == typ }) {
		r.Claims = append(r.Claims, Claim{Type: typ, Value: value})
	}
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func setDefault(s *string, v string) {
	if *s == "" {
		*s = v
	}
}
