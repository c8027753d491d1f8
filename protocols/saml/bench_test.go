package saml

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fedgate/fedgate/protocols/internal/assertion"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
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

// nullKey is an RSA key that does not sign: with it, a signature costs
// what surrounds the RSA operation (canonicalisation, digests, SignedInfo).
type nullKey struct{ pub crypto.PublicKey }

func (k nullKey) Public() crypto.PublicKey { return k.pub }
func (nullKey) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return make([]byte, 256), nil
}

// BenchmarkStages splits one SP-initiated answer (assertion signed) into
// its stages, so that what is not the signature can be watched on its own:
// reading the request (query, base64, inflate, parse with its round-trip
// check, then the checks), building the assertion, its signature (with
// RSA, and with RSA taken out: canonicalisation, digests and SignedInfo
// alone), the Response serialised, and the auto-POST page.
//
//	go test -run '^$' -bench Stages -benchmem -cpu 1 ./protocols/saml
func BenchmarkStages(b *testing.B) {
	e := newEnv(b, map[string]SPConfig{"app": basicSP()})
	e.idp.Now = time.Now
	spv := benchSP{newFakeSP()}
	target := redirectURL(SSOPath, authnRequestXML("_bench", appEntity, time.Now(), "", ""), "relay", nil)
	req := httptest.NewRequest(http.MethodGet, target, nil)
	pend, err := e.idp.checkRequest(req, "", spv)
	if err != nil {
		b.Fatal(err)
	}
	s, err := e.idp.spFor(appEntity, "")
	if err != nil {
		b.Fatal(err)
	}
	id := spv.id
	b.Run("read-request", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.idp.checkRequest(req, "", spv); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("read-request/inflate-parse", func(b *testing.B) {
		for b.Loop() {
			in, err := decodeBinding(req)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := parseRequest(in.xml); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("build-assertion", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.idp.assertion(s, pend, id, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	sign := func(b *testing.B, signer *xmlsig.Signer) {
		for b.Loop() {
			b.StopTimer()
			a, _ := e.idp.assertion(s, pend, id, time.Now())
			b.StartTimer()
			if err := signer.Sign(a, "ID", 1); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("sign-rsa", func(b *testing.B) { sign(b, e.idp.Signer(false)) })
	b.Run("sign-without-rsa", func(b *testing.B) {
		k := fixedKey(b, "idp")
		signer, err := xmlsig.NewSigner(nullKey{k.Key.Public()}, k.Cert, false)
		if err != nil {
			b.Fatal(err)
		}
		sign(b, signer)
	})
	a, _ := e.idp.assertion(s, pend, id, time.Now())
	if err := e.idp.Signer(false).Sign(a, "ID", 1); err != nil {
		b.Fatal(err)
	}
	resp := e.idp.responseHead(s, pend, time.Now(), StatusSuccess, "")
	resp.AddChild(a)
	b.Run("serialise", func(b *testing.B) {
		for b.Loop() {
			assertion.Serialize(resp)
		}
	})
	xml := assertion.Serialize(resp)
	b.Run("page", func(b *testing.B) {
		for b.Loop() {
			postForm(httptest.NewRecorder(), pend.ACS, "SAMLResponse", xml, pend.Relay)
		}
	})
}
