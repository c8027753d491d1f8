package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/fedgate/fedgate/protocols"
)

// Begin returns the authorization URL: code flow, PKCE S256, response_mode
// query, the broker's state and nonce, hints, and the step-up demand when
// a.MFA is set. It fails with protocols.ErrUnavailable if discovery cannot
// be had.
func (u *Upstream) Begin(ctx context.Context, a protocols.AuthRequest) (string, error) {
	if a.State == "" || a.Nonce == "" || len(a.PKCEVerifier) < 43 || a.CallbackURL == "" {
		return "", fmt.Errorf("oidc: %s: incomplete auth request (state, nonce, verifier, callback)", u.cfg.ID)
	}
	d, err := u.discovery(ctx)
	if err != nil {
		return "", err
	}
	auth, err := url.Parse(d.AuthURL)
	if err != nil {
		return "", u.unavailable("authorization endpoint", err)
	}
	q := auth.Query()
	for k, v := range u.cfg.AuthParams {
		q.Set(k, v)
	}
	sum := sha256.Sum256([]byte(a.PKCEVerifier))
	q.Set("response_type", "code")
	q.Set("response_mode", "query")
	q.Set("client_id", u.cfg.ClientID)
	q.Set("redirect_uri", a.CallbackURL)
	q.Set("scope", strings.Join(u.cfg.scopes(), " "))
	q.Set("state", a.State)
	q.Set("nonce", a.Nonce)
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	q.Set("code_challenge_method", "S256")
	if u.cfg.Resource != "" {
		q.Set("resource", u.cfg.Resource)
	}
	if a.LoginHint != "" {
		q.Set("login_hint", a.LoginHint)
	}
	if a.DomainHint != "" {
		q.Set("domain_hint", a.DomainHint)
	}
	prompt := a.ForceLogin
	if a.MFA != nil {
		s := u.step
		if s.AMRValues != "" {
			q.Set("amr_values", s.AMRValues)
		}
		if s.ACRValues != "" {
			q.Set("acr_values", s.ACRValues)
		}
		if s.AuthContext != "" {
			q.Set("claims", acrsClaims(s.AuthContext))
		}
		prompt = prompt && *s.PromptLogin
	}
	if prompt {
		q.Set("prompt", "login")
	}
	auth.RawQuery = q.Encode()
	return auth.String(), nil
}

// acrsClaims is Entra's request for a Conditional Access authentication
// context: {"id_token":{"acrs":{"essential":true,"value":"c1"}}}.
func acrsClaims(id string) string {
	b, _ := json.Marshal(map[string]any{"id_token": map[string]any{"acrs": map[string]any{"essential": true, "value": id}}})
	return string(b)
}
