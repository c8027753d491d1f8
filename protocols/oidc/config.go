// Package oidc is the upstream OpenID Connect relying party: fedgate signs
// users in at ADFS 2016+, Microsoft Entra ID (v2.0) or any other OpenID
// Provider with the authorization code flow and PKCE, and can ask them for
// MFA when a policy needs it.
//
// The broker generates and seals state, nonce and the PKCE verifier; this
// package only uses them. Every check on the answer (RFC 9207 iss, iss, aud,
// azp, exp, iat, nonce, signature algorithm, tenant) fails with an error
// wrapping protocols.ErrRejected; an unreachable IdP gives
// protocols.ErrUnavailable; an error= answer gives protocols.ErrDeclined.
//
// Vendor quirks are named opt-ins, switched on by the preset:
//   - ADFS: access tokens have their own issuer (…/adfs/services/trust);
//     auth_time may be an ISO-8601 string; MFA is the multipleauthn URI.
//   - Entra ID: the {tenantid} issuer template of common/organizations,
//     checked against tid and an allow-list; the groups overage.
package oidc

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/fedgate/fedgate/protocols"
)

// Presets.
const (
	PresetADFS    = "adfs"
	PresetEntra   = "entra"
	PresetGeneric = "generic"
)

// Config is a `type: oidc` upstream block.
type Config struct {
	ID      string   `yaml:"id"`
	Type    string   `yaml:"type"`
	Name    string   `yaml:"name"`
	Domains []string `yaml:"domains"`

	// Preset is adfs, entra or generic (the default).
	Preset string `yaml:"preset"`
	// Issuer is the OpenID Provider's issuer URL; discovery is read from
	// Issuer + "/.well-known/openid-configuration". For entra it defaults
	// to https://login.microsoftonline.com/<tenant>/v2.0.
	Issuer string `yaml:"issuer"`
	// Tenant (entra): a tenant id (GUID), or organizations/common together
	// with AllowedTenants.
	Tenant         string   `yaml:"tenant"`
	AllowedTenants []string `yaml:"allowed_tenants"`

	ClientID     string           `yaml:"client_id"`
	ClientSecret protocols.Secret `yaml:"client_secret"`
	// Scopes asked for; "openid" is always included.
	Scopes []string `yaml:"scopes"`
	// AuthParams are extra authorization request parameters.
	AuthParams map[string]string `yaml:"auth_params"`
	// Resource (ADFS) is the relying-party identifier of the Web API whose
	// access token carries the claims when allatclaims is not granted.
	Resource string `yaml:"resource"`
	// AccessTokenClaims (ADFS): also read claims from the access token,
	// after verifying it (signature, access-token issuer, audience, expiry).
	AccessTokenClaims bool `yaml:"access_token_claims"`

	// SigningAlgs is the allow-list of ID token signature algorithms
	// (default RS256). none and HS* are never accepted.
	SigningAlgs []string `yaml:"signing_algs"`
	// ClockSkew tolerated on exp, iat and nbf (default 2m).
	ClockSkew time.Duration `yaml:"clock_skew"`
	// DiscoveryTTL: how long discovery is cached before it is refreshed on
	// the next use (default 1h).
	DiscoveryTTL time.Duration `yaml:"discovery_ttl"`

	Claims ClaimMapping `yaml:"claims"`
	StepUp StepUp       `yaml:"step_up"`
	// MFAEvidence overrides which raw values prove MFA.
	MFAEvidence MFAEvidence `yaml:"mfa_evidence"`
	// GroupsOverage (entra) is what to do when the token lists no groups
	// because the user has too many: deny (default) or warn (sign in with
	// no groups, log a warning).
	GroupsOverage string `yaml:"groups_overage"`
	// GroupDN (adfs) is how group DNs are kept: keep (default) or cn (the
	// first CN= value only).
	GroupDN string `yaml:"group_dn"`
	// TrustEmail (generic) passes the email on without email_verified: true,
	// for an IdP that never sends the claim but only holds verified
	// addresses. Off by default: an unverified email is dropped.
	TrustEmail bool `yaml:"trust_email"`
}

// ClaimMapping names the token claim behind each identity field. Empty
// fields take the preset's default.
type ClaimMapping struct {
	Subject     string `yaml:"subject"`
	Username    string `yaml:"username"`
	Email       string `yaml:"email"`
	DisplayName string `yaml:"display_name"`
	Groups      string `yaml:"groups"`
	// ImmutableID is copied to Identity.Claims["immutable_id"] (Microsoft
	// 365 ImmutableID).
	ImmutableID string `yaml:"immutable_id"`
	// Extra copies more claims into Identity.Claims: name there → claim.
	Extra map[string]string `yaml:"extra"`
}

// StepUp is how MFA is asked of the upstream when policy needs it. With
// nothing configured, adfs asks amr_values=ngcmfa and entra cannot be asked
// (set auth_context); generic cannot be asked either.
type StepUp struct {
	// AMRValues (ADFS): amr_values=ngcmfa.
	AMRValues string `yaml:"amr_values"`
	// ACRValues: acr_values, e.g. http://schemas.microsoft.com/claims/multipleauthn.
	ACRValues string `yaml:"acr_values"`
	// AuthContext (Entra): the Conditional Access authentication context id
	// (c1..c25) asked for with the claims parameter and checked in acrs.
	AuthContext string `yaml:"auth_context"`
	// PromptLogin sends prompt=login with a step-up (default true).
	PromptLogin *bool `yaml:"prompt_login"`
}

// MFAEvidence lists the raw values that prove MFA.
type MFAEvidence struct {
	AMR []string `yaml:"amr"` // in amr / authnmethodsreferences / authenticationmethod
	ACR []string `yaml:"acr"` // the acr claim
}

// Microsoft's MFA URI (ADFS amr and authenticationmethod).
const multipleAuthN = protocols.MicrosoftMFA

var (
	tenantGUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	authCtxID  = regexp.MustCompile(`^c([1-9]|1[0-9]|2[0-5])$`)
)

// asymmetric is every JWS algorithm we may accept.
var asymmetric = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// reserved are authorization parameters fedgate sets itself.
var reserved = []string{"response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method", "response_mode", "request", "request_uri"}

// Validate reports every problem with the block, joined.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	preset := c.preset()
	if !slices.Contains([]string{PresetADFS, PresetEntra, PresetGeneric}, preset) {
		bad("preset %q is not one of adfs, entra, generic", c.Preset)
	}
	if c.ClientID == "" {
		bad("client_id is required")
	}
	if c.ClientSecret.Value() == "" {
		bad("client_secret is required (hint: client_secret: ${ENV_VAR} or file:/path)")
	}
	if preset == PresetEntra {
		switch t := strings.ToLower(c.Tenant); {
		case t == "":
			bad("tenant is required for preset entra (a tenant id, or organizations/common with allowed_tenants)")
		case t == "organizations" || t == "common":
			if len(c.AllowedTenants) == 0 {
				bad("tenant %q needs allowed_tenants: any Entra tenant could otherwise sign in", c.Tenant)
			}
		case t == "consumers":
			bad("tenant consumers (personal Microsoft accounts) is not supported")
		case !tenantGUID.MatchString(t):
			bad("tenant %q is not a tenant id (GUID), organizations or common", c.Tenant)
		}
		for _, t := range c.AllowedTenants {
			if !tenantGUID.MatchString(t) {
				bad("allowed_tenants: %q is not a tenant id (GUID)", t)
			}
		}
		if c.StepUp.AuthContext != "" && !authCtxID.MatchString(c.StepUp.AuthContext) {
			bad("step_up.auth_context %q is not an authentication context id c1..c25", c.StepUp.AuthContext)
		}
		// An allow-list: anything else a user or admin can change (email,
		// preferred_username, upn, ...) must never key identities.
		switch strings.ToLower(c.Claims.Subject) {
		case "", "tid:oid", "oid", "sub":
		default:
			bad("claims.subject %q is not an immutable Entra ID claim (use the default tid:oid, oid or sub)", c.Claims.Subject)
		}
	} else {
		if c.Tenant != "" || len(c.AllowedTenants) > 0 {
			bad("tenant and allowed_tenants are for preset entra only")
		}
		if c.StepUp.AuthContext != "" {
			bad("step_up.auth_context is for preset entra only")
		}
	}
	if c.TrustEmail && preset != PresetGeneric {
		bad("trust_email is for preset generic only (adfs: AD's addresses are trusted; entra: only xms_edov makes an email verified)")
	}
	if preset != PresetADFS && (c.Resource != "" || c.AccessTokenClaims) {
		bad("resource and access_token_claims are for preset adfs only")
	}
	if c.AccessTokenClaims && c.Resource == "" {
		bad("access_token_claims needs resource (the Web API identifier the access token is for)")
	}
	iss := c.issuer()
	if iss == "" {
		bad("issuer is required")
	} else if u, err := url.Parse(iss); err != nil || u.Host == "" || (u.Scheme != "https" && !loopback(u)) {
		bad("issuer %q must be an https URL (plain http only on loopback, for tests)", iss)
	} else if u.RawQuery != "" || u.Fragment != "" {
		bad("issuer %q must not have a query or fragment", iss)
	}
	for _, alg := range c.SigningAlgs {
		switch {
		case strings.EqualFold(alg, "none"):
			bad("signing_algs: %q is never accepted (unsigned tokens)", alg)
		case strings.HasPrefix(strings.ToUpper(alg), "HS"):
			bad("signing_algs: %q is never accepted (HMAC lets anyone with the key forge tokens)", alg)
		case !slices.Contains(asymmetric, alg):
			bad("signing_algs: %q is unknown (known: %s)", alg, strings.Join(asymmetric, ", "))
		}
	}
	if c.ClockSkew < 0 || c.ClockSkew > 10*time.Minute {
		bad("clock_skew %s must be between 0 and 10m", c.ClockSkew)
	}
	if c.DiscoveryTTL < 0 {
		bad("discovery_ttl must not be negative")
	}
	for k := range c.AuthParams {
		if slices.Contains(reserved, k) {
			bad("auth_params: %q is set by fedgate and cannot be overridden", k)
		}
	}
	switch c.GroupsOverage {
	case "", "deny", "warn":
		if c.GroupsOverage != "" && preset != PresetEntra {
			bad("groups_overage is for preset entra only")
		}
	default:
		bad("groups_overage %q is not deny or warn", c.GroupsOverage)
	}
	switch c.GroupDN {
	case "", "keep", "cn":
	default:
		bad("group_dn %q is not keep or cn", c.GroupDN)
	}
	claimName := regexp.MustCompile(`^[A-Za-z0-9_.:/\-]+$`)
	m := c.Claims
	for field, v := range map[string]string{"subject": m.Subject, "username": m.Username, "email": m.Email,
		"display_name": m.DisplayName, "groups": m.Groups, "immutable_id": m.ImmutableID} {
		if v != "" && !claimName.MatchString(v) && !(field == "subject" && v == "tid:oid") {
			bad("claims.%s: %q is not a claim name", field, v)
		}
	}
	for k, v := range m.Extra {
		if k == "" || !claimName.MatchString(v) {
			bad("claims.extra: %q: %q is not a claim name", k, v)
		}
	}
	if m.Subject == "tid:oid" && preset != PresetEntra {
		bad("claims.subject tid:oid is for preset entra only")
	}
	return errors.Join(errs...)
}

func loopback(u *url.URL) bool {
	h := u.Hostname()
	return u.Scheme == "http" && (h == "127.0.0.1" || h == "localhost" || h == "::1")
}

func (c Config) preset() string {
	if c.Preset == "" {
		return PresetGeneric
	}
	return c.Preset
}

// issuer is the configured issuer, or Entra's from the tenant.
func (c Config) issuer() string {
	if c.Issuer != "" {
		return strings.TrimSuffix(c.Issuer, "/")
	}
	if c.preset() == PresetEntra && c.Tenant != "" {
		return "https://login.microsoftonline.com/" + c.Tenant + "/v2.0"
	}
	return ""
}

// multiTenant reports an Entra common/organizations configuration.
func (c Config) multiTenant() bool {
	t := strings.ToLower(c.Tenant)
	return c.preset() == PresetEntra && (t == "organizations" || t == "common")
}

func (c Config) skew() time.Duration {
	if c.ClockSkew == 0 {
		return 2 * time.Minute
	}
	return c.ClockSkew
}

func (c Config) ttl() time.Duration {
	if c.DiscoveryTTL == 0 {
		return time.Hour
	}
	return c.DiscoveryTTL
}

func (c Config) algs() []string {
	if len(c.SigningAlgs) == 0 {
		return []string{"RS256"}
	}
	return c.SigningAlgs
}

func (c Config) scopes() []string {
	s := []string{"openid"}
	if len(c.Scopes) == 0 {
		s = append(s, "profile", "email")
	}
	for _, x := range c.Scopes {
		if !slices.Contains(s, x) {
			s = append(s, x)
		}
	}
	return s
}

// mapping is the claim mapping with the preset's defaults filled in; each
// field is a list tried in order.
type mapping struct {
	subject, username, email, displayName, groups, immutableID []string
	extra                                                      map[string]string
}

func (c Config) mapping() mapping {
	var m mapping
	switch c.preset() {
	case PresetADFS:
		m = mapping{subject: []string{"sub"}, username: []string{"upn", "unique_name"}, email: []string{"email", "upn"},
			displayName: []string{"name", "unique_name"}, groups: []string{"group", "groups"},
			extra: map[string]string{"upn": "upn", "unique_name": "unique_name", "sid": "sid", "authmethod": "authmethod"}}
	case PresetEntra:
		m = mapping{subject: []string{"tid:oid"}, username: []string{"preferred_username", "upn"}, email: []string{"email"},
			displayName: []string{"name"}, groups: []string{"groups"},
			extra: map[string]string{"tid": "tid", "oid": "oid"}}
	default:
		m = mapping{subject: []string{"sub"}, username: []string{"preferred_username", "email", "sub"}, email: []string{"email"},
			displayName: []string{"name"}, groups: []string{"groups"}, extra: map[string]string{}}
	}
	set := func(dst *[]string, v string) {
		if v != "" {
			*dst = []string{v}
		}
	}
	set(&m.subject, c.Claims.Subject)
	set(&m.username, c.Claims.Username)
	set(&m.email, c.Claims.Email)
	set(&m.displayName, c.Claims.DisplayName)
	set(&m.groups, c.Claims.Groups)
	set(&m.immutableID, c.Claims.ImmutableID)
	for k, v := range c.Claims.Extra {
		m.extra[k] = v
	}
	return m
}

// stepUp is the step-up configuration with the preset's defaults.
func (c Config) stepUp() StepUp {
	s := c.StepUp
	if c.preset() == PresetADFS && s.AMRValues == "" && s.ACRValues == "" {
		s.AMRValues = "ngcmfa"
	}
	if s.PromptLogin == nil {
		t := true
		s.PromptLogin = &t
	}
	return s
}

// evidence is which raw amr and acr values prove MFA.
func (c Config) evidence() MFAEvidence {
	e := c.MFAEvidence
	if len(e.AMR) == 0 {
		switch c.preset() {
		case PresetADFS:
			e.AMR = []string{multipleAuthN}
		case PresetEntra:
			e.AMR = []string{"mfa", "ngcmfa"}
		default:
			e.AMR = []string{"mfa"}
		}
	}
	if len(e.ACR) == 0 && c.StepUp.ACRValues != "" && c.preset() != PresetADFS {
		e.ACR = []string{c.StepUp.ACRValues}
	}
	return e
}
