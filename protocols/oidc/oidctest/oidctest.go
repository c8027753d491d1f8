// Package oidctest is a fake OpenID Provider for tests of the upstream OIDC
// client: discovery, JWKS and a token endpoint that hands out whatever ID
// token the test registered for a code. It signs with go-jose and can sign
// badly on purpose (alg none, HS256 keyed with the public key). Test-only:
// every function panics on error.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Server is the fake OP.
type Server struct {
	*httptest.Server
	// Issuer is the URL tokens are issued under (Server.URL + path).
	Issuer string
	// Metadata can be changed before use: it is served as discovery.
	Metadata map[string]any
	Key      *rsa.PrivateKey
	KeyID    string

	mux   *http.ServeMux
	mu    sync.Mutex
	codes map[string]grant
	down  bool
	// TokenRequests counts calls to the token endpoint.
	TokenRequests int
}

type grant struct {
	challenge string
	body      map[string]any
}

// New starts a fake OP whose issuer is the server URL plus path (e.g.
// "/adfs"). Close it with t.Cleanup(s.Close).
func New(path string) *Server {
	s := &Server{codes: map[string]grant{}, KeyID: "k1"}
	s.Key = NewKey()
	mux := http.NewServeMux()
	s.mux = mux
	s.Server = httptest.NewServer(mux)
	s.Issuer = s.URL + path
	s.Metadata = map[string]any{
		"issuer":                                s.Issuer,
		"authorization_endpoint":                s.Issuer + "/authorize",
		"token_endpoint":                        s.Issuer + "/token",
		"jwks_uri":                              s.Issuer + "/keys",
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"authorization_response_iss_parameter_supported": true,
	}
	s.ServeDiscoveryAt(path)
	mux.HandleFunc("GET "+path+"/keys", func(w http.ResponseWriter, r *http.Request) {
		if s.isDown(w) {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: s.Key.Public(), KeyID: s.KeyID, Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("POST "+path+"/token", s.token)
	return s
}

// ServeDiscoveryAt also serves the metadata under another path, as Entra
// does for /organizations/v2.0 with an issuer of /{tenantid}/v2.0.
func (s *Server) ServeDiscoveryAt(path string) {
	s.mux.HandleFunc("GET "+path+"/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		if s.isDown(w) {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		writeJSON(w, s.Metadata)
	})
}

// SetDown makes every endpoint answer 503 (true) or work again (false).
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func (s *Server) isDown(w http.ResponseWriter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}
	return s.down
}

// Rotate replaces the signing key (and its kid), as an IdP rolling keys does.
func (s *Server) Rotate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Key, s.KeyID = NewKey(), fmt.Sprintf("k%d", time.Now().UnixNano())
}

// Code registers a code whose redemption (with the verifier matching
// challenge, when challenge is set) returns idToken and accessToken.
func (s *Server) Code(challenge, idToken, accessToken string) string {
	code := randomString()
	body := map[string]any{"token_type": "Bearer", "expires_in": 300, "access_token": accessToken}
	if accessToken == "" {
		body["access_token"] = "opaque-" + randomString()
	}
	if idToken != "" {
		body["id_token"] = idToken
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = grant{challenge: challenge, body: body}
	return code
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if s.isDown(w) {
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.TokenRequests++
	g, ok := s.codes[r.PostForm.Get("code")]
	delete(s.codes, r.PostForm.Get("code"))
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !ok || (g.challenge != "" && base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
		return
	}
	writeJSON(w, g.body)
}

// Sign signs claims with the server's RSA key (RS256, current kid).
func (s *Server) Sign(claims map[string]any) string {
	s.mu.Lock()
	key, kid := s.Key, s.KeyID
	s.mu.Unlock()
	return SignRSA(key, kid, claims)
}

// SignRSA signs claims with key under kid, RS256.
func SignRSA(key *rsa.PrivateKey, kid string, claims map[string]any) string {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	must(err)
	return serialize(sig, claims)
}

// SignHS256WithPublicKey is the algorithm-confusion attack: an HMAC keyed
// with the IdP's public key in PEM, which anyone can fetch.
func (s *Server) SignHS256WithPublicKey(claims map[string]any) string {
	der, err := x509.MarshalPKIXPublicKey(s.Key.Public())
	must(err)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pemKey},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", s.KeyID))
	must(err)
	return serialize(sig, claims)
}

// Unsigned is an "alg": "none" token.
func Unsigned(claims map[string]any) string {
	h, err := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	must(err)
	p, err := json.Marshal(claims)
	must(err)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

func serialize(sig jose.Signer, claims map[string]any) string {
	p, err := json.Marshal(claims)
	must(err)
	jws, err := sig.Sign(p)
	must(err)
	out, err := jws.CompactSerialize()
	must(err)
	return out
}

// NewKey is a fresh 2048-bit RSA key.
func NewKey() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	return k
}

func randomString() string {
	b := make([]byte, 16)
	_, err := rand.Read(b)
	must(err)
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	must(json.NewEncoder(w).Encode(v))
}

func must(err error) {
	if err != nil {
		panic("oidctest: " + err.Error())
	}
}
