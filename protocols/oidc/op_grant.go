package oidc

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/fedgate/fedgate/protocols"
)

// grant is what a code or a refresh token carries: everything needed to
// issue tokens later without the browser — the identity as the broker
// answered (with its session reference, so a refresh can ask the broker
// again: Recheck). Tokens show only what the client may see (release).
type grant struct {
	ID        string   `json:"id"`            // the code's id; the token family
	RID       string   `json:"rid,omitempty"` // a refresh token's own id
	ClientID  string   `json:"c"`
	Redirect  string   `json:"r,omitempty"`
	Challenge string   `json:"pc,omitempty"`
	Nonce     string   `json:"n,omitempty"`
	Scope     string   `json:"s"`
	Sub       string   `json:"sub"`
	User      string   `json:"u,omitempty"` // for audit events
	AuthTime  int64    `json:"at"`
	AMR       []string `json:"amr,omitempty"`
	Start     int64    `json:"st"` // when the family began, unix seconds
	// Identity is what the broker answered, with SessionID and Ref.
	Identity protocols.Identity `json:"idn"`
}

func (p *Provider) newGrant(c *opClient, a *authzRequest, id protocols.Identity) *grant {
	return &grant{ID: randomID(), ClientID: c.ClientID, Redirect: a.redirect, Challenge: a.Challenge, Nonce: a.Nonce,
		Scope: a.Scope, Sub: c.subject(id), User: id.Username, AuthTime: id.AuthTime.Unix(), AMR: id.AMR,
		Start: p.now().Unix(), Identity: id}
}

// subject is the sub claim: public (<upstream>:<subject>, the same for
// every client) or pairwise (an HMAC of the sector and the public subject
// under the client's salt: stable for the sector, unlinkable across).
func (c *opClient) subject(id protocols.Identity) string {
	pub := id.Upstream + ":" + id.Subject
	if c.SubjectType != "pairwise" {
		return pub
	}
	m := hmac.New(sha256.New, []byte(c.PairwiseSalt.Value()))
	m.Write([]byte(c.sector()))
	m.Write([]byte{0})
	m.Write([]byte(pub))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// release is what the client may learn about the user: standard claims by
// scope (profile, email, groups) and the client's claim mapping.
func (c *opClient) release(scopes []string, id protocols.Identity) map[string]any {
	m := map[string]any{}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	if slices.Contains(scopes, "profile") {
		set("name", id.DisplayName)
		set("preferred_username", id.Username)
	}
	if slices.Contains(scopes, "email") {
		set("email", id.Email)
	}
	if slices.Contains(scopes, "groups") {
		m["groups"] = nonNilStrings(id.Groups)
	}
	for k, src := range c.Claims {
		switch src {
		case "groups":
			m[k] = nonNilStrings(id.Groups)
		case "username":
			set(k, id.Username)
		case "upn":
			v := id.Claims["upn"]
			if v == "" {
				v = id.Username
			}
			set(k, v)
		case "email":
			set(k, id.Email)
		case "name":
			set(k, id.DisplayName)
		case "subject":
			set(k, id.Subject)
		case "upstream":
			set(k, id.Upstream)
		default:
			set(k, id.Claims[strings.TrimPrefix(src, "claim:")])
		}
	}
	return m
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// acr is truthful: the MFA class only when the authentication included MFA
// ("0" otherwise: no assurance is claimed).
func (c *opClient) acr(amr []string) string {
	return protocols.AuthnOf(amr).ACR(c.mfaACR())
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

// issue makes an access token and signs an ID token for g (withNonce on
// the code exchange only), and seals the next refresh token if the client
// has them. The access token is sealed, not signed, unless the client asked
// for JWTs: one asymmetric signature per response.
func (p *Provider) issue(c *opClient, g *grant, withNonce bool, seal sealFunc) (*tokenResponse, error) {
	now := p.now()
	alg := c.alg()
	acr := c.acr(g.AMR)
	claims := c.release(strings.Fields(g.Scope), g.Identity)
	atTTL := dur(c.AccessTokenTTL, 10*time.Minute)
	at := map[string]any{"iss": p.issuer, "sub": g.Sub, "aud": c.ClientID, "client_id": c.ClientID, "scope": g.Scope,
		"iat": now.Unix(), "exp": now.Add(atTTL).Unix(), "jti": randomID(), "auth_time": g.AuthTime, "acr": acr, "fam": g.ID}
	if len(g.AMR) > 0 {
		at["amr"] = g.AMR
	}
	for k, v := range claims {
		at[k] = v
	}
	access, err := p.accessToken(c, at, atTTL, seal)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(access))
	id := map[string]any{"iss": p.issuer, "sub": g.Sub, "aud": c.ClientID, "azp": c.ClientID, "iat": now.Unix(),
		"exp": now.Add(dur(c.IDTokenTTL, 10*time.Minute)).Unix(), "auth_time": g.AuthTime, "acr": acr,
		"at_hash": base64.RawURLEncoding.EncodeToString(sum[:16])}
	if len(g.AMR) > 0 {
		id["amr"] = g.AMR
	}
	if withNonce && g.Nonce != "" {
		id["nonce"] = g.Nonce
	}
	if g.Identity.SessionID != "" {
		id["sid"] = g.Identity.SessionID // matches a sign-out to its session
	}
	for k, v := range claims {
		id[k] = v
	}
	idt, err := sign(p.idSigners[alg], id)
	if err != nil {
		return nil, err
	}
	res := &tokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: int64(atTTL / time.Second), IDToken: idt, Scope: g.Scope}
	if c.RefreshTokens {
		end := time.Unix(g.Start, 0).Add(dur(c.RefreshTokenMaxAge, 24*time.Hour))
		ttl := min(dur(c.RefreshTokenTTL, 8*time.Hour), end.Sub(now))
		if ttl > time.Second {
			next := *g
			next.RID, next.Redirect, next.Challenge, next.Nonce = randomID(), "", "", ""
			if res.RefreshToken, err = seal(purposeRefresh, &next, ttl); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

// sealFunc seals a value for a purpose (protocols.SessionProvider.Seal).
type sealFunc func(purpose string, v any, ttl time.Duration) (string, error)

// accessToken is the access token carrying claims: a JWT signed like the
// client's ID tokens, or a value sealed for UserInfo alone (openAccess).
func (p *Provider) accessToken(c *opClient, claims map[string]any, ttl time.Duration, seal sealFunc) (string, error) {
	if c.AccessTokenFormat == "jwt" {
		return sign(p.atSigners[c.alg()], claims)
	}
	return seal(purposeAccess, claims, ttl)
}

func sign(s jose.Signer, claims map[string]any) (string, error) {
	if s == nil {
		return "", fmt.Errorf("oidc provider: no signing key")
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}
