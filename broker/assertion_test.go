package broker

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/fedgate/fedgate/broker/keys"
)

func TestSignedAssertionHeader(t *testing.T) {
	var got []string
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, strings.Join(r.Header.Values("X-Fedgate-Assertion"), "|"))
	}))
	defer be.Close()
	pem, err := keys.GenerateSigningKey(keys.P256, "test", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "signing.pem"), pem, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(testConfig, "keys:\n  cookie: [unused.key]\n", "keys:\n  cookie: [unused.key]\n  signing: [{ file: "+filepath.Join(dir, "signing.pem")+" }]\n", 1)
	cfg = strings.Replace(cfg, "apps:\n", fmt.Sprintf(`apps:
  - { id: wiki, type: proxy, host: app.example, to: ["%s"], policy: staff, jwt_assertion: X-Fedgate-Assertion }
`, be.URL), 1)
	e := newEnvWith(t, cfg, nil)
	snap := e.srv.Current()
	s := e.srv.newSession(snap, protoIdentity("alice", []string{"staff"}))
	s.Host = "app.example"
	rec := &headerRecorder{h: http.Header{}}
	if err := snap.sealer.seal(rec, appSessionCookie, s, time.Hour, http.SameSiteLaxMode); err != nil {
		t.Fatal(err)
	}
	ck, _ := http.ParseSetCookie(rec.h.Get("Set-Cookie"))
	for range 2 {
		req, _ := http.NewRequest("GET", e.http.URL+"/", nil)
		req.Host = "app.example"
		req.AddCookie(ck)
		req.Header.Set("X-Fedgate-Assertion", "forged")
		req.Header.Set("X_Fedgate_Assertion", "forged")
		if r := e.do(e.newClient(), req); r.code != 200 {
			t.Fatalf("status %d", r.code)
		}
	}
	if len(got) != 2 || got[0] != got[1] || strings.Contains(got[0], "forged") || strings.Contains(got[0], "|") {
		t.Fatalf("backend got %q: want one fedgate assertion, reused", got)
	}
	// Verify it as an app would: with the JWKS, ES256 only, audience = the app.
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(e.get(e.client, "/.well-known/jwks.json").body), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks: %v %+v", err, set)
	}
	tok, err := jwt.ParseSigned(got[0], []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.Claims
	var extra struct {
		Groups []string `json:"groups"`
	}
	if err := tok.Claims(set.Keys[0].Key, &claims, &extra); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if err := claims.ValidateWithLeeway(jwt.Expected{Issuer: "http://127.0.0.1:8080", AnyAudience: jwt.Audience{"http://app.example"},
		Time: e.clock.Now()}, 0); err != nil || claims.Subject != "alice" || extra.Groups[0] != "staff" {
		t.Fatalf("claims %+v %+v: %v", claims, extra, err)
	}
	if exp := claims.Expiry.Time(); exp.Sub(e.clock.Now()) > 5*time.Minute {
		t.Fatalf("assertion lives until %s", exp)
	}
}
