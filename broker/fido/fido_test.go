package fido

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker/fido/fidotest"
	"github.com/fedgate/fedgate/test/bench/benchratio"
)

const (
	origin = "https://sso.example.co.jp"
	rpID   = "sso.example.co.jp"
)

func newRP(t testing.TB, c Config) *RP {
	t.Helper()
	c.PublicURL = origin
	rp, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// enrolled is bob with k registered through the ceremony.
func enrolled(t testing.TB, rp *RP, k *fidotest.Key) *User {
	t.Helper()
	u := &User{Handle: UserHandle("corp", "bob-sub"), Name: "bob"}
	c, err := rp.BeginRegister(u)
	if err != nil {
		t.Fatal(err)
	}
	key, err := rp.FinishRegister(u, c.State, k.Register(t, fidotest.Challenge(t, c.Options), rpID, origin), "my key", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	u.Keys = append(u.Keys, key)
	return u
}

func TestRegister(t *testing.T) {
	k := fidotest.New(t)
	k.AAGUID = [16]byte{0xcb, 0x69, 0x48, 0x1e}
	rp := newRP(t, Config{})
	u := enrolled(t, rp, k)
	if u.Keys[0].Name != "my key" || string(u.Keys[0].Credential.ID) != string(k.ID) {
		t.Fatalf("key = %+v", u.Keys[0])
	}
	tests := []struct {
		name   string
		rp     *RP
		rpID   string
		origin string
		want   error
	}{
		{"another site's RP ID", rp, "evil.example", origin, ErrRPID},
		{"another origin", rp, rpID, "https://evil.example", ErrInvalid},
		{"AAGUID not in the allow-list", newRP(t, Config{AAGUIDs: []string{"ee882879-721c-4913-9775-3dfcce97072a"}}), rpID, origin, ErrAAGUIDRefused},
		{"AAGUID in the allow-list", newRP(t, Config{AAGUIDs: []string{"cb69481e-0000-0000-0000-000000000000"}}), rpID, origin, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &User{Handle: UserHandle("corp", "bob-sub"), Name: "bob"}
			c, err := tt.rp.BeginRegister(u)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tt.rp.FinishRegister(u, c.State, k.Register(t, fidotest.Challenge(t, c.Options), tt.rpID, tt.origin), "k", time.Now())
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("FinishRegister = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := New(Config{PublicURL: origin, AAGUIDs: []string{"not-a-uuid"}}); err == nil {
		t.Error("a bad AAGUID was accepted")
	}
}

func TestLogin(t *testing.T) {
	rp := newRP(t, Config{})
	k := fidotest.New(t)
	u := enrolled(t, rp, k)
	other := fidotest.New(t)
	tests := []struct {
		name    string
		answer  func(chal string) []byte
		want    error
		counter uint32 // stored after a good answer
	}{
		{"good", func(c string) []byte { return k.Assert(t, c, rpID, origin, 5) }, nil, 5},
		{"counter advanced", func(c string) []byte { return k.Assert(t, c, rpID, origin, 9) }, nil, 9},
		{"lower sign counter", func(c string) []byte { return k.Assert(t, c, rpID, origin, 3) }, ErrCounter, 9},
		{"same sign counter", func(c string) []byte { return k.Assert(t, c, rpID, origin, 9) }, ErrCounter, 9},
		{"another site's RP ID", func(c string) []byte { return k.Assert(t, c, "evil.example", origin, 10) }, ErrRPID, 9},
		{"another origin", func(c string) []byte { return k.Assert(t, c, rpID, "https://evil.example", 10) }, ErrInvalid, 9},
		{"another challenge", func(string) []byte { return k.Assert(t, "AAAA", rpID, origin, 10) }, ErrInvalid, 9},
		{"a key bob does not have", func(c string) []byte { return other.Assert(t, c, rpID, origin, 10) }, ErrUnknownKey, 9},
		{"garbage", func(string) []byte { return []byte(`{"id":1}`) }, ErrInvalid, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := rp.BeginLogin(u)
			if err != nil {
				t.Fatal(err)
			}
			i, key, err := rp.FinishLogin(u, c.State, tt.answer(fidotest.Challenge(t, c.Options)), time.Now())
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("FinishLogin = %v, want %v", err, tt.want)
			}
			if err == nil {
				u.Keys[i] = key
			}
			if got := u.Keys[0].Credential.Authenticator.SignCount; got != tt.counter {
				t.Fatalf("stored counter %d, want %d", got, tt.counter)
			}
		})
	}
}

// BenchmarkAssertion: one WebAuthn assertion checked by the library (JSON
// and CBOR parsing, client data, RP ID hash, signature) against the raw
// ECDSA P-256 verify inside it, interleaved (benchratio). The broker's
// BenchmarkWebAuthnVerify adds the vault and the store around it.
func BenchmarkAssertion(b *testing.B) {
	rp := newRP(b, Config{})
	k := fidotest.New(b)
	u := enrolled(b, rp, k)
	c, _ := rp.BeginLogin(u)
	answer := k.Assert(b, fidotest.Challenge(b, c.Options), rpID, origin, 1)
	d := sha256.Sum256([]byte("authenticator data and client data hash"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k.Priv, d[:])
	benchratio.Run(b, benchratio.Side{Name: "webauthn", Op: func() {
		if _, _, err := rp.FinishLogin(u, c.State, answer, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}}, benchratio.Side{Name: "ecdsa", Op: func() {
		if !ecdsa.VerifyASN1(&k.Priv.PublicKey, d[:], sig) {
			b.Fatal("bad signature")
		}
	}})
}
