package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Algorithm names a signing key type for GenerateSigningKey.
type Algorithm string

const (
	RSA2048 Algorithm = "rsa2048"
	RSA3072 Algorithm = "rsa3072"
	P256    Algorithm = "p256"
)

// SigningKey is a loaded token-signing key.
type SigningKey struct {
	Signer crypto.Signer
	Cert   *x509.Certificate
	KeyID  string // RFC 7638 JWK thumbprint (SHA-256, base64url): stable across restarts and replicas
	JWSAlg string // RS256 or ES256
}

// GenerateSigningKey returns a PEM file: a PKCS#8 "PRIVATE KEY" block, then a
// self-signed "CERTIFICATE". NotBefore is an hour early so relying parties with a
// slow clock accept it at once.
func GenerateSigningKey(alg Algorithm, commonName string, validity time.Duration, now time.Time) ([]byte, error) {
	if commonName == "" || validity <= 0 {
		return nil, errors.New("keys: generate signing key: need a common name and a positive validity")
	}
	var (
		signer crypto.Signer
		err    error
	)
	switch alg {
	case RSA2048:
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		signer, err = rsa.GenerateKey(rand.Reader, 3072)
	case P256:
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("keys: generate signing key: unknown algorithm %q (want %s, %s or %s)", alg, RSA2048, RSA3072, P256)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: generate signing key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("keys: generate serial: %w", err)
	}
	serial.SetBit(serial, 0, 1) // RFC 5280 wants a positive serial; zero is the one value rand.Int may give that fails
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("keys: create certificate: %w", err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return nil, fmt.Errorf("keys: marshal private key: %w", err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...), nil
}

// LoadSigningKey reads a PEM file holding one PKCS#8 private key and its certificate
// (further CERTIFICATE blocks, a chain, are allowed and ignored). It does not check the
// certificate's validity period: that depends on the clock, and the caller decides
// whether to warn or refuse.
func LoadSigningKey(path string) (*SigningKey, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	k, err := parseSigningKey(data)
	if err != nil {
		return nil, fmt.Errorf("keys: signing key %s: %w", path, err)
	}
	return k, nil
}

func parseSigningKey(data []byte) (*SigningKey, error) {
	var keyDER []byte
	var cert *x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch b.Type {
		case "PRIVATE KEY":
			if keyDER != nil {
				return nil, errors.New("more than one PRIVATE KEY block")
			}
			keyDER = b.Bytes
		case "CERTIFICATE":
			if cert != nil {
				continue
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("certificate: %w", err)
			}
			cert = c
		case "RSA PRIVATE KEY", "EC PRIVATE KEY":
			return nil, fmt.Errorf("%s is not PKCS#8; convert it with `openssl pkcs8 -topk8 -nocrypt`", b.Type)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted private keys are not supported; protect the file with permissions instead")
		default:
			return nil, fmt.Errorf("unexpected PEM block %q", b.Type)
		}
	}
	if keyDER == nil || cert == nil {
		return nil, errors.New("need a PRIVATE KEY block and a CERTIFICATE block")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key type %T cannot sign", parsed)
	}
	alg, err := jwsAlg(signer.Public())
	if err != nil {
		return nil, err
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, errors.New("certificate does not match the private key")
	}
	kid, err := thumbprint(signer.Public())
	if err != nil {
		return nil, err
	}
	return &SigningKey{Signer: signer, Cert: cert, KeyID: kid, JWSAlg: alg}, nil
}

// jwsAlg allows only what SAML, WS-Fed and OIDC peers all accept: RSA of at least
// 2048 bits, and ECDSA P-256.
func jwsAlg(pub crypto.PublicKey) (string, error) {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if p.N.BitLen() < 2048 {
			return "", fmt.Errorf("RSA key of %d bits is too small, want at least 2048", p.N.BitLen())
		}
		return "RS256", nil
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return "", fmt.Errorf("ECDSA curve %s not supported, want P-256", p.Curve.Params().Name)
		}
		return "ES256", nil
	default:
		return "", fmt.Errorf("key type %T not supported, want RSA or ECDSA P-256", pub)
	}
}

// thumbprint is the RFC 7638 JWK thumbprint: SHA-256 over the required members in
// lexicographic order, with no whitespace, base64url without padding.
func thumbprint(pub crypto.PublicKey) (string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	var canon string
	switch p := pub.(type) {
	case *rsa.PublicKey:
		e := big.NewInt(int64(p.E)).Bytes() // minimal big-endian, as RFC 7518 §6.3.1.2 requires
		canon = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, b64(e), b64(p.N.Bytes()))
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return "", errors.New("thumbprint: only the P-256 curve is supported")
		}
		pt, err := p.Bytes() // 0x04 || X || Y, each fixed-length as RFC 7518 §6.2.1.2 requires
		if err != nil {
			return "", fmt.Errorf("thumbprint: %w", err)
		}
		n := (len(pt) - 1) / 2
		canon = fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, b64(pt[1:1+n]), b64(pt[1+n:]))
	default:
		return "", fmt.Errorf("thumbprint: key type %T not supported", pub)
	}
	sum := sha256.Sum256([]byte(canon))
	return b64(sum[:]), nil
}
