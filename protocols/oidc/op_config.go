package oidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/fedgate/fedgate/protocols"
)

// ClientConfig is the `oidc:` block of a `type: oidc` app: one client of
// fedgate's OpenID Provider.
//
//	apps:
//	  - id: portal
//	    type: oidc
//	    policy: staff
//	    oidc:
//	      client_id: portal
//	      client_secret: ${PORTAL_SECRET}
//	      redirect_uris: [https://portal.example.co.jp/callback]
type ClientConfig struct {
	ClientID string `yaml:"client_id"`
	// ClientSecret (${ENV} or file:/path) or ClientSecretHash (argon2id or
	// bcrypt, as `fedgate hash-password` prints) for confidential clients
	// authenticating with client_secret_basic / client_secret_post.
	ClientSecret     protocols.Secret `yaml:"client_secret"`
	ClientSecretHash string           `yaml:"client_secret_hash"`
	// Public clients (SPAs, native apps) have no secret and must use PKCE.
	Public bool `yaml:"public"`
	// TokenEndpointAuthMethod: client_secret_basic, client_secret_post,
	// private_key_jwt (default with jwks) or none (public clients). Unset
	// with a secret, either of the two secret methods is accepted.
	TokenEndpointAuthMethod string `yaml:"token_endpoint_auth_method"`
	// JWKS holds the client's public keys for private_key_jwt.
	JWKS *ClientJWKS `yaml:"jwks"`

	// RedirectURIs are matched exactly, character for character.
	RedirectURIs           []string `yaml:"redirect_uris"`
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`

	// IDTokenSigningAlg: RS256 (default) or ES256 (needs an active P-256
	// signing key; several times cheaper to sign). JWT access tokens are
	// signed the same way.
	IDTokenSigningAlg string `yaml:"id_token_signing_alg"`
	// AccessTokenFormat: opaque (default: sealed with fedgate's cookie keys,
	// meaningful to fedgate's UserInfo only, no second signature per token
	// response) or jwt (RFC 9068, for a client whose APIs verify access
	// tokens themselves).
	AccessTokenFormat string `yaml:"access_token_format"`
	// SubjectType: public (default: <upstream>:<subject>, the same for
	// every client) or pairwise (different per sector, unlinkable).
	SubjectType      string           `yaml:"subject_type"`
	PairwiseSalt     protocols.Secret `yaml:"pairwise_salt"`
	SectorIdentifier string           `yaml:"sector_identifier"`

	// Claims maps extra claim names to what they carry: username, upn,
	// email, name, groups, subject, upstream, or claim:<name> (a claim the
	// upstream gave). They are added to the ID token and UserInfo.
	Claims map[string]string `yaml:"claims"`
	// MFAACR is the acr value meaning "authenticated with MFA": asked for in
	// acr_values it makes fedgate require MFA, and it is the acr of tokens
	// whose authentication included MFA (default
	// http://schemas.openid.net/pape/policies/2007/06/multi-factor).
	MFAACR string `yaml:"mfa_acr"`

	// RefreshTokens lets the client refresh its tokens without the browser.
	RefreshTokens bool `yaml:"refresh_tokens"`
	// Lifetimes (defaults 10m, 10m, 8h, 24h). A refresh token rotates on
	// every use; RefreshTokenMaxAge bounds the whole chain from sign-in.
	AccessTokenTTL     time.Duration `yaml:"access_token_ttl"`
	IDTokenTTL         time.Duration `yaml:"id_token_ttl"`
	RefreshTokenTTL    time.Duration `yaml:"refresh_token_ttl"`
	RefreshTokenMaxAge time.Duration `yaml:"refresh_token_max_age"`
	// ClockSkew tolerated on client assertions (default 1m).
	ClockSkew time.Duration `yaml:"clock_skew"`
}

// ClientJWKS is a JSON Web Key Set written in YAML (or pasted as JSON).
type ClientJWKS struct {
	Keys []ClientJWK `yaml:"keys" json:"keys"`
}

// ClientJWK is one public key: only the public parameters are accepted.
type ClientJWK struct {
	Kty string `yaml:"kty" json:"kty"`
	Kid string `yaml:"kid" json:"kid,omitempty"`
	Use string `yaml:"use" json:"use,omitempty"`
	Alg string `yaml:"alg" json:"alg,omitempty"`
	N   string `yaml:"n" json:"n,omitempty"`
	E   string `yaml:"e" json:"e,omitempty"`
	Crv string `yaml:"crv" json:"crv,omitempty"`
	X   string `yaml:"x" json:"x,omitempty"`
	Y   string `yaml:"y" json:"y,omitempty"`
}

// Token endpoint authentication methods.
const (
	authBasic = "client_secret_basic"
	authPost  = "client_secret_post"
	authJWT   = "private_key_jwt"
	authNone  = "none"
)

// DefaultMFAACR is the acr of an authentication that included MFA.
const DefaultMFAACR = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"

// clientAssertionAlgs are the signature algorithms accepted on client
// assertions (never none, never HMAC).
var clientAssertionAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256}

var claimSource = regexp.MustCompile(`^(username|upn|email|name|groups|subject|upstream|claim:[A-Za-z0-9_.:/\-]+)$`)

// reservedClaims are set by fedgate itself.
var reservedClaims = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "acr", "amr",
	"azp", "at_hash", "c_hash", "sid", "scope", "client_id", "fam"}

// Validate reports every problem with the block, joined.
func (c ClientConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.ClientID == "" || len(c.ClientID) > 128 || strings.ContainsAny(c.ClientID, " :\t\r\n") {
		bad("client_id is required: up to 128 characters, no spaces or colons")
	}
	secret := c.ClientSecret.Value() != "" || c.ClientSecretHash != ""
	if c.ClientSecret.Value() != "" && c.ClientSecretHash != "" {
		bad("give client_secret or client_secret_hash, not both")
	}
	if c.ClientSecretHash != "" {
		if _, err := parseSecretHash(c.ClientSecretHash); err != nil {
			bad("client_secret_hash: %v", err)
		}
	}
	if c.ClientSecret.Value() != "" && len(c.ClientSecret.Value()) < 16 {
		bad("client_secret is too short (at least 16 characters; fedgate keys generate --cookie makes a good one)")
	}
	switch m := c.authMethod(); {
	case c.Public && (secret || c.JWKS != nil):
		bad("a public client has no client_secret and no jwks")
	case c.Public && m != authNone:
		bad("a public client uses token_endpoint_auth_method none")
	case !c.Public && m == authNone:
		bad("token_endpoint_auth_method none is for public clients (public: true)")
	case m == authBasic || m == authPost:
		if !secret {
			bad("%s needs client_secret or client_secret_hash", m)
		}
	case m == authJWT:
		if c.JWKS == nil || len(c.JWKS.Keys) == 0 {
			bad("private_key_jwt needs jwks (the client's public keys)")
		}
		if secret {
			bad("private_key_jwt clients have no client_secret")
		}
	case m != authNone:
		bad("token_endpoint_auth_method %q is not one of %s, %s, %s, %s", m, authBasic, authPost, authJWT, authNone)
	}
	if c.JWKS != nil {
		if _, err := c.JWKS.keySet(); err != nil {
			bad("jwks: %v", err)
		}
	}
	if len(c.RedirectURIs) == 0 {
		bad("redirect_uris is required (matched exactly)")
	}
	for _, u := range c.RedirectURIs {
		if err := checkClientURI(u); err != nil {
			bad("redirect_uris: %v", err)
		}
	}
	for _, u := range c.PostLogoutRedirectURIs {
		if err := checkClientURI(u); err != nil {
			bad("post_logout_redirect_uris: %v", err)
		}
	}
	switch c.IDTokenSigningAlg {
	case "", "RS256", "ES256":
	default:
		bad("id_token_signing_alg %q is not RS256 or ES256", c.IDTokenSigningAlg)
	}
	switch c.AccessTokenFormat {
	case "", "opaque", "jwt":
	default:
		bad("access_token_format %q is not opaque or jwt", c.AccessTokenFormat)
	}
	switch c.SubjectType {
	case "", "public":
		if c.PairwiseSalt.Value() != "" || c.SectorIdentifier != "" {
			bad("pairwise_salt and sector_identifier are for subject_type pairwise")
		}
	case "pairwise":
		if len(c.PairwiseSalt.Value()) < 16 {
			bad("subject_type pairwise needs pairwise_salt (a secret of at least 16 characters, ${ENV} or file:)")
		}
		if c.SectorIdentifier == "" && len(c.hosts()) > 1 {
			bad("redirect_uris are on several hosts: set sector_identifier so pairwise subjects stay stable")
		}
	default:
		bad("subject_type %q is not public or pairwise", c.SubjectType)
	}
	for k, v := range c.Claims {
		if k == "" || slices.Contains(reservedClaims, k) {
			bad("claims: %q is set by fedgate and cannot be mapped", k)
		}
		if !claimSource.MatchString(v) {
			bad("claims.%s: %q is not username, upn, email, name, groups, subject, upstream or claim:<name>", k, v)
		}
	}
	if c.MFAACR != "" && strings.ContainsAny(c.MFAACR, " \t\r\n") {
		bad("mfa_acr %q must not contain spaces", c.MFAACR)
	}
	for name, d := range map[string]time.Duration{"access_token_ttl": c.AccessTokenTTL, "id_token_ttl": c.IDTokenTTL} {
		if d < 0 || d > 24*time.Hour {
			bad("%s %s must be between 0 (default) and 24h", name, d)
		}
	}
	if c.RefreshTokenTTL < 0 || c.RefreshTokenMaxAge < 0 || c.RefreshTokenMaxAge > 90*24*time.Hour {
		bad("refresh_token_ttl and refresh_token_max_age must be positive (max age at most 90 days)")
	}
	if c.ClockSkew < 0 || c.ClockSkew > 10*time.Minute {
		bad("clock_skew %s must be between 0 and 10m", c.ClockSkew)
	}
	return errors.Join(errs...)
}

// checkClientURI: absolute, https (http only on loopback), no fragment.
func checkClientURI(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return fmt.Errorf("%q is not an absolute URL", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return fmt.Errorf("%q must not have a fragment", s)
	case u.Scheme == "http" && !loopback(u):
		return fmt.Errorf("%q must be https (plain http only on loopback)", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q must be an https URL", s)
	case u.User != nil:
		return fmt.Errorf("%q must not carry user info", s)
	}
	return nil
}

func (c ClientConfig) authMethod() string {
	switch {
	case c.TokenEndpointAuthMethod != "":
		return c.TokenEndpointAuthMethod
	case c.Public:
		return authNone
	case c.JWKS != nil:
		return authJWT
	}
	return authBasic
}

func (c ClientConfig) hosts() []string {
	var hs []string
	for _, r := range c.RedirectURIs {
		if u, err := url.Parse(r); err == nil && !slices.Contains(hs, u.Host) {
			hs = append(hs, u.Host)
		}
	}
	return hs
}

// sector is what pairwise subjects are computed for.
func (c ClientConfig) sector() string {
	if c.SectorIdentifier != "" {
		return c.SectorIdentifier
	}
	if hs := c.hosts(); len(hs) > 0 {
		return hs[0]
	}
	return c.ClientID
}

func (c ClientConfig) alg() string {
	if c.IDTokenSigningAlg == "" {
		return "RS256"
	}
	return c.IDTokenSigningAlg
}

func (c ClientConfig) mfaACR() string {
	if c.MFAACR == "" {
		return DefaultMFAACR
	}
	return c.MFAACR
}

func dur(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// keySet turns the configured keys into go-jose keys: public, signing keys only.
func (j *ClientJWKS) keySet() ([]jose.JSONWebKey, error) {
	if len(j.Keys) > 16 {
		return nil, errors.New("at most 16 keys")
	}
	var out []jose.JSONWebKey
	for i, k := range j.Keys {
		raw, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		var jk jose.JSONWebKey
		if err := jk.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		if !jk.IsPublic() || !jk.Valid() {
			return nil, fmt.Errorf("key %d: not a valid public key", i)
		}
		if k.Use != "" && k.Use != "sig" {
			return nil, fmt.Errorf("key %d: use %q is not sig", i, k.Use)
		}
		if k.Alg != "" && !slices.Contains(clientAssertionAlgs, jose.SignatureAlgorithm(k.Alg)) {
			return nil, fmt.Errorf("key %d: alg %q is not one of RS256, PS256, ES256", i, k.Alg)
		}
		out = append(out, jk)
	}
	return out, nil
}
