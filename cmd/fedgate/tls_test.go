package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedgate/fedgate/config"
)

// writeTLSConfig writes a config serving a local upstream over TLS from
// cert.pem/key.pem in dir.
func writeTLSConfig(t *testing.T, dir string) {
	t.Helper()
	users := "users: [{ username: a, password_hash: \"$2a$04$9hjYJ2A7.5x9jv9H3X2dQOuZ8mK8bq8b1y7wJ0m1m4i8x0iYl9c2S\" }]\n"
	writeFile(t, dir, "users.yaml", users)
	writeFile(t, dir, "fedgate.yaml", `server:
  public_url: https://127.0.0.1
  listen: 127.0.0.1:0
  tls: { cert_file: cert.pem, key_file: key.pem }
data_dir: data
store: { memory: true }
audit: { file: audit.jsonl }
upstreams: [{ id: local, type: local, users_file: users.yaml }]
`)
}

// TestServesTLSWithHTTP2: with a certificate configured, fedgate speaks TLS,
// offers HTTP/2, and sends HSTS; plain HTTP on that port is refused.
func TestServesTLSWithHTTP2(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	writeFile(t, dir, "cert.pem", string(certPEM))
	writeFile(t, dir, "key.pem", string(keyPEM))
	writeTLSConfig(t, dir)
	addr, _, _ := runConfig(t, dir)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{RootCAs: pool}}}
	r, err := c.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.ProtoMajor != 2 || r.TLS == nil {
		t.Fatalf("proto %s over TLS %v, want HTTP/2", r.Proto, r.TLS != nil)
	}
	r, err = c.Get("https://" + addr + "/signed-out")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.Header.Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS over TLS")
	}
	if r, err := http.Get("http://" + addr + "/healthz"); err == nil && r.StatusCode == 200 {
		t.Fatal("plain HTTP answered on the TLS port")
	}
}

// servedSerial is the serial number of the certificate a TLS client sees
// (verification off: the test checks which certificate, not trust).
func servedSerial(t *testing.T, addr string) (*big.Int, time.Time) {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	leaf := conn.ConnectionState().PeerCertificates[0]
	return leaf.SerialNumber, leaf.NotAfter
}

// replaceFile writes body to dir/name the way cert tools do: a new file
// renamed over the old one.
func replaceFile(t *testing.T, dir, name string, body []byte) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".new")
	if err := os.WriteFile(tmp, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// TestCertificateFilesReload: a renewed certificate file is served without a
// restart; a broken or already expired replacement is refused and logged,
// and the previous certificate keeps serving.
func TestCertificateFilesReload(t *testing.T) {
	dir := t.TempDir()
	c1, k1 := selfSignedUntil(t, 1, time.Now().Add(time.Hour))
	writeFile(t, dir, "cert.pem", string(c1))
	writeFile(t, dir, "key.pem", string(k1))
	writeTLSConfig(t, dir)
	addr, logs, _ := runConfig(t, dir)
	if s, _ := servedSerial(t, addr); s.Int64() != 1 {
		t.Fatalf("serving serial %v, want 1", s)
	}

	c2, k2 := selfSignedUntil(t, 2, time.Now().Add(2*time.Hour))
	replaceFile(t, dir, "key.pem", k2)
	replaceFile(t, dir, "cert.pem", c2)
	waitFor(t, "the renewed certificate", func() bool { s, _ := servedSerial(t, addr); return s.Int64() == 2 })

	replaceFile(t, dir, "cert.pem", []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"))
	waitFor(t, "the broken file to be refused", func() bool { return strings.Contains(logs.String(), "TLS certificate reload refused") })
	if s, _ := servedSerial(t, addr); s.Int64() != 2 {
		t.Fatalf("after a broken file: serving serial %v, want 2", s)
	}

	// A key that does not match the certificate is refused too.
	_, k3 := selfSignedUntil(t, 3, time.Now().Add(time.Hour))
	before := strings.Count(logs.String(), "TLS certificate reload refused")
	replaceFile(t, dir, "cert.pem", c2)
	replaceFile(t, dir, "key.pem", k3)
	waitFor(t, "the mismatched key to be refused", func() bool {
		return strings.Count(logs.String(), "TLS certificate reload refused") > before
	})
	if s, _ := servedSerial(t, addr); s.Int64() != 2 {
		t.Fatalf("after a mismatched key: serving serial %v, want 2", s)
	}

	// An expired replacement for a valid certificate is refused.
	c4, k4 := selfSignedUntil(t, 4, time.Now().Add(-time.Minute))
	before = strings.Count(logs.String(), "expired at")
	replaceFile(t, dir, "key.pem", k4)
	replaceFile(t, dir, "cert.pem", c4)
	waitFor(t, "the expired file to be refused", func() bool { return strings.Count(logs.String(), "expired at") > before })
	if s, _ := servedSerial(t, addr); s.Int64() != 2 {
		t.Fatalf("after an expired file: serving serial %v, want 2", s)
	}
}

// TestServeExpiredCertificate: fedgate starts with an expired certificate file
// and serves it (refusing to start would take every replica down at once);
// it logs an error naming the file and the expiry, and the expiry metric
// shows it. A browser sees its certificate warning; a verifying client
// refuses the connection. Replacing the file fixes it without a restart.
func TestServeExpiredCertificate(t *testing.T) {
	dir := t.TempDir()
	expired := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	c1, k1 := selfSignedUntil(t, 7, expired)
	writeFile(t, dir, "cert.pem", string(c1))
	writeFile(t, dir, "key.pem", string(k1))
	writeTLSConfig(t, dir)
	addr, logs, _ := runConfig(t, dir)
	if !strings.Contains(logs.String(), "TLS certificate has expired") || !strings.Contains(logs.String(), "cert.pem") {
		t.Fatalf("no error log naming the expired certificate:\n%s", logs)
	}
	if _, na := servedSerial(t, addr); !na.Equal(expired) {
		t.Fatalf("served not_after %v, want the expired %v", na, expired)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c1)
	_, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	var invalid x509.CertificateInvalidError
	if err == nil || !errors.As(err, &invalid) || invalid.Reason != x509.Expired {
		t.Fatalf("a verifying client connected or failed otherwise: %v", err)
	}
	// Without admin_listen, /metrics is on the main listener.
	insecure := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	r, err := insecure.Get("https://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if got := metricValue(string(body), "fedgate_tls_certificate_not_after_timestamp_seconds"); got != float64(expired.Unix()) {
		t.Fatalf("expiry metric %v, want %d", got, expired.Unix())
	}

	c2, k2 := selfSignedUntil(t, 8, time.Now().Add(time.Hour))
	replaceFile(t, dir, "key.pem", k2)
	replaceFile(t, dir, "cert.pem", c2)
	waitFor(t, "the replacement certificate", func() bool { s, _ := servedSerial(t, addr); return s.Int64() == 8 })
}

// metricValue is the value of an unlabelled metric in a Prometheus text page
// (NaN if absent).
func metricValue(page, name string) float64 {
	for _, line := range strings.Split(page, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return math.NaN()
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	return selfSignedUntil(t, 1, time.Now().Add(time.Hour))
}

// selfSignedUntil makes a P-256 certificate for 127.0.0.1 with this serial
// number, valid from a day before notAfter (or an hour ago) until notAfter.
func selfSignedUntil(t *testing.T, serial int64, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	notBefore := time.Now().Add(-time.Hour)
	if notBefore.After(notAfter) {
		notBefore = notAfter.Add(-24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: notBefore, NotAfter: notAfter,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
}

// TestACMEHosts: the names fedgate orders certificates for are public_url's
// host and proxy apps' hosts, without ports or repeats; other apps' hosts
// (forward_auth hosts are served by another proxy) are not.
func TestACMEHosts(t *testing.T) {
	cfg := &config.Config{Server: config.Server{PublicURL: "https://sso.example.co.jp:8443/base"}, Apps: []config.App{
		{ID: "a", Type: "proxy", Host: "wiki.example.co.jp"},
		{ID: "b", Type: "proxy", Host: "wiki.example.co.jp:443"},
		{ID: "c", Type: "forward_auth", Host: "fa.example.co.jp"},
		{ID: "d", Type: "proxy", Host: "sso.example.co.jp"},
		{ID: "e", Type: "whoami"},
	}}
	if got, want := acmeHosts(cfg), []string{"sso.example.co.jp", "wiki.example.co.jp"}; !slices.Equal(got, want) {
		t.Fatalf("acmeHosts = %q, want %q", got, want)
	}
}
