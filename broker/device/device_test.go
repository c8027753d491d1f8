package device

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedgate/fedgate/config"
)

func parse(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCheck(t *testing.T) {
	now := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	ca, err := NewCA("Corp Devices", now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(dir); err == nil {
		t.Fatal("Save overwrote an existing CA")
	}
	other, _ := NewCA("Someone Else", now, 24*time.Hour)
	issue := func(ca *CA, s Subject, from, to time.Time) *x509.Certificate {
		c, _, err := ca.Issue(s, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return parse(t, c)
	}
	hour := time.Hour
	good := issue(ca, Subject{CN: "bob"}, now.Add(-hour), now.Add(hour))
	upn := issue(ca, Subject{CN: "PC-17", UPN: "Bob@corp.example", Emails: []string{"b@corp.example"}}, now.Add(-hour), now.Add(hour))
	revoked := issue(ca, Subject{CN: "bob"}, now.Add(-hour), now.Add(hour))
	opened, err := OpenCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := opened.Revoke(dir, revoked.SerialNumber, now, hour); err != nil {
		t.Fatal(err)
	}
	// A CRL signed by another CA that lists the good certificate is ignored.
	forged, _ := other.CRL([]*big.Int{good.SerialNumber}, 1, now, now.Add(hour))
	crl, _ := os.ReadFile(filepath.Join(dir, "crl.pem"))
	crlFile := filepath.Join(dir, "all.crl")
	if err := os.WriteFile(crlFile, append(forged, crl...), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(config.Device{Name: "corp-pcs", CAFiles: []string{filepath.Join(dir, "ca.pem")}, CRLFile: crlFile})
	if err != nil {
		t.Fatal(err)
	}
	strict, err := Load(config.Device{Name: "named", CAFiles: []string{filepath.Join(dir, "ca.pem")}, MatchUser: []string{"cn", "upn"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		p    *Profile
		cert *x509.Certificate
		user string
		want error
	}{
		{"issued by the device CA", p, good, "alice", nil},
		{"no certificate", p, nil, "bob", ErrNoCertificate},
		{"another CA", p, issue(other, Subject{CN: "bob"}, now.Add(-hour), now.Add(hour)), "bob", ErrUntrusted},
		{"expired", p, issue(ca, Subject{CN: "bob"}, now.Add(-2*hour), now.Add(-hour)), "bob", ErrExpired},
		{"not yet valid", p, issue(ca, Subject{CN: "bob"}, now.Add(hour), now.Add(2*hour)), "bob", ErrExpired},
		{"expired, of another CA", p, issue(other, Subject{CN: "bob"}, now.Add(-2*hour), now.Add(-hour)), "bob", ErrUntrusted},
		{"revoked", p, revoked, "bob", ErrRevoked},
		{"names the user (cn)", strict, good, "BOB", nil},
		{"names someone else", strict, good, "alice", ErrNotUser},
		{"names the user (upn)", strict, upn, "bob@corp.example", nil},
		{"e-mail is not a listed field", strict, upn, "b@corp.example", ErrNotUser},
		{"a server certificate is not a client one", p, serverCert(t, ca, now), "bob", ErrUntrusted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var chain []*x509.Certificate
			if tt.cert != nil {
				chain = []*x509.Certificate{tt.cert}
			}
			err := tt.p.Check(chain, tt.user, now)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Check = %v, want %v", err, tt.want)
			}
		})
	}
}

// serverCert is issued by ca for TLS servers only.
func serverCert(t *testing.T, ca *CA, now time.Time) *x509.Certificate {
	tmpl := &x509.Certificate{SerialNumber: serial(), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		DNSNames: []string{"bob"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, ca.Key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func TestFromHeader(t *testing.T) {
	ca, _ := NewCA("Corp Devices", time.Now(), time.Hour)
	certPEM, _, _ := ca.Issue(Subject{CN: "bob"}, time.Now(), time.Now().Add(time.Hour))
	chainPEM := string(certPEM) + string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}))
	tests := []struct {
		name, value string
		n           int
	}{
		{"nginx $ssl_client_escaped_cert", strings.ReplaceAll(url.QueryEscape(string(certPEM)), "+", "%20"), 1},
		{"plain PEM with the chain", chainPEM, 2},
		{"empty", "", 0},
		{"garbage", "%zz", 0},
		{"not PEM", "hello", 0},
		{"a broken certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromHeader(tt.value)
			if len(got) != tt.n || (tt.n == 0) != (err != nil) {
				t.Fatalf("FromHeader = %d certs, %v; want %d", len(got), err, tt.n)
			}
		})
	}
}
