package device

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// CA is a small device CA, as `fedgate ca` keeps it in a directory:
// ca.pem, ca.key (mode 0600) and crl.pem.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Subject is what an issued device certificate names.
type Subject struct {
	CN     string
	Emails []string
	DNS    []string
	UPN    string
}

// NewCA makes a self-signed P-256 CA valid from now for validity.
func NewCA(name string, now time.Time, validity time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(validity),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return &CA{Cert: cert, Key: key}, err
}

// Issue makes a client-authentication certificate and its P-256 key.
func (ca *CA) Issue(s Subject, notBefore, notAfter time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: s.CN},
		NotBefore: notBefore, NotAfter: notAfter,
		EmailAddresses: s.Emails, DNSNames: s.DNS,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if s.UPN != "" {
		if tmpl.ExtraExtensions, err = sanWithUPN(s); err != nil {
			return nil, nil, err
		}
		tmpl.EmailAddresses, tmpl.DNSNames = nil, nil // carried in the extension above
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// sanWithUPN builds a subjectAltName with the UPN otherName beside the
// e-mail and DNS names (x509 has no field for otherNames).
func sanWithUPN(s Subject) ([]pkix.Extension, error) {
	utf8, err := asn1.MarshalWithParams(s.UPN, "utf8")
	if err != nil {
		return nil, err
	}
	on, err := asn1.MarshalWithParams(otherName{oidUPN,
		asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: utf8}}, "tag:0")
	if err != nil {
		return nil, err
	}
	names := []asn1.RawValue{{FullBytes: on}}
	for _, e := range s.Emails {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, Bytes: []byte(e)})
	}
	for _, d := range s.DNS {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(d)})
	}
	v, err := asn1.Marshal(names)
	return []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: v}}, err
}

// CRL signs a revocation list of serials, valid until next.
func (ca *CA) CRL(serials []*big.Int, number int64, now, next time.Time) ([]byte, error) {
	var entries []x509.RevocationListEntry
	for _, s := range serials {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: now})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(number), ThisUpdate: now, NextUpdate: next, RevokedCertificateEntries: entries,
	}, ca.Cert, ca.Key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), nil
}

// Revoke adds serial to the directory's crl.pem (made if missing).
func (ca *CA) Revoke(dir string, serial *big.Int, now time.Time, validity time.Duration) error {
	var serials []*big.Int
	var number int64 = 1
	if data, err := os.ReadFile(filepath.Join(dir, "crl.pem")); err == nil {
		ls, err := parseCRLs(data)
		if err != nil {
			return err
		}
		for _, e := range ls[0].RevokedCertificateEntries {
			serials = append(serials, e.SerialNumber)
		}
		number = ls[0].Number.Int64() + 1
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	crl, err := ca.CRL(append(serials, serial), number, now, now.Add(validity))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "crl.pem"), crl, 0o644)
}

// Save writes ca.pem and ca.key into dir, refusing to overwrite a CA.
func (ca *CA) Save(dir string) error {
	kder, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, "ca.key"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("device: %w (a CA exists there already)", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: kder}); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "ca.pem"), ca.CertPEM(), 0o644)
}

// OpenCA reads the CA that Save wrote.
func OpenCA(dir string) (*CA, error) {
	cert, err := readPEM(filepath.Join(dir, "ca.pem"), "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	kder, err := readPEM(filepath.Join(dir, "ca.key"), "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(cert)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(kder)
	if err != nil {
		return nil, err
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("device: ca.key is not a signing key")
	}
	return &CA{Cert: c, Key: signer}, nil
}

func readPEM(path, typ string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != typ {
		return nil, fmt.Errorf("device: %s: no PEM %s", path, typ)
	}
	return b.Bytes, nil
}

// serial is a random 128-bit serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}

// CertPEM is the CA certificate in PEM.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}
