package oidc

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// BenchmarkOP: in one run, raw RS256 signatures, token issues (an ID
// token signed, an access token sealed or signed as a JWT, and a sealed
// refresh token), and full code flows (authorize with an existing session →
// token, through the handlers, with the in-memory fake broker), RS256 and
// ES256, opaque and JWT access tokens. Each reports its rate.
//
//	go test ./protocols/oidc -run '^$' -bench BenchmarkOP -benchtime 3s
func BenchmarkOP(b *testing.B) {
	e := newOPEnv(b)
	c := e.p.clients["conf"]
	b.Run("raw-rs256-signature", func(b *testing.B) {
		sum := sha256.Sum256([]byte("payload"))
		for b.Loop() {
			if _, err := e.rsa.Sign(rand.Reader, sum[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
	})
	for _, v := range []struct{ name, alg, format string }{
		{"rs256-opaque", "RS256", "opaque"}, {"rs256-jwt", "RS256", "jwt"}, {"es256-opaque", "ES256", "opaque"},
	} {
		c.IDTokenSigningAlg, c.AccessTokenFormat = v.alg, v.format
		b.Run("issue-"+v.name, func(b *testing.B) {
			a := &authzRequest{ClientID: "conf", redirect: confCB, Scope: "openid profile email groups", Nonce: "n"}
			g := e.p.newGrant(c, a, e.sp.id)
			for b.Loop() {
				if _, err := e.p.issue(c, g, true, e.sp.Seal); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "issues/s")
		})
		b.Run("code-flow-"+v.name, func(b *testing.B) {
			mux := http.NewServeMux()
			e.p.Mount(mux, e.sp)
			q := authorizeQuery(nil).Encode()
			for b.Loop() {
				w := httptest.NewRecorder()
				mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, AuthorizePath+"?"+q, nil))
				loc, _ := url.Parse(w.Header().Get("Location"))
				code := loc.Query().Get("code")
				req := httptest.NewRequest(http.MethodPost, TokenPath, strings.NewReader(codeForm(code).Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth("conf", confSecret)
				w = httptest.NewRecorder()
				mux.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatal(w.Body.String())
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
		})
	}
}
