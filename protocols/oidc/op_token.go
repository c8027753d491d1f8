package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/fedgate/fedgate/protocols"
)

// The token endpoint: authorization_code (with PKCE) and refresh_token
// grants. Codes and refresh tokens are sealed values; what makes them
// single-use is a marker in the store:
//
//	code:<id>            the code was exchanged
//	refresh:<rid>        this refresh token was rotated
//	family-revoked:<id>  a code or refresh token was replayed: every token
//	                     issued from that code is refused from now on
//
// Access tokens are opaque (sealed: only fedgate can read them) unless the
// client asked for JWTs; a revoked family's JWT access tokens still verify
// elsewhere until they expire (10 minutes by default); fedgate's UserInfo
// refuses either kind at once.

const maxTokenParam = 8 << 10

func (p *Provider) token(w http.ResponseWriter, r *http.Request, sp protocols.SessionProvider) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, errInvalidRequest("the body is not a form"))
		return
	}
	form := r.PostForm
	for k, vs := range form {
		if len(vs) > 1 {
			writeOAuthError(w, errInvalidRequest("parameter %s is repeated", clip(k)))
			return
		}
	}
	c, err := p.authenticateClient(ctx, r, form, sp)
	if err != nil {
		var ce *clientAuthError
		errors.As(err, &ce)
		sp.Audit(r, protocols.AuditEvent{Event: "oidc-client-auth", Outcome: "failure", App: p.appOf(ce.clientID), Reason: ce.reason})
		if ce.answer != nil {
			if ce.answer.status == http.StatusInternalServerError {
				p.logger.ErrorContext(ctx, "oidc provider: client authentication", "client_id", ce.clientID, "err", ce.reason, "request_id", w.Header().Get("X-Request-Id"))
			}
			writeOAuthError(w, ce.answer)
			return
		}
		if ce.basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="fedgate"`)
		}
		writeOAuthError(w, &oauthError{Code: "invalid_client", Description: "client authentication failed", status: http.StatusUnauthorized})
		return
	}
	var g *grant
	var use spend
	grantType := form.Get("grant_type")
	switch grantType {
	case "authorization_code":
		g, use, err = p.redeemCode(c, form.Get("code"), form.Get("redirect_uri"), form.Get("code_verifier"), sp)
	case "refresh_token":
		g, use, err = p.redeemRefresh(ctx, r, c, form.Get("refresh_token"), form.Get("scope"), sp)
	default:
		err = &oauthError{Code: "unsupported_grant_type", status: http.StatusBadRequest}
	}
	var res *tokenResponse
	if err == nil {
		res, err = p.spendAndIssue(ctx, r, c, g, use, grantType == "authorization_code", sp)
	}
	if err != nil {
		var oe *oauthError
		if !errors.As(err, &oe) {
			p.logger.ErrorContext(ctx, "oidc provider: token", "client_id", c.ClientID, "err", err, "request_id", w.Header().Get("X-Request-Id"))
		}
		sp.Audit(r, protocols.AuditEvent{Event: "oidc-token", Outcome: "failure", App: c.app, Reason: err.Error()})
		writeOAuthError(w, err)
		return
	}
	sp.Audit(r, protocols.AuditEvent{Event: "oidc-token", Outcome: "success", App: c.app, User: g.User, Reason: grantType})
	writeJSON(w, http.StatusOK, res)
}

func (p *Provider) appOf(clientID string) string {
	if c := p.clients[clientID]; c != nil {
		return c.app
	}
	return ""
}

// familyEnd is when no token of g's family can be valid any more.
func (c *opClient) familyEnd(g *grant) time.Time {
	life := max(dur(c.RefreshTokenMaxAge, 24*time.Hour), dur(c.AccessTokenTTL, 10*time.Minute), dur(c.IDTokenTTL, 10*time.Minute))
	return time.Unix(g.Start, 0).Add(life + time.Hour)
}

// revokeFamily records that every token from g's code is refused.
func (p *Provider) revokeFamily(ctx context.Context, r *http.Request, c *opClient, g *grant, what string, sp protocols.SessionProvider) {
	if _, err := sp.Claim(ctx, "family-revoked:"+g.ID, c.familyEnd(g)); err != nil {
		p.logger.ErrorContext(ctx, "oidc provider: revoke token family", "client_id", c.ClientID, "err", err)
	}
	sp.Audit(r, protocols.AuditEvent{Event: "oidc-" + what + "-reuse", Outcome: "failure", App: c.app, User: g.User,
		Reason: what + " used twice: tokens issued from it are revoked"})
}

// spend is the single-use marker a redeemed code or refresh token must
// claim before its tokens may leave.
type spend struct {
	marker string    // the store key
	until  time.Time // when no token of the family can be valid any more
	what   string    // for the audit event: "code" or "refresh"
	told   string    // for the client: "code" or "refresh token"
}

// spendAndIssue claims use's marker and signs g's tokens at the same time:
// the claim waits on the store (a bolt commit, a Redis round trip), the
// signature on the CPU, and neither needs the other. The tokens leave only
// if this was the marker's first claim; otherwise they are dropped unseen
// and the family is revoked. The claim goes to a goroutine of its own and
// the signature stays on the request's: on a kept-alive HTTP/1 connection
// that goroutine's stack has grown for a signature before, while a new
// one's would be copied to a larger one on every signature (over HTTP/2
// every request has a new goroutine, and one of the two grows either way).
// A panic on either side ends this request with the token endpoint's 500,
// not the process.
func (p *Provider) spendAndIssue(ctx context.Context, r *http.Request, c *opClient, g *grant, use spend, withNonce bool, sp protocols.SessionProvider) (*tokenResponse, error) {
	type claimed struct {
		first bool
		err   error
	}
	out := make(chan claimed, 1)
	go func() {
		var res claimed
		answered := false
		// Off the request's goroutine net/http's recovery does not apply:
		// a panic here would end the process. Whatever happens, one answer
		// is sent: the request waits for it.
		defer func() {
			if v := recover(); v != nil {
				res = claimed{err: p.panicked(ctx, "claiming the "+use.told, v)}
			} else if !answered {
				res = claimed{err: fmt.Errorf("oidc provider: claiming the %s ended without an answer", use.told)}
			}
			out <- res
		}()
		res.first, res.err = sp.Claim(ctx, use.marker, use.until)
		answered = true
	}()
	res, err := p.issueRecovered(ctx, c, g, withNonce, sp.Seal)
	claim := <-out
	if claim.err != nil {
		return nil, claim.err
	}
	if !claim.first {
		p.revokeFamily(ctx, r, c, g, use.what, sp)
		return nil, errInvalidGrant("the " + use.told + " was already used")
	}
	return res, err
}

// issueRecovered is issue with a panic as its error, so that the client
// gets the token endpoint's JSON error as for any other failure.
func (p *Provider) issueRecovered(ctx context.Context, c *opClient, g *grant, withNonce bool, seal sealFunc) (res *tokenResponse, err error) {
	defer func() {
		if v := recover(); v != nil {
			res, err = nil, p.panicked(ctx, "issuing tokens", v)
		}
	}()
	return p.issue(c, g, withNonce, seal)
}

// panicked logs a recovered panic with its stack (the middleware's
// recovery, which would, does not see it) and makes it the request's error.
func (p *Provider) panicked(ctx context.Context, what string, v any) error {
	p.logger.ErrorContext(ctx, "oidc provider: panic while "+what, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	return fmt.Errorf("oidc provider: %s panicked: %v", what, v)
}

func (p *Provider) redeemCode(c *opClient, code, redirect, verifier string, sp protocols.SessionProvider) (*grant, spend, error) {
	if code == "" || len(code) > maxTokenParam {
		return nil, spend{}, errInvalidRequest("code is missing")
	}
	var g grant
	if sp.Open(purposeCode, code, &g) != nil {
		return nil, spend{}, errInvalidGrant("the code is invalid or expired")
	}
	switch {
	case g.ClientID != c.ClientID:
		return nil, spend{}, errInvalidGrant("the code was issued to another client")
	case redirect != g.Redirect:
		return nil, spend{}, errInvalidGrant("redirect_uri does not match the authorization request")
	case g.Challenge == "" && verifier != "":
		return nil, spend{}, errInvalidGrant("code_verifier without a code_challenge in the authorization request")
	case g.Challenge != "" && !pkceValue.MatchString(verifier):
		return nil, spend{}, errInvalidGrant("code_verifier is missing or malformed")
	case g.Challenge != "" && !s256Matches(verifier, g.Challenge):
		return nil, spend{}, errInvalidGrant("code_verifier does not match the code_challenge")
	}
	return &g, spend{marker: "code:" + g.ID, until: time.Unix(g.Start, 0).Add(codeTTL + time.Hour), what: "code", told: "code"}, nil
}

func s256Matches(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

func (p *Provider) redeemRefresh(ctx context.Context, r *http.Request, c *opClient, token, scope string, sp protocols.SessionProvider) (*grant, spend, error) {
	if token == "" || len(token) > maxTokenParam {
		return nil, spend{}, errInvalidRequest("refresh_token is missing")
	}
	if !c.RefreshTokens {
		return nil, spend{}, &oauthError{Code: "unauthorized_client", Description: "the client may not use refresh tokens", status: http.StatusBadRequest}
	}
	var g grant
	if sp.Open(purposeRefresh, token, &g) != nil || g.RID == "" {
		return nil, spend{}, errInvalidGrant("the refresh token is invalid or expired")
	}
	if g.ClientID != c.ClientID {
		return nil, spend{}, errInvalidGrant("the refresh token was issued to another client")
	}
	granted := strings.Fields(g.Scope)
	for _, s := range strings.Fields(scope) {
		if !slices.Contains(granted, s) {
			return nil, spend{}, &oauthError{Code: "invalid_scope", Description: "scope exceeds what was granted", status: http.StatusBadRequest}
		}
	}
	revoked, err := sp.Claimed(ctx, "family-revoked:"+g.ID)
	if err != nil {
		return nil, spend{}, err
	}
	if revoked {
		return nil, spend{}, errInvalidGrant("the refresh token was revoked")
	}
	// A refresh is a use of the session like any other: the broker decides
	// again (signed out, policy, upstream), before the token is spent.
	switch err := sp.Recheck(r, c.app, g.Identity); {
	case errors.Is(err, protocols.ErrLoginRequired):
		return nil, spend{}, errInvalidGrant("the session ended; sign in again")
	case errors.Is(err, protocols.ErrAccessDenied):
		return nil, spend{}, errInvalidGrant("the access policy no longer allows this user")
	case err != nil:
		return nil, spend{}, err
	}
	return &g, spend{marker: "refresh:" + g.RID, until: c.familyEnd(&g), what: "refresh", told: "refresh token"}, nil
}
