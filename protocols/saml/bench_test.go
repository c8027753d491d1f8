package saml

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// benchSP answers every claim with "fresh": the benchmark measures issuing,
// not the state store.
type benchSP struct{ *fakeSP }

func (benchSP) Claim(context.Context, string, time.Time) (bool, error) { return true, nil }
func (benchSP) Claimed(context.Context, string) (bool, error)          { return false, nil }

// BenchmarkIssueVsRSA measures, in one run: raw RSA-2048 PKCS#1 v1.5
// SHA-256 signatures, then complete SP-initiated answers (a Redirect-binding
// AuthnRequest in: inflate, parse, checks, session; a signed Response in an
// auto-POST page out) with the assertion signed (one signature, the
// default) and with response and assertion signed (two). Each answer
// reports ratio = answers per second / raw signatures per second.
//
//	go test -run '^$' -bench IssueVsRSA ./protocols/saml
func BenchmarkIssueVsRSA(b *testing.B) {
	k := fixedKey(b, "idp")
	digest := sha256.Sum256([]byte("fedgate"))
	var sigNs float64
	b.Run("rsa-2048-sign", func(b *testing.B) {
		for b.Loop() {
			if _, err := rsa.SignPKCS1v15(rand.Reader, k.Key, crypto.SHA256, digest[:]); err != nil {
				b.Fatal(err)
			}
		}
		sigNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(1e9/sigNs, "sigs/s")
	})
	for _, c := range []struct {
		name string
		both bool
	}{{"response/assertion-signed", false}, {"response/both-signed", true}} {
		b.Run(c.name, func(b *testing.B) {
			sp := basicSP()
			sp.SignResponse = ptr(c.both)
			e := newEnv(b, map[string]SPConfig{"app": sp})
			e.idp.Now = time.Now
			mux := http.NewServeMux()
			e.idp.Mount(mux, benchSP{newFakeSP()})
			target := redirectURL(SSOPath, authnRequestXML("_bench", appEntity, time.Now(), "", ""), "relay", nil)
			for b.Loop() {
				w := httptest.NewRecorder()
				mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(1e9/ns, "responses/s")
			if sigNs > 0 {
				b.ReportMetric(sigNs/ns, "ratio")
			}
		})
	}
}
