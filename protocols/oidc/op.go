package oidc

// The downstream OpenID Provider: apps of `type: oidc` are its clients.
// It serves discovery, the authorization endpoint (code flow, PKCE,
// query and form_post), the token endpoint (authorization_code and
// refresh_token grants; client_secret_basic/post, private_key_jwt, none),
// UserInfo and RP-initiated logout, and asks the broker for sessions through
// protocols.SessionProvider — so the same upstreams, policy and MFA apply as
// for every other app.
//
// Nothing is stored per login: the authorization request is sealed into the
// resume URL across sign-in, codes and refresh tokens are sealed values, and
// only single-use markers (a code was exchanged, a refresh token rotated, a
// token family revoked, a client assertion's jti) go to the store, through
// SessionProvider.Claim.

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/fedgate/fedgate/protocols"
)

// Endpoint paths on fedgate's host.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/.well-known/jwks.json" // served by the broker
	AuthorizePath = "/oauth2/authorize"
	ResumePath    = "/oauth2/authorize/resume"
	TokenPath     = "/oauth2/token"
	UserInfoPath  = "/oauth2/userinfo"
	LogoutPath    = "/oauth2/logout"
	signedOutPath = "/signed-out" // the broker's page
)

// Fixed lifetimes.
const (
	codeTTL   = 60 * time.Second
	resumeTTL = 15 * time.Minute
)

// ProviderConfig is every oidc app of one config snapshot.
type ProviderConfig struct {
	// Issuer is fedgate's public URL (no trailing slash).
	Issuer  string
	Clients []ProviderClient
}

// ProviderClient is one app and its oidc: block.
type ProviderClient struct {
	App string
	ClientConfig
}

// ProviderDeps are what the provider needs from outside.
type ProviderDeps struct {
	// Keys are fedgate's signing keys, the active one first; Next keys are
	// only published (by the broker's JWKS) and trusted on logout hints.
	Keys   []protocols.SigningKey
	Logger *slog.Logger
	Now    func() time.Time // nil: time.Now
}

// Provider is the OpenID Provider for one snapshot.
type Provider struct {
	issuer  string
	clients map[string]*opClient
	// idSigners and atSigners sign ID tokens and access tokens, by alg.
	idSigners, atSigners map[string]jose.Signer
	// published are the public keys our tokens verify with (logout hints,
	// access tokens at UserInfo).
	published []jose.JSONWebKey
	algs      []string
	logger    *slog.Logger
	now       func() time.Time
}

var _ protocols.Downstream = (*Provider)(nil)

// opClient is a client ready to use.
type opClient struct {
	app string
	ClientConfig
	secret secretHash
	keys   []jose.JSONWebKey
}

// OpenProvider checks the clients against each other and the keys.
func OpenProvider(cfg ProviderConfig, deps ProviderDeps) (*Provider, error) {
	p := &Provider{issuer: strings.TrimSuffix(cfg.Issuer, "/"), clients: map[string]*opClient{},
		idSigners: map[string]jose.Signer{}, atSigners: map[string]jose.Signer{}, logger: deps.Logger, now: deps.Now}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if u, err := url.Parse(p.issuer); err != nil || !u.IsAbs() || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("oidc provider: issuer %q is not an absolute URL", cfg.Issuer)
	}
	for _, k := range deps.Keys {
		p.published = append(p.published, jose.JSONWebKey{Key: k.Signer.Public(), KeyID: k.KeyID, Algorithm: k.Alg, Use: "sig"})
		if k.Next || p.idSigners[k.Alg] != nil {
			continue
		}
		key := jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Alg), Key: k.Signer}
		id, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.KeyID))
		if err != nil {
			return nil, fmt.Errorf("oidc provider: signing key %s: %w", k.KeyID, err)
		}
		at, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", k.KeyID))
		if err != nil {
			return nil, fmt.Errorf("oidc provider: signing key %s: %w", k.KeyID, err)
		}
		p.idSigners[k.Alg], p.atSigners[k.Alg] = id, at
		p.algs = append(p.algs, k.Alg)
	}
	var errs []error
	for _, c := range cfg.Clients {
		if err := c.Validate(); err != nil {
			errs = append(errs, &ClientError{App: c.App, Err: err})
			continue
		}
		if p.clients[c.ClientID] != nil {
			errs = append(errs, &ClientError{App: c.App, Err: fmt.Errorf("client_id %q is already used by app %q", c.ClientID, p.clients[c.ClientID].app)})
			continue
		}
		if p.idSigners[c.alg()] == nil {
			errs = append(errs, &ClientError{App: c.App, Err: fmt.Errorf("id_token_signing_alg %s needs an active %s signing key (keys.signing)", c.alg(), c.alg())})
			continue
		}
		oc := &opClient{app: c.App, ClientConfig: c.ClientConfig}
		switch {
		case c.ClientSecretHash != "":
			oc.secret, _ = parseSecretHash(c.ClientSecretHash)
		case c.ClientSecret.Value() != "":
			oc.secret = plainSecret(c.ClientSecret.Value())
		}
		if c.JWKS != nil {
			oc.keys, _ = c.JWKS.keySet()
		}
		p.clients[c.ClientID] = oc
	}
	return p, errors.Join(errs...)
}

// ClientError is a problem with one app's client registration.
type ClientError struct {
	App string
	Err error
}

func (e *ClientError) Error() string { return fmt.Sprintf("app %q: %v", e.App, e.Err) }
func (e *ClientError) Unwrap() error { return e.Err }

// Mount serves the provider's endpoints; sp is the broker.
func (p *Provider) Mount(mux *http.ServeMux, sp protocols.SessionProvider) {
	mux.HandleFunc("GET "+DiscoveryPath, p.discovery)
	authz := func(w http.ResponseWriter, r *http.Request) { p.authorize(w, r, sp) }
	mux.HandleFunc("GET "+AuthorizePath, authz)
	mux.HandleFunc("POST "+AuthorizePath, authz)
	mux.HandleFunc("GET "+ResumePath, func(w http.ResponseWriter, r *http.Request) { p.resume(w, r, sp) })
	mux.HandleFunc("POST "+TokenPath, func(w http.ResponseWriter, r *http.Request) { p.token(w, r, sp) })
	userinfo := func(w http.ResponseWriter, r *http.Request) { p.userinfo(w, r, sp) }
	mux.HandleFunc("GET "+UserInfoPath, userinfo)
	mux.HandleFunc("POST "+UserInfoPath, userinfo)
	logout := func(w http.ResponseWriter, r *http.Request) { p.logout(w, r, sp) }
	mux.HandleFunc("GET "+LogoutPath, logout)
	mux.HandleFunc("POST "+LogoutPath, logout)
}

func (p *Provider) url(path string) string { return p.issuer + path }

// oauthError is an RFC 6749 error.
type oauthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	status      int
	retryAfter  time.Duration // sent as Retry-After, in whole seconds
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func errInvalidRequest(format string, args ...any) *oauthError {
	return &oauthError{Code: "invalid_request", Description: fmt.Sprintf(format, args...), status: http.StatusBadRequest}
}

func errInvalidGrant(desc string) *oauthError {
	return &oauthError{Code: "invalid_grant", Description: desc, status: http.StatusBadRequest}
}

// writeJSON answers an API call; tokens must never be cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeOAuthError(w http.ResponseWriter, err error) {
	var oe *oauthError
	if !errors.As(err, &oe) {
		oe = &oauthError{Code: "server_error", status: http.StatusInternalServerError}
	}
	if oe.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(oe.retryAfter.Seconds()))))
	}
	writeJSON(w, oe.status, oe)
}

// randomID is 128 random bits, base64url.
func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
