package oidc

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/fedgate/fedgate/protocols"
)

// Finish completes the login from the callback: the RFC 9207 iss, the
// upstream's error, the state, the code exchange with the PKCE verifier,
// then every check on the ID token (and, for ADFS when configured, the
// access token) before the claims are mapped.
func (u *Upstream) Finish(ctx context.Context, r *http.Request, a protocols.AuthRequest) (protocols.Identity, error) {
	q := r.URL.Query()
	d, err := u.discovery(ctx)
	if err != nil {
		return protocols.Identity{}, err
	}
	issParam, hasIss := q.Get("iss"), q.Has("iss")
	if hasIss {
		if err := u.checkIssParam(d, issParam); err != nil {
			return protocols.Identity{}, err
		}
	} else if d.ISSParameter {
		return protocols.Identity{}, u.rejected(protocols.CheckIssuer, "authorization response has no iss, which the IdP's metadata promises (RFC 9207)")
	}
	if e := q.Get("error"); e != "" {
		return protocols.Identity{}, fmt.Errorf("oidc: %s: IdP answered error %q: %s: %w", u.cfg.ID, clip(e), clip(q.Get("error_description")), protocols.ErrDeclined)
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(a.State)) != 1 {
		return protocols.Identity{}, u.rejected(protocols.CheckState, "state does not match the login")
	}
	code := q.Get("code")
	if code == "" {
		return protocols.Identity{}, u.rejected(protocols.CheckCode, "callback has no code")
	}
	oc := oauth2.Config{ClientID: u.cfg.ClientID, ClientSecret: u.cfg.ClientSecret.Value(), RedirectURL: a.CallbackURL,
		Endpoint: oauth2.Endpoint{AuthURL: d.AuthURL, TokenURL: d.TokenURL, AuthStyle: oauth2.AuthStyleInParams}, Scopes: u.cfg.scopes()}
	tok, err := oc.Exchange(context.WithValue(ctx, oauth2.HTTPClient, u.client), code, oauth2.VerifierOption(a.PKCEVerifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			if re.Response.StatusCode < 500 {
				return protocols.Identity{}, u.rejected(protocols.CheckCode, "token endpoint refused the code: %s %s", clip(re.ErrorCode), clip(re.ErrorDescription))
			}
			// Never the body: an error page may echo the request, which
			// holds the client secret, the code and the PKCE verifier.
			err = fmt.Errorf("token endpoint answered HTTP %d", re.Response.StatusCode)
		}
		return protocols.Identity{}, u.unavailable("token endpoint", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return protocols.Identity{}, u.rejected(protocols.CheckToken, "%v", errNoIDToken)
	}
	claims, idt, err := u.verifyIDToken(ctx, d, raw, a.Nonce)
	if err != nil {
		return protocols.Identity{}, err
	}
	if hasIss && issParam != d.Issuer && issParam != claims.str("iss") {
		return protocols.Identity{}, u.rejected(protocols.CheckIssuer, "authorization response iss %q differs from the ID token's %q", issParam, claims.str("iss"))
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return protocols.Identity{}, u.rejected(protocols.CheckToken, "at_hash does not match the access token")
		}
	}
	if u.cfg.AccessTokenClaims {
		at, err := u.verifyAccessToken(ctx, d, tok.AccessToken)
		if err != nil {
			return protocols.Identity{}, err
		}
		if at.str("sub") != "" && claims.str("sub") != "" && at.str("sub") != claims.str("sub") {
			return protocols.Identity{}, u.rejected(protocols.CheckSubject, "access token sub differs from the ID token's")
		}
		for k, v := range at {
			if _, ok := claims[k]; !ok {
				claims[k] = v
			}
		}
	}
	return u.identity(ctx, claims, a.ForceLogin)
}

// checkIssParam checks the RFC 9207 iss parameter against discovery; with
// the Entra tenant template, the tenant in it must be allowed.
func (u *Upstream) checkIssParam(d *discovery, iss string) error {
	if iss == d.Issuer {
		return nil
	}
	if strings.Contains(d.Issuer, "{tenantid}") {
		re := regexp.MustCompile("^" + strings.Replace(regexp.QuoteMeta(d.Issuer), regexp.QuoteMeta("{tenantid}"), "([0-9a-fA-F-]{36})", 1) + "$")
		if m := re.FindStringSubmatch(iss); m != nil {
			if u.tenantAllowed(m[1]) {
				return nil
			}
			return u.rejected(protocols.CheckTenant, "tenant %s is not allowed (allowed_tenants)", m[1])
		}
	}
	return u.rejected(protocols.CheckIssuer, "authorization response iss %q is not this upstream's issuer %q (mix-up?)", iss, d.Issuer)
}

func (u *Upstream) tenantAllowed(tid string) bool {
	if !u.cfg.multiTenant() {
		return strings.EqualFold(tid, u.cfg.Tenant)
	}
	return slices.ContainsFunc(u.cfg.AllowedTenants, func(t string) bool { return strings.EqualFold(t, tid) })
}

// verifier checks only the signature and the algorithm allow-list; every
// claim is checked here, with the configured skew and clear messages.
func (u *Upstream) verifier(d *discovery) *oidc.IDTokenVerifier {
	return oidc.NewVerifier(d.Issuer, d.keys, &oidc.Config{
		SupportedSigningAlgs: u.cfg.algs(), SkipClientIDCheck: true, SkipExpiryCheck: true, SkipIssuerCheck: true, Now: u.now,
	})
}

// verifyIDToken checks the ID token's signature, iss (and Entra tenant),
// aud, azp, exp, nbf, iat and nonce.
func (u *Upstream) verifyIDToken(ctx context.Context, d *discovery, raw, nonce string) (claimSet, *oidc.IDToken, error) {
	idt, err := u.verifier(d).Verify(ctx, raw)
	if err != nil {
		if strings.Contains(err.Error(), "fetching keys") {
			return nil, nil, u.unavailable("jwks", err)
		}
		return nil, nil, u.rejected(protocols.CheckSignature, "ID token signature: %v", err)
	}
	var c claimSet
	if err := idt.Claims(&c); err != nil {
		return nil, nil, u.rejected(protocols.CheckMalformed, "ID token claims: %v", err)
	}
	wantIss := d.Issuer
	if strings.Contains(wantIss, "{tenantid}") || u.cfg.preset() == PresetEntra {
		tid := c.str("tid")
		if tid == "" {
			return nil, nil, u.rejected(protocols.CheckTenant, "ID token has no tid")
		}
		if !u.tenantAllowed(tid) {
			return nil, nil, u.rejected(protocols.CheckTenant, "tenant %s is not allowed (allowed_tenants)", tid)
		}
		wantIss = strings.Replace(wantIss, "{tenantid}", tid, 1)
	}
	if iss := c.str("iss"); iss != wantIss {
		return nil, nil, u.rejected(protocols.CheckIssuer, "ID token issuer %q is not %q", iss, wantIss)
	}
	if err := u.checkTimes(c, "ID token"); err != nil {
		return nil, nil, err
	}
	aud := c.strs("aud")
	if !slices.Contains(aud, u.cfg.ClientID) {
		return nil, nil, u.rejected(protocols.CheckAudience, "ID token audience %q does not include client_id %q", aud, u.cfg.ClientID)
	}
	azp := c.str("azp")
	if len(aud) > 1 && azp == "" {
		return nil, nil, u.rejected(protocols.CheckAudience, "ID token has several audiences and no azp")
	}
	if azp != "" && azp != u.cfg.ClientID {
		return nil, nil, u.rejected(protocols.CheckAudience, "ID token azp %q is not client_id %q", azp, u.cfg.ClientID)
	}
	if subtle.ConstantTimeCompare([]byte(c.str("nonce")), []byte(nonce)) != 1 {
		return nil, nil, u.rejected(protocols.CheckNonce, "ID token nonce does not match this login (replayed or injected token)")
	}
	return c, idt, nil
}

// verifyAccessToken (ADFS) checks the JWT access token before its claims
// are used: signature, the access-token issuer, audience = resource, times.
func (u *Upstream) verifyAccessToken(ctx context.Context, d *discovery, raw string) (claimSet, error) {
	if raw == "" {
		return nil, u.rejected(protocols.CheckToken, "no access token to read claims from")
	}
	t, err := u.verifier(d).Verify(ctx, raw)
	if err != nil {
		return nil, u.rejected(protocols.CheckSignature, "access token signature: %v", err)
	}
	var c claimSet
	if err := t.Claims(&c); err != nil {
		return nil, u.rejected(protocols.CheckMalformed, "access token claims: %v", err)
	}
	if iss := c.str("iss"); iss != d.AccessTokenIssuer {
		return nil, u.rejected(protocols.CheckIssuer, "access token issuer %q is not %q", iss, d.AccessTokenIssuer)
	}
	if aud := c.strs("aud"); !slices.Contains(aud, u.cfg.Resource) {
		return nil, u.rejected(protocols.CheckAudience, "access token audience %q does not include resource %q", aud, u.cfg.Resource)
	}
	if err := u.checkTimes(c, "access token"); err != nil {
		return nil, err
	}
	return c, nil
}

func (u *Upstream) checkTimes(c claimSet, what string) error {
	now, skew := u.now(), u.cfg.skew()
	exp, ok := c.time("exp")
	if !ok {
		return u.rejected(protocols.CheckToken, "%s has no exp", what)
	}
	if !now.Before(exp.Add(skew)) {
		return u.rejected(protocols.CheckExpired, "%s expired at %s", what, exp.UTC().Format(time.RFC3339))
	}
	iat, ok := c.time("iat")
	if !ok {
		return u.rejected(protocols.CheckToken, "%s has no iat", what)
	}
	if iat.After(now.Add(skew)) {
		return u.rejected(protocols.CheckNotYetValid, "%s issued in the future (iat %s)", what, iat.UTC().Format(time.RFC3339))
	}
	if nbf, ok := c.time("nbf"); ok && nbf.After(now.Add(skew)) {
		return u.rejected(protocols.CheckNotYetValid, "%s not valid before %s", what, nbf.UTC().Format(time.RFC3339))
	}
	return nil
}

// clip keeps an IdP-supplied string short and printable for logs and errors.
func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// claimSet is a token's claims, read leniently by type.
type claimSet map[string]any

func (c claimSet) str(k string) string {
	switch v := c[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case float64:
		return fmt.Sprint(v)
	}
	return ""
}

// strs reads a string or an array of strings.
func (c claimSet) strs(k string) []string {
	switch v := c[k].(type) {
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// time reads a NumericDate, or an ISO-8601 string (ADFS auth_time).
func (c claimSet) time(k string) (time.Time, bool) {
	switch v := c[k].(type) {
	case float64:
		return time.Unix(int64(v), 0), true
	case json.Number:
		if f, err := v.Float64(); err == nil {
			return time.Unix(int64(f), 0), true
		}
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05"} {
			if t, err := time.Parse(layout, v); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}
