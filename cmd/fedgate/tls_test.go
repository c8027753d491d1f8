package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// TestServesTLSWithHTTP2: with a certificate configured, fedgate speaks TLS,
// offers HTTP/2, and sends HSTS; plain HTTP on that port is refused.
func TestServesTLSWithHTTP2(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	writeFile(t, dir, "cert.pem", string(certPEM))
	writeFile(t, dir, "key.pem", string(keyPEM))
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
	ctx, cancel := context.WithCancel(context.Background())
	addrc, done := make(chan net.Addr, 1), make(chan error, 1)
	go func() {
		done <- runServer(ctx, filepath.Join(dir, "fedgate.yaml"), &lockedBuffer{}, func(a net.Addr) { addrc <- a })
	}()
	defer func() { cancel(); <-done }()
	addr := (<-addrc).String()
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

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
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
