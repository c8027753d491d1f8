package oidc

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/fedgate/fedgate/protocols"
)

// UserInfo answers with the claims the access token was issued with. The
// token must be one of ours (sealed for access, or a JWT: signature, iss,
// typ at+jwt), not expired, for a configured client, from a family that
// was not revoked.

const maxBearerLen = 16 << 10

var ownAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request, sp protocols.SessionProvider) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	refuse := func(desc string) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+desc+`"`)
		writeJSON(w, http.StatusUnauthorized, &oauthError{Code: "invalid_token", Description: desc})
	}
	auth := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fedgate"`)
		writeJSON(w, http.StatusUnauthorized, &oauthError{Code: "invalid_request", Description: "a bearer access token is required"})
		return
	}
	claims, err := p.openAccess(tok, sp)
	if err != nil {
		refuse("the access token is not valid")
		return
	}
	exp, _ := claims["exp"].(float64)
	if !p.now().Before(time.Unix(int64(exp), 0)) {
		refuse("the access token expired")
		return
	}
	aud, _ := claims["aud"].(string)
	c := p.clients[aud]
	if c == nil {
		refuse("the access token is for an unknown client")
		return
	}
	scope, _ := claims["scope"].(string)
	if !slices.Contains(strings.Fields(scope), "openid") {
		writeJSON(w, http.StatusForbidden, &oauthError{Code: "insufficient_scope"})
		return
	}
	fam, _ := claims["fam"].(string)
	revoked, err := sp.Claimed(r.Context(), "family-revoked:"+fam)
	if err != nil {
		writeOAuthError(w, err)
		return
	}
	if revoked {
		refuse("the access token was revoked")
		return
	}
	out := map[string]any{}
	for k, v := range claims {
		if !slices.Contains(reservedClaims, k) {
			out[k] = v
		}
	}
	out["sub"] = claims["sub"]
	writeJSON(w, http.StatusOK, out)
}

// openAccess reads an access token: a JWT (three dot-separated parts) or
// a sealed one, which has no dots.
func (p *Provider) openAccess(tok string, sp protocols.SessionProvider) (map[string]any, error) {
	if strings.Contains(tok, ".") {
		return p.verifyOwn(tok, "at+jwt")
	}
	var claims map[string]any
	if len(tok) > maxBearerLen || sp.Open(purposeAccess, tok, &claims) != nil {
		return nil, errors.New("not an access token of ours")
	}
	if iss, _ := claims["iss"].(string); iss != p.issuer {
		return nil, errors.New("not our issuer")
	}
	return claims, nil
}

// verifyOwn checks a JWT fedgate signed: one signature by a published key,
// the expected typ, our issuer. Expiry is the caller's to check.
func (p *Provider) verifyOwn(raw, typ string) (map[string]any, error) {
	if len(raw) > maxBearerLen {
		return nil, errors.New("too large")
	}
	jws, err := jose.ParseSignedCompact(raw, ownAlgs)
	if err != nil {
		return nil, err
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("want one signature")
	}
	h := jws.Signatures[0].Protected
	if t, _ := h.ExtraHeaders["typ"].(string); t != typ {
		return nil, errors.New("wrong token type")
	}
	for _, k := range p.published {
		if k.KeyID != h.KeyID || k.Algorithm != h.Algorithm {
			continue
		}
		payload, err := jws.Verify(k.Key)
		if err != nil {
			return nil, err
		}
		var claims map[string]any
		if err := json.Unmarshal(payload, &claims); err != nil {
			return nil, err
		}
		if iss, _ := claims["iss"].(string); iss != p.issuer {
			return nil, errors.New("not our issuer")
		}
		return claims, nil
	}
	return nil, errors.New("unknown key")
}
