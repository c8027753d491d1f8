package fido

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

// softKey is a software FIDO2 authenticator: enough of one to answer
// registrations ("none" attestation) and assertions, for tests and the
// benchmark. The browser tests use Chromium's virtual authenticator.
type softKey struct {
	priv    *ecdsa.PrivateKey
	id      []byte
	aaguid  [16]byte
	counter uint32
}

func newSoftKey(t testing.TB) *softKey {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := &softKey{priv: priv, id: make([]byte, 16)}
	_, _ = rand.Read(k.id)
	return k
}

var b64 = base64.RawURLEncoding

func (k *softKey) cose(t testing.TB) []byte {
	var x, y [32]byte
	k.priv.PublicKey.X.FillBytes(x[:])
	k.priv.PublicKey.Y.FillBytes(y[:])
	c, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x[:], -3: y[:]})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// challenge reads the challenge out of a ceremony's options.
func challenge(t testing.TB, c Ceremony) string {
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(c.Options, &o); err != nil || o.PublicKey.Challenge == "" {
		t.Fatalf("options %s: %v", c.Options, err)
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

// register answers a registration ceremony.
func (k *softKey) register(t testing.TB, chal, rpID, origin string) []byte {
	ad := authData(rpID, 0x45, k.counter) // UP, UV, attested credential data
	ad = append(ad, k.aaguid[:]...)
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(k.id)))
	ad = append(append(ad, k.id...), k.cose(t)...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(clientData("webauthn.create", chal, origin)),
			"attestationObject": b64.EncodeToString(att)}})
	return b
}

// assert answers an assertion ceremony with counter.
func (k *softKey) assert(t testing.TB, chal, rpID, origin string, counter uint32) []byte {
	ad := authData(rpID, 0x05, counter) // UP, UV
	cd := clientData("webauthn.get", chal, origin)
	h := sha256.Sum256(cd)
	d := sha256.Sum256(append(append([]byte{}, ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, d[:])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(ad),
			"signature": b64.EncodeToString(sig)}})
	return b
}
