package oidc

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
)

// supportedScopes are the scopes fedgate understands; others are ignored.
var supportedScopes = []string{"openid", "profile", "email", "groups", "offline_access"}

// discovery serves OpenID Connect Discovery 1.0 metadata. The keys are the
// broker's JWKS, which also publishes the next key before it signs.
func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	acrs := []string{"0"}
	claims := []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "sid",
		"name", "preferred_username", "email", "groups"}
	var extra []string
	for _, id := range slices.Sorted(maps.Keys(p.clients)) {
		c := p.clients[id]
		if !slices.Contains(acrs, c.mfaACR()) {
			acrs = append(acrs, c.mfaACR())
		}
		for k := range c.Claims {
			if !slices.Contains(claims, k) && !slices.Contains(extra, k) {
				extra = append(extra, k)
			}
		}
	}
	slices.Sort(extra)
	m := map[string]any{
		"issuer":                                           p.issuer,
		"authorization_endpoint":                           p.url(AuthorizePath),
		"token_endpoint":                                   p.url(TokenPath),
		"userinfo_endpoint":                                p.url(UserInfoPath),
		"jwks_uri":                                         p.url(JWKSPath),
		"end_session_endpoint":                             p.url(LogoutPath),
		"response_types_supported":                         []string{"code"},
		"response_modes_supported":                         []string{"query", "form_post"},
		"grant_types_supported":                            []string{"authorization_code", "refresh_token"},
		"subject_types_supported":                          []string{"public", "pairwise"},
		"id_token_signing_alg_values_supported":            p.algs,
		"userinfo_signing_alg_values_supported":            []string{"none"},
		"token_endpoint_auth_methods_supported":            []string{authBasic, authPost, authJWT, authNone},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS256", "PS256", "ES256"},
		"code_challenge_methods_supported":                 []string{"S256"},
		"scopes_supported":                                 supportedScopes,
		"claims_supported":                                 append(claims, extra...),
		"acr_values_supported":                             acrs,
		"prompt_values_supported":                          []string{"none", "login", "consent", "select_account"},
		"authorization_response_iss_parameter_supported":   true,
		"claims_parameter_supported":                       false,
		"request_parameter_supported":                      false,
		"request_uri_parameter_supported":                  false,
		"frontchannel_logout_supported":                    false,
		"backchannel_logout_supported":                     false,
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_ = json.NewEncoder(w).Encode(m)
}
