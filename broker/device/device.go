// Package device checks device certificates: TLS client certificates that
// prove a browser runs on a company device, issued by a configured CA and
// not revoked. A Profile is one named kind of device (`devices:` in the
// config); the broker asks every profile about the certificate a browser
// presented on the certificate host and records the names that hold.
package device

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/fedgate/fedgate/config"
)

// Why a certificate is refused. The broker audits these as reasons.
var (
	ErrNoCertificate = errors.New("device: no certificate")
	ErrUntrusted     = errors.New("device: not issued by this device CA")
	ErrExpired       = errors.New("device: certificate expired or not yet valid")
	ErrRevoked       = errors.New("device: certificate revoked")
	ErrNotUser       = errors.New("device: certificate does not name the user")
)

// Profile is one compiled `devices:` entry.
type Profile struct {
	Name      string
	roots     *x509.CertPool
	rootList  []*x509.Certificate
	crls      []*x509.RevocationList // signature checked against roots when used
	matchUser []string
}

// Load reads a profile's CA bundle and CRL file.
func Load(c config.Device) (*Profile, error) {
	p := &Profile{Name: c.Name, roots: x509.NewCertPool(), matchUser: c.MatchUser}
	for _, f := range c.CAFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", c.Name, err)
		}
		certs, err := FromHeader(string(data))
		if err != nil {
			return nil, fmt.Errorf("device %s: %s holds no PEM certificate", c.Name, f)
		}
		for _, ca := range certs {
			p.roots.AddCert(ca)
		}
		p.rootList = append(p.rootList, certs...)
	}
	if c.CRLFile != "" {
		data, err := os.ReadFile(c.CRLFile)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", c.Name, err)
		}
		if p.crls, err = parseCRLs(data); err != nil {
			return nil, fmt.Errorf("device %s: crl_file %s: %w", c.Name, c.CRLFile, err)
		}
	}
	return p, nil
}

// parseCRLs reads PEM "X509 CRL" blocks, or one DER CRL.
func parseCRLs(data []byte) ([]*x509.RevocationList, error) {
	var out []*x509.RevocationList
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "X509 CRL" {
			continue
		}
		l, err := x509.ParseRevocationList(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		l, err := x509.ParseRevocationList(data)
		if err != nil {
			return nil, errors.New("no CRL in the file (PEM X509 CRL or DER)")
		}
		out = append(out, l)
	}
	return out, nil
}

// Check verifies chain (leaf first, then any intermediates the client sent)
// for user at now.
func (p *Profile) Check(chain []*x509.Certificate, user string, now time.Time) error {
	if len(chain) == 0 {
		return ErrNoCertificate
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	leaf := chain[0]
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		// x509 calls any out-of-date certificate expired, whoever issued
		// it; say so only of our own CA's (the user can act on that).
		for _, ca := range append(p.rootList, chain[1:]...) {
			if leaf.CheckSignatureFrom(ca) == nil {
				return ErrExpired
			}
		}
		return ErrUntrusted
	}
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: p.roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	for _, c := range chains {
		for i := 0; i+1 < len(c); i++ {
			if p.revoked(c[i], c[i+1]) {
				return ErrRevoked
			}
		}
	}
	if len(p.matchUser) > 0 && !namesUser(leaf, p.matchUser, user) {
		return ErrNotUser
	}
	return nil
}

// revoked reports whether a CRL signed by issuer lists cert.
func (p *Profile) revoked(cert, issuer *x509.Certificate) bool {
	for _, l := range p.crls {
		if l.CheckSignatureFrom(issuer) != nil {
			continue // another CA's list (or forged): says nothing about cert
		}
		for _, e := range l.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				return true
			}
		}
	}
	return false
}

// FromHeader reads the certificate a TLS terminator forwarded: nginx's
// $ssl_client_escaped_cert (URL-escaped PEM), or plain PEM. Intermediates
// may follow the leaf.
func FromHeader(v string) ([]*x509.Certificate, error) {
	if v == "" {
		return nil, ErrNoCertificate
	}
	if strings.Contains(v, "%") {
		u, err := url.PathUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("device: forwarded certificate: %w", err)
		}
		v = u
	}
	var out []*x509.Certificate
	rest := []byte(v)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("device: forwarded certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("device: forwarded certificate: no PEM certificate")
	}
	return out, nil
}
