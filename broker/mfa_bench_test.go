package broker

import (
	"context"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/fedgate/fedgate/broker/fido"
	"github.com/fedgate/fedgate/broker/fido/fidotest"
	"github.com/fedgate/fedgate/test/bench/benchratio"
)

// Issue 13's benchmarks: a step-up's verification of one answer, as the
// factor's Verify does it on the memory store, against the raw primitive
// inside it, interleaved in one run (benchratio):
//
//	go test -run '^$' -bench 'TOTPVerify|WebAuthnVerify' -cpu 1 -count 5 ./broker

const benchSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// benchCall is an MFA call in session s: what a POST to /mfa/<method>
// hands the method, its form and cookie left to the caller.
func benchCall(e *testEnv, s *Session) *mfaCall {
	req := httptest.NewRequest("POST", "/mfa/x", nil)
	req.PostForm = url.Values{}
	return e.srv.newMFACall(httptest.NewRecorder(), req, e.srv.Current(), s, &Pending{ID: "bench"})
}

// rawHMAC is one HMAC-SHA1 over a time step: a TOTP code's whole crypto.
func rawHMAC() benchratio.Side {
	key, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(benchSecret)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], 60_000_000)
	return benchratio.Side{Name: "hmac", Op: func() {
		m := hmac.New(sha1.New, key)
		m.Write(msg[:])
		_ = m.Sum(nil)
	}}
}

// BenchmarkTOTPVerify: the vault opens alice's record, the code is matched
// within the skew and its time step claimed once in the store. A good code
// costs two HMACs (the step before, then now); a wrong one 3 + 9 (the
// skew, then the look back that tells "expired" from "wrong") and no claim.
// Each good code is a new time step (the clock moves 30 s per code), so
// every claim is a first one, as at a real step-up.
func BenchmarkTOTPVerify(b *testing.B) {
	e := newEnvWith(b, mfaTestConfig, nil)
	s := e.srv.newSession(e.srv.Current(), protoIdentity("alice", []string{"staff"}))
	c := benchCall(e, s)
	if err := c.vault.put(context.Background(), "otp", c.user, totpRecord{Secret: benchSecret}); err != nil {
		b.Fatal(err)
	}
	b.Run("good", func(b *testing.B) {
		var codes []string
		i := 0
		benchratio.Run(b, benchratio.Side{Name: "totp",
			Prepare: func(n int) {
				codes, i = codes[:0], 0
				for k := range n {
					code, err := totp.GenerateCode(benchSecret, e.clock.Now().Add(time.Duration(k+1)*totpPeriod))
					if err != nil {
						b.Fatal(err)
					}
					codes = append(codes, code)
				}
			},
			Op: func() {
				e.clock.Advance(totpPeriod)
				c.r.PostForm.Set("code", codes[i])
				i++
				if err := (totpMethod{}).Verify(c); err != nil {
					b.Fatal(err)
				}
			}}, rawHMAC())
	})
	b.Run("wrong", func(b *testing.B) {
		c.r.PostForm.Set("code", "000000")
		if err := (totpMethod{}).Verify(c); !errors.Is(err, errFactorWrong) {
			b.Fatalf("000000 = %v, want wrong (pick another code)", err)
		}
		benchratio.Run(b, benchratio.Side{Name: "totp-wrong", Op: func() {
			if err := (totpMethod{}).Verify(c); !errors.Is(err, errFactorWrong) {
				b.Fatal(err)
			}
		}}, rawHMAC())
	})
}

// BenchmarkWebAuthnVerify: a security key's answer at a step-up: the
// ceremony state opened from its cookie, the user's keys opened from the
// vault, the assertion checked (JSON, CBOR, client data, RP ID hash, ECDSA
// P-256 signature, counter), its counter claimed once and the key record
// sealed back with the new counter. Against the raw ECDSA P-256 verify.
// Each answer is to a new challenge with the next counter (prepared and
// signed by the test key untimed).
func BenchmarkWebAuthnVerify(b *testing.B) {
	e := newEnvWith(b, webauthnTestConfig, nil)
	snap := e.srv.Current()
	s := e.srv.newSession(snap, protoIdentity("alice", []string{"staff"}))
	rp, err := relyingParty(snap)
	if err != nil {
		b.Fatal(err)
	}
	k := fidotest.New(b)
	c := benchCall(e, s)
	u, err := webauthnMethod{}.keys(context.Background(), c)
	if err != nil {
		b.Fatal(err)
	}
	reg, err := rp.BeginRegister(u)
	if err != nil {
		b.Fatal(err)
	}
	key, err := rp.FinishRegister(u, reg.State, k.Register(b, fidotest.Challenge(b, reg.Options), waRPID, waOrigin), "bench key", e.clock.Now())
	if err != nil {
		b.Fatal(err)
	}
	u.Keys = []fido.Key{key}
	if err := c.vault.put(context.Background(), "webauthn", c.user, u.Keys); err != nil {
		b.Fatal(err)
	}

	var calls []*mfaCall
	var counter uint32
	i := 0
	subject := benchratio.Side{Name: "webauthn",
		Prepare: func(n int) {
			calls, i = calls[:0], 0
			for range n {
				cer, err := rp.BeginLogin(u)
				if err != nil {
					b.Fatal(err)
				}
				c := benchCall(e, s)
				ck, err := snap.sealer.cookie(webauthnStateCookie, webauthnState{Bind: c.csrf(), State: cer.State}, webauthnTTL, http.SameSiteStrictMode)
				if err != nil {
					b.Fatal(err)
				}
				c.r.AddCookie(ck)
				counter++
				c.r.PostForm.Set("credential", string(k.Assert(b, fidotest.Challenge(b, cer.Options), waRPID, waOrigin, counter)))
				calls = append(calls, c)
			}
		},
		Op: func() {
			if err := (webauthnMethod{}).Verify(calls[i]); err != nil {
				b.Fatal(err)
			}
			i++
		}}

	d := sha256.Sum256([]byte("authenticator data and client data hash"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k.Priv, d[:])
	raw := benchratio.Side{Name: "ecdsa", Op: func() {
		if !ecdsa.VerifyASN1(&k.Priv.PublicKey, d[:], sig) {
			b.Fatal("bad signature")
		}
	}}
	benchratio.Run(b, subject, raw)

	var stored []fido.Key
	if err := c.vault.get(context.Background(), "webauthn", c.user, &stored); err != nil || stored[0].Credential.Authenticator.SignCount != counter {
		b.Fatalf("stored counter %v (%v), want %d: the counter update was not timed", stored, err, counter)
	}
}
