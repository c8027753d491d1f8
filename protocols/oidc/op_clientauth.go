package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/fedgate/fedgate/protocols"
)

// Client authentication at the token endpoint: exactly one method per
// request, and the one the client is registered with.

const (
	jwtBearer       = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	maxAssertionLen = 8 << 10
	maxAssertionTTL = 10 * time.Minute
)

var errClientAuth = errors.New("client authentication failed")

// clientAuthError answers invalid_client, or answer when set (too many
// failures, too busy); the reason goes to the audit log.
type clientAuthError struct {
	clientID, reason string
	basic            bool // the client tried HTTP Basic: answer with a challenge
	answer           *oauthError
}

func (e *clientAuthError) Error() string { return "invalid_client: " + e.reason }
func (e *clientAuthError) Unwrap() error { return errClientAuth }

func (p *Provider) authenticateClient(ctx context.Context, r *http.Request, form url.Values, sp protocols.SessionProvider) (*opClient, error) {
	fail := func(id, format string, args ...any) error {
		return &clientAuthError{clientID: id, reason: fmt.Sprintf(format, args...), basic: r.Header.Get("Authorization") != ""}
	}
	user, pass, basic := r.BasicAuth()
	if basic {
		// RFC 6749 2.3.1: both are form-urlencoded before Basic encoding.
		var err1, err2 error
		user, err1 = url.QueryUnescape(user)
		pass, err2 = url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return nil, fail("", "malformed basic credentials")
		}
	}
	methods := 0
	method := authNone
	if basic {
		methods++
		method = authBasic
	}
	if form.Has("client_secret") {
		methods++
		method = authPost
	}
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		methods++
		method = authJWT
	}
	if methods > 1 {
		return nil, fail("", "more than one client authentication method")
	}
	id := form.Get("client_id")
	var assertion *jose.JSONWebSignature
	var claims assertionClaims
	switch method {
	case authBasic:
		if id != "" && id != user {
			return nil, fail(id, "client_id differs from the basic credentials")
		}
		id = user
	case authJWT:
		if form.Get("client_assertion_type") != jwtBearer {
			return nil, fail(id, "client_assertion_type is not jwt-bearer")
		}
		var err error
		if assertion, claims, err = parseClientAssertion(form.Get("client_assertion")); err != nil {
			return nil, fail(id, "client assertion: %v", err)
		}
		if id == "" {
			id = claims.Sub
		}
	}
	c := p.clients[id]
	if c == nil {
		return nil, fail(clip(id), "unknown client")
	}
	if !c.allowsAuth(method) {
		return nil, fail(id, "used %s, registered for %s", method, c.authMethod())
	}
	switch method {
	case authBasic, authPost:
		secret := pass
		if method == authPost {
			secret = form.Get("client_secret")
		}
		if err := checkSecret(r, c, secret, sp); err != nil {
			err.basic = r.Header.Get("Authorization") != ""
			return nil, err
		}
	case authJWT:
		if err := p.verifyAssertion(ctx, c, assertion, claims, sp); err != nil {
			return nil, fail(id, "client assertion: %v", err)
		}
	}
	return c, nil
}

// checkSecret checks a client secret under the broker's failure limits for
// the client and the caller's address: guesses past them are refused before
// anything is hashed (and hashing has its own bound on concurrency).
func checkSecret(r *http.Request, c *opClient, secret string, sp protocols.SessionProvider) *clientAuthError {
	e := &clientAuthError{clientID: c.ClientID}
	done, wait, err := sp.Attempt(r, "oidc-client:"+c.ClientID)
	if err != nil {
		e.reason, e.answer = "throttle: "+err.Error(), &oauthError{Code: "server_error", status: http.StatusInternalServerError}
		return e
	}
	if wait > 0 {
		e.reason = "throttled: too many failed attempts"
		e.answer = &oauthError{Code: "temporarily_unavailable", Description: "too many failed attempts; retry later",
			status: http.StatusTooManyRequests, retryAfter: wait}
		return e
	}
	ok, err := c.secret.Verify(r.Context(), secret)
	switch {
	case err != nil:
		done(err)
		e.reason = "busy: " + err.Error()
		e.answer = &oauthError{Code: "temporarily_unavailable", Description: "too many requests at once; retry later",
			status: http.StatusServiceUnavailable, retryAfter: time.Second}
		return e
	case !ok:
		done(protocols.ErrInvalidCredentials)
		e.reason = "wrong client secret"
		return e
	}
	done(nil)
	return nil
}

// allowsAuth: the registered method; a client with a secret and no
// explicit method may send it either way (libraries differ in their
// default: openid-client posts it, most others use Basic).
func (c *opClient) allowsAuth(method string) bool {
	m := c.authMethod()
	if c.TokenEndpointAuthMethod == "" && m == authBasic && method == authPost {
		return true
	}
	return m == method
}

// assertionClaims are the claims of a private_key_jwt client assertion.
type assertionClaims struct {
	Iss string       `json:"iss"`
	Sub string       `json:"sub"`
	Aud audience     `json:"aud"`
	Exp *json.Number `json:"exp"`
	Nbf *json.Number `json:"nbf"`
	Iat *json.Number `json:"iat"`
	Jti string       `json:"jti"`
}

// audience is a JWT aud: a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

// parseClientAssertion parses (without verifying) a client assertion: a
// compact JWS with one signature in an allowed algorithm, size-bounded.
func parseClientAssertion(raw string) (*jose.JSONWebSignature, assertionClaims, error) {
	var c assertionClaims
	if raw == "" || len(raw) > maxAssertionLen {
		return nil, c, errors.New("missing or too large")
	}
	jws, err := jose.ParseSignedCompact(raw, clientAssertionAlgs)
	if err != nil {
		return nil, c, err
	}
	if len(jws.Signatures) != 1 {
		return nil, c, errors.New("want exactly one signature")
	}
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c); err != nil {
		return nil, c, fmt.Errorf("claims: %w", err)
	}
	return jws, c, nil
}

func (p *Provider) verifyAssertion(ctx context.Context, c *opClient, jws *jose.JSONWebSignature, cl assertionClaims, sp protocols.SessionProvider) error {
	h := jws.Signatures[0].Header
	verified := false
	for _, k := range c.keys {
		if (h.KeyID != "" && k.KeyID != "" && h.KeyID != k.KeyID) || (k.Algorithm != "" && k.Algorithm != h.Algorithm) {
			continue
		}
		if _, err := jws.Verify(k.Key); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return errors.New("signature does not verify with the client's keys")
	}
	now, skew := p.now(), dur(c.ClockSkew, time.Minute)
	num := func(n *json.Number) (time.Time, bool) {
		if n == nil {
			return time.Time{}, false
		}
		f, err := n.Float64()
		return time.Unix(int64(f), 0), err == nil
	}
	exp, ok := num(cl.Exp)
	switch {
	case cl.Iss != c.ClientID || cl.Sub != c.ClientID:
		return errors.New("iss and sub must be the client_id")
	case !slices.Contains(cl.Aud, p.url(TokenPath)) && !slices.Contains(cl.Aud, p.issuer):
		return errors.New("aud is neither the token endpoint nor the issuer")
	case !ok:
		return errors.New("exp is missing")
	case !now.Before(exp.Add(skew)):
		return errors.New("expired")
	case exp.Sub(now) > maxAssertionTTL+skew:
		return errors.New("exp is too far in the future (at most 10m)")
	case cl.Jti == "" || len(cl.Jti) > 256:
		return errors.New("jti is missing or too long")
	}
	if nbf, ok := num(cl.Nbf); ok && now.Add(skew).Before(nbf) {
		return errors.New("not valid yet (nbf)")
	}
	first, err := sp.Claim(ctx, "jti:"+c.ClientID+":"+cl.Jti, exp.Add(skew))
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if !first {
		return errors.New("jti was already used (replay)")
	}
	return nil
}
