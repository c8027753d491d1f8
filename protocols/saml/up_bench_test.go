package saml

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/test/bench/benchratio"
)

// BenchmarkSignInVsRSA: issue 15's verified SAML sign-ins at the SP side
// against raw RSA-2048 PKCS#1 v1.5 SHA-256 verifies, interleaved in one
// run (benchratio). A sign-in is the upstream's whole handling of the
// POSTed answer (Finish: form, base64, defensive parse, decryption, the
// signature on the assertion, every check, the assertion id claimed once
// in a memory store as the broker does, identity), with the assertion
// signed, and encrypted (AES-256-GCM) + signed. Every answer has its own
// assertion id, so every claim is a first one; answers are minted and
// signed untimed. x-rsa-verify: how many raw verifies one sign-in costs.
//
//	go test -run '^$' -bench SignInVsRSA -cpu 1 -count 5 ./protocols/saml
func BenchmarkSignInVsRSA(b *testing.B) {
	f := newUpFixture(b, nil)
	st := store.NewMemory(func() time.Time { return fixedNow })
	// The broker's claim for an upstream (broker.upstreamClaim).
	f.login.Claim = func(ctx context.Context, key string, expiry time.Time) (bool, error) {
		return st.Claim(ctx, "up:partner:"+key, expiry)
	}
	digest := sha256.Sum256([]byte("fedgate"))
	sig, _ := rsa.SignPKCS1v15(nil, f.idp.Key, crypto.SHA256, digest[:])
	verify := benchratio.Side{Name: "rsa-verify", Op: func() {
		if err := rsa.VerifyPKCS1v15(&f.idp.Key.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
			b.Fatal(err)
		}
	}}
	seq := 0
	for _, c := range []struct {
		name string
		seal func(*etree.Document) *etree.Document
	}{
		{"assertion-signed", func(d *etree.Document) *etree.Document { return d }},
		{"encrypted-gcm", func(d *etree.Document) *etree.Document { return encryptAssertion(b, d, f.sp, EncAES256GCM) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			var posts []*http.Request
			i := 0
			signin := benchratio.Side{Name: "signin",
				Prepare: func(n int) {
					posts, i = posts[:0], 0
					for range n {
						seq++
						m := f.answer()
						m.respID, m.assertID = fmt.Sprintf("_resp%d", seq), fmt.Sprintf("_assert%d", seq)
						form := url.Values{"SAMLResponse": {encode(b, c.seal(signAssertion(b, m.doc(), f.idp)))}, "RelayState": {f.login.State}}
						r := httptest.NewRequest(http.MethodPost, upCallback, strings.NewReader(form.Encode()))
						r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
						posts = append(posts, r)
					}
				},
				Op: func() {
					if _, err := f.u.Finish(context.Background(), posts[i], f.login); err != nil {
						b.Fatal(err)
					}
					i++
				}}
			benchratio.Run(b, signin, verify)
		})
	}
	// The claims were real: the last answer again is a replay.
	last := f.answer()
	last.respID, last.assertID = "_resp-again", fmt.Sprintf("_assert%d", seq)
	if _, err := f.post(encode(b, signAssertion(b, last.doc(), f.idp))); err == nil || !strings.Contains(err.Error(), "replay") {
		b.Fatalf("a spent assertion id again = %v, want a replay refusal", err)
	}
}
