package saml

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedgate/fedgate/protocols/internal/samltoken"
)

// FuzzSAMLResponse: any document either fails cleanly or is an answer
// the IdP really signed — the seeds' NameID, never anything else.
func FuzzSAMLResponse(f *testing.F) {
	u := newUpFixture(f, nil)
	add := func(b64 string) {
		if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64)); err == nil {
			f.Add(raw)
		}
	}
	add(encode(f, signAssertion(f, u.answer().doc(), u.idp)))
	add(encode(f, signResponse(f, u.answer().doc(), u.idp)))
	files, _ := filepath.Glob("testdata/sp-corpus/*.b64")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err == nil {
			add(string(b))
		}
	}
	check := answerCheck{Assertion: samltoken.Check{Issuer: upIdP, Audience: upSP, Recipient: upCallback,
		RequestID: requestID(u.login.Nonce), Now: fixedNow, Skew: u.u.cfg.skew()}, Verifier: u.verifier(), Decrypt: u.u.decrypter.open}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ans, err := check.checkResponse(base64.StdEncoding.EncodeToString(raw))
		if err != nil {
			return
		}
		if ans.NameID != "alice@corp.example" || ans.AssertionID != "_assert1" {
			t.Fatalf("accepted an answer the IdP did not sign: %+v", ans)
		}
	})
}
