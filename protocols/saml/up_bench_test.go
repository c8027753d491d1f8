package saml

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
	"time"
)

// BenchmarkSignInVsRSA measures, in one run: raw RSA-2048 PKCS#1 v1.5
// SHA-256 verifications, then complete verified SAML sign-ins at the SP
// side (Finish: base64, defensive parse, signature on the assertion, every
// check, replay marker, identity) with the assertion signed, and with an
// encrypted signed assertion. ratio = sign-ins/s ÷ raw verifies/s.
//
//	go test -run '^$' -bench SignInVsRSA ./protocols/saml
func BenchmarkSignInVsRSA(b *testing.B) {
	f := newUpFixture(b, nil)
	f.login.Claim = func(context.Context, string, time.Time) (bool, error) { return true, nil }
	digest := sha256.Sum256([]byte("fedgate"))
	sig, _ := rsa.SignPKCS1v15(nil, f.idp.Key, crypto.SHA256, digest[:])
	var verifyNs float64
	b.Run("rsa-2048-verify", func(b *testing.B) {
		for b.Loop() {
			if err := rsa.VerifyPKCS1v15(&f.idp.Key.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
				b.Fatal(err)
			}
		}
		verifyNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(1e9/verifyNs, "verifies/s")
	})
	for _, c := range []struct {
		name string
		body string
	}{
		{"signin/assertion-signed", encode(b, signAssertion(b, f.answer().doc(), f.idp))},
		{"signin/encrypted-gcm", encode(b, encryptAssertion(b, signAssertion(b, f.answer().doc(), f.idp), f.sp, EncAES256GCM))},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := f.post(c.body); err != nil {
					b.Fatal(err)
				}
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(1e9/ns, "signins/s")
			if verifyNs > 0 {
				b.ReportMetric(verifyNs/ns, "ratio")
			}
		})
	}
}
