package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func generate(t testing.TB, alg Algorithm) []byte {
	t.Helper()
	data, err := GenerateSigningKey(alg, "test", 24*time.Hour, testNow)
	if err != nil {
		t.Fatalf("GenerateSigningKey(%s): %v", alg, err)
	}
	return data
}

// blocks splits a PEM file into its blocks, re-encoded, keyed by type.
func blocks(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return out
		}
		out[b.Type] = pem.EncodeToMemory(b)
	}
}

func TestSigningKeyRoundTrip(t *testing.T) {
	tests := []struct {
		alg    Algorithm
		jwsAlg string
	}{
		{RSA2048, "RS256"},
		{RSA3072, "RS256"},
		{P256, "ES256"},
	}
	for _, tt := range tests {
		t.Run(string(tt.alg), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "signing.pem")
			if err := WriteFile(path, generate(t, tt.alg)); err != nil {
				t.Fatal(err)
			}
			k, err := LoadSigningKey(path)
			if err != nil {
				t.Fatalf("LoadSigningKey: %v", err)
			}
			if k.JWSAlg != tt.jwsAlg {
				t.Errorf("JWSAlg = %q, want %q", k.JWSAlg, tt.jwsAlg)
			}
			if want, _ := thumbprint(k.Cert.PublicKey); k.KeyID != want || len(k.KeyID) != 43 {
				t.Errorf("KeyID = %q, want thumbprint %q", k.KeyID, want)
			}
			c := k.Cert
			if c.Subject.CommonName != "test" || !c.NotBefore.Equal(testNow.Add(-time.Hour)) ||
				!c.NotAfter.Equal(testNow.Add(24*time.Hour)) || c.KeyUsage != x509.KeyUsageDigitalSignature || c.IsCA {
				t.Errorf("cert: CN %q, NotBefore %v, NotAfter %v, KeyUsage %v, IsCA %v",
					c.Subject.CommonName, c.NotBefore, c.NotAfter, c.KeyUsage, c.IsCA)
			}
			if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
				t.Errorf("serial %v not a positive 128-bit number", c.SerialNumber)
			}
			if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
				t.Errorf("cert is not self-signed: %v", err)
			}

			digest := sha256.Sum256([]byte("hello"))
			sig, err := k.Signer.Sign(rand.Reader, digest[:], crypto.SHA256)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			switch pub := c.PublicKey.(type) {
			case *rsa.PublicKey:
				err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
			case *ecdsa.PublicKey:
				if !ecdsa.VerifyASN1(pub, digest[:], sig) {
					err = errVerify
				}
			}
			if err != nil {
				t.Errorf("signature does not verify with the certificate: %v", err)
			}
		})
	}
}

var errVerify = errors.New("ECDSA verification failed")

// TestThumbprintRFC7638 uses the example key of RFC 7638 §3.1.
func TestThumbprintRFC7638(t *testing.T) {
	const (
		n    = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
		want = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	)
	nb, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil {
		t.Fatal(err)
	}
	got, err := thumbprint(&rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: 65537})
	if err != nil || got != want {
		t.Fatalf("thumbprint = %q, %v; want %q", got, err, want)
	}
}

func TestLoadSigningKeyRejects(t *testing.T) {
	a, b := blocks(t, generate(t, P256)), blocks(t, generate(t, P256))
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384DER, err := x509.MarshalPKCS8PrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	p384PEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p384DER})
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	tests := []struct {
		name, data, wantErr string
	}{
		{"mismatched key and cert", string(join(a["PRIVATE KEY"], b["CERTIFICATE"])), "does not match"},
		{"no certificate", string(a["PRIVATE KEY"]), "need a PRIVATE KEY block and a CERTIFICATE"},
		{"no key", string(a["CERTIFICATE"]), "need a PRIVATE KEY block and a CERTIFICATE"},
		{"two keys", string(join(a["PRIVATE KEY"], b["PRIVATE KEY"], a["CERTIFICATE"])), "more than one"},
		{"PKCS#1", "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", "not PKCS#8"},
		{"encrypted", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", "encrypted"},
		{"unsupported curve", string(join(p384PEM, a["CERTIFICATE"])), "P-256"},
		{"not PEM", "hello", "need a PRIVATE KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "k.pem")
			if err := WriteFile(path, []byte(tt.data)); err != nil {
				t.Fatal(err)
			}
			_, err := LoadSigningKey(path)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Fatalf("LoadSigningKey: %v; want an error naming the file and containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestGenerateSigningKeyRejects(t *testing.T) {
	tests := []struct {
		name     string
		alg      Algorithm
		cn       string
		validity time.Duration
	}{
		{"unknown algorithm", "ed25519", "x", time.Hour},
		{"empty common name", P256, "", time.Hour},
		{"zero validity", P256, "x", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := GenerateSigningKey(tt.alg, tt.cn, tt.validity, testNow); err == nil {
				t.Fatal("GenerateSigningKey succeeded")
			}
		})
	}
}

func FuzzParseSigningKey(f *testing.F) {
	f.Add(generate(f, P256))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := parseSigningKey(data)
		if err == nil && (k.Signer == nil || k.Cert == nil || k.KeyID == "" || k.JWSAlg == "") {
			t.Fatalf("parseSigningKey returned an incomplete key: %+v", k)
		}
	})
}
