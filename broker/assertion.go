package broker

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/fedgate/fedgate/broker/keys"
	"github.com/fedgate/fedgate/config"
)

// Signed identity assertions: a proxy app may ask for a JWT in a header
// (apps[].jwt_assertion) that it verifies with fedgate's JWKS
// (/.well-known/jwks.json), audience = the app's origin. Signing costs far
// more than proxying, so an assertion is reused for the same session and app
// until a minute before it expires.

const assertionTTL = 5 * time.Minute

// signingKeys are the snapshot's signing keys: the active one signs, all
// (the next one included, before it is activated) are published.
type signingKeys struct {
	active *keys.SigningKey
	all    []*keys.SigningKey
	next   map[*keys.SigningKey]bool // status next: published, never signs
	signer jose.Signer
}

func loadSigningKeys(cfg *config.Config) (*signingKeys, error) {
	specs := cfg.Keys.Signing
	if len(specs) == 0 && cfg.DataDir != "" {
		// The key generated on first run, if it exists yet.
		if f := filepath.Join(cfg.DataDir, "signing.pem"); fileExists(f) {
			specs = []config.SigningKey{{File: f}}
		}
	}
	sk := &signingKeys{next: map[*keys.SigningKey]bool{}}
	for _, s := range specs {
		k, err := keys.LoadSigningKey(s.File)
		if err != nil {
			return nil, err
		}
		sk.all = append(sk.all, k)
		sk.next[k] = s.Status == "next"
		if sk.active == nil && s.Status != "next" {
			sk.active = k
		}
	}
	if sk.active == nil {
		return sk, nil // nothing to sign with; apps asking for assertions were refused by validation
	}
	var err error
	sk.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(sk.active.JWSAlg), Key: sk.active.Signer},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", sk.active.KeyID))
	return sk, err
}

// jwks serves the public signing keys.
func (b *Server) jwks(w http.ResponseWriter, r *http.Request) {
	snap := snapOf(r)
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	if snap.signing != nil {
		for _, k := range snap.signing.all {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Signer.Public(), KeyID: k.KeyID, Algorithm: k.JWSAlg, Use: "sig"})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = json.NewEncoder(w).Encode(set)
}

type assertionKey struct{ session, app string }

type cachedAssertion struct {
	jwt string
	exp time.Time
}

// assertionCache is bounded like the session cache.
type assertionCache struct {
	mu sync.Mutex
	m  map[assertionKey]cachedAssertion
}

// assertion returns a signed JWT about id for app, reusing a recent one.
func (b *Server) assertion(snap *Snapshot, app *config.App, s *Session) (string, error) {
	if snap.signing == nil || snap.signing.signer == nil {
		return "", fmt.Errorf("broker: app %s wants a signed assertion but no signing key is configured", app.ID)
	}
	now := b.now()
	k := assertionKey{s.ID, app.ID}
	c := snap.assertions
	c.mu.Lock()
	if a, ok := c.m[k]; ok && now.Before(a.exp.Add(-time.Minute)) {
		c.mu.Unlock()
		return a.jwt, nil
	}
	c.mu.Unlock()
	id := s.Identity
	exp := now.Add(assertionTTL)
	if exp.After(s.Expires) {
		exp = s.Expires
	}
	claims := map[string]any{
		"iss": publicBase(snap), "aud": appOrigin(snap, app), "sub": id.Subject, "iat": now.Unix(),
		"nbf": now.Add(-30 * time.Second).Unix(), "exp": exp.Unix(), "upstream": id.Upstream,
		"preferred_username": id.Username, "email": id.Email, "name": id.DisplayName, "groups": nonNil(id.Groups),
		"amr": nonNil(id.AMR), "auth_time": id.AuthTime.Unix(),
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := snap.signing.signer.Sign(payload)
	if err != nil {
		return "", err
	}
	jwt, err := jws.CompactSerialize()
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if len(c.m) >= sessionCacheSize {
		clear(c.m)
	}
	c.m[k] = cachedAssertion{jwt, exp}
	c.mu.Unlock()
	return jwt, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func appOrigin(snap *Snapshot, app *config.App) string {
	scheme, _, _ := strings.Cut(snap.Config.Server.PublicURL, "://")
	return scheme + "://" + app.Host
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
