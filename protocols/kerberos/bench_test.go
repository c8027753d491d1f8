package kerberos

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/spnego"
)

// tokens mints n distinct tokens (each authenticator is new, so none is a
// replay) before the timer starts.
func tokens(b *testing.B, n int) []string {
	b.Helper()
	kt := keytab.New() // the service key, derived once (PBKDF2 is slow)
	tk := ticket{}.withDefaults()
	if err := kt.AddEntry(tk.sname, tk.srealm, tk.password, time.Now(), uint8(tk.kvno), tk.etype); err != nil {
		b.Fatal(err)
	}
	tk.keytab = kt
	out := make([]string, n)
	for i := range out {
		out[i] = mint(b, tk)
	}
	return out
}

// BenchmarkNegotiate is one Windows sign-in at the upstream: parse the
// SPNEGO token, verify the AP-REQ, read the PAC, map the identity and seal
// the mutual-authentication AP-REP.
func BenchmarkNegotiate(b *testing.B) {
	u := open(b, Config{})
	toks := tokens(b, b.N)
	b.ResetTimer()
	for i := range b.N {
		if _, _, err := negotiate(u, toks[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawGokrb5 is the same token through gokrb5's own acceptor
// (what its SPNEGO HTTP handler does), for comparison.
func BenchmarkRawGokrb5(b *testing.B) {
	u := open(b, Config{})
	s := spnego.SPNEGOService(u.kt, service.DecodePAC(false), service.KeytabPrincipal(testSPN))
	toks := tokens(b, b.N)
	b.ResetTimer()
	for i := range b.N {
		raw, _ := base64.StdEncoding.DecodeString(toks[i])
		var st spnego.SPNEGOToken
		if err := st.Unmarshal(raw); err != nil {
			b.Fatal(err)
		}
		if ok, _, status := s.AcceptSecContext(&st); !ok || status.Code != gssapi.StatusComplete {
			b.Fatal(status)
		}
	}
}
