// Package fidotest is a software FIDO2 authenticator for tests: enough of
// one to answer registrations ("none" attestation) and assertions, so Go
// tests and benchmarks need no browser. The browser tests use Chromium's
// virtual authenticator.
package fidotest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// Key is one authenticator holding one P-256 credential.
type Key struct {
	Priv   *ecdsa.PrivateKey
	ID     []byte
	AAGUID [16]byte
}

// New makes a key with a random credential id.
func New(t testing.TB) *Key {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := &Key{Priv: priv, ID: make([]byte, 16)}
	_, _ = rand.Read(k.ID)
	return k
}

var b64 = base64.RawURLEncoding

func (k *Key) cose(t testing.TB) []byte {
	pub, err := k.Priv.PublicKey.Bytes() // 0x04 || x || y
	if err != nil {
		t.Fatal(err)
	}
	c, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: pub[1:33], -3: pub[33:]})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Challenge reads the challenge out of a ceremony's options (JSON).
func Challenge(t testing.TB, options []byte) string {
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil || o.PublicKey.Challenge == "" {
		t.Fatalf("options %s: %v", options, err)
	}
	return o.PublicKey.Challenge
}

func clientData(typ, chal, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": chal, "origin": origin, "crossOrigin": false})
	return b
}

func authData(rpID string, flags byte, counter uint32) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append(h[:], flags)
	return binary.BigEndian.AppendUint32(out, counter)
}

// Register answers a registration ceremony for rpID at origin.
func (k *Key) Register(t testing.TB, chal, rpID, origin string) []byte {
	ad := authData(rpID, 0x45, 0) // UP, UV, attested credential data
	ad = append(ad, k.AAGUID[:]...)
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(k.ID)))
	ad = append(append(ad, k.ID...), k.cose(t)...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"id": b64.EncodeToString(k.ID), "rawId": b64.EncodeToString(k.ID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(clientData("webauthn.create", chal, origin)),
			"attestationObject": b64.EncodeToString(att)}})
	return b
}

// Assert answers an assertion ceremony for rpID at origin, with counter.
func (k *Key) Assert(t testing.TB, chal, rpID, origin string, counter uint32) []byte {
	ad := authData(rpID, 0x05, counter) // UP, UV
	cd := clientData("webauthn.get", chal, origin)
	h := sha256.Sum256(cd)
	d := sha256.Sum256(append(append([]byte{}, ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.Priv, d[:])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"id": b64.EncodeToString(k.ID), "rawId": b64.EncodeToString(k.ID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(ad),
			"signature": b64.EncodeToString(sig)}})
	return b
}
