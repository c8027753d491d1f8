package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker"
	"github.com/fedgate/fedgate/broker/certs"
	"github.com/fedgate/fedgate/broker/keys"
	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/config"
	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
)

// pebble is Let's Encrypt's test CA, in-process. Its front end listens before
// fedgate starts (fedgate needs the directory URL), but the validation
// authority needs fedgate's challenge ports, so requests wait until start
// has them.
type pebble struct {
	URL    string
	ca     *ca.CAImpl
	ready  chan struct{}
	h      http.Handler
	server *http.Server
	orders atomic.Int32 // new-order requests seen
}

// newPebble serves a directory at URL over TLS with a certificate trusted by
// caPEM (returned for fedgate's acme.ca_file).
func newPebble(t *testing.T) (p *pebble, caPEM []byte) {
	t.Helper()
	// No random validation sleeps, no deliberately rejected nonces.
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	certPEM, keyPEM := selfSignedUntil(t, 99, time.Now().Add(time.Hour))
	kp, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p = &pebble{URL: "https://" + ln.Addr().String() + wfe.DirectoryPath, ready: make(chan struct{})}
	p.server = &http.Server{Handler: http.HandlerFunc(p.serve), TLSConfig: &tls.Config{Certificates: []tls.Certificate{kp}},
		ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = p.server.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = p.server.Close() })
	return p, certPEM
}

func (p *pebble) serve(w http.ResponseWriter, r *http.Request) {
	select {
	case <-p.ready:
		if r.Method == http.MethodPost && r.URL.Path == "/order-plz" {
			p.orders.Add(1)
		}
		p.h.ServeHTTP(w, r)
	case <-time.After(10 * time.Second):
		http.Error(w, "pebble not started", http.StatusServiceUnavailable)
	}
}

// start builds the CA with certificates valid for validity, validating
// HTTP-01 on httpPort and TLS-ALPN-01 on tlsPort of 127.0.0.1.
func (p *pebble) start(t *testing.T, validity time.Duration, httpPort, tlsPort int) {
	logger := log.New(testWriter{t}, "pebble ", 0)
	store := db.NewMemoryStore()
	p.ca = ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{
		"default": {Description: "test", ValidityPeriod: uint64(validity / time.Second)},
	})
	v := va.New(logger, httpPort, tlsPort, false, "", store)
	// Retry-After of 1 s for authorizations and orders: the client polls fast.
	front := wfe.New(logger, store, v, p.ca, []string{"pebble.letsencrypt.org"}, false, false, 1, 1)
	p.h = front.Handler()
	close(p.ready)
}

// roots is the pool of pebble's issuing root, for clients of fedgate.
func (p *pebble) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.GetRootCert(0).Cert)
	return pool
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

var acmeHTTPListen = regexp.MustCompile(`ACME HTTP-01 and https redirect serving.*?listen=127\.0\.0\.1:(\d+)`)

// runACMEFedgate runs fedgate with docs/tls.md's ACME snippet against a new
// Pebble issuing certificates valid for validity, offering only challenge.
// served is the certificate a client trusting only Pebble's root sees (nil
// if the handshake fails).
func runACMEFedgate(t *testing.T, challenge string, validity time.Duration) (p *pebble, addr, httpPort string, logs *lockedBuffer, served func() *x509.Certificate) {
	t.Helper()
	p, caPEM := newPebble(t)
	dir := t.TempDir()
	writeFile(t, dir, "pebble-ca.pem", string(caPEM))
	writeFile(t, dir, "users.yaml", "users: []\n")
	server := fileSnippet(t, "docs/tls.md", "<!-- acme snippet:",
		"https://sso.example.co.jp", "https://127.0.0.1",
		`":443"`, "127.0.0.1:0",
		"email: ops@example.co.jp", "email: ops@example.co.jp\n      directory_url: "+p.URL+
			"\n      ca_file: pebble-ca.pem\n      challenges: ["+challenge+"]\n      http_listen: 127.0.0.1:0")
	writeFile(t, dir, "fedgate.yaml", server+`
log: { format: text }
data_dir: data
store: { memory: true }
audit: { file: audit.jsonl }
upstreams: [{ id: local, type: local, users_file: users.yaml }]
`)
	addr, logs, _ = runConfig(t, dir)
	waitFor(t, "the HTTP-01 listener", func() bool {
		m := acmeHTTPListen.FindStringSubmatch(logs.String())
		if m != nil {
			httpPort = m[1]
		}
		return m != nil
	})
	_, tlsPort, _ := net.SplitHostPort(addr)
	hp, _ := strconv.Atoi(httpPort)
	tp, _ := strconv.Atoi(tlsPort)
	p.start(t, validity, hp, tp)
	served = func() *x509.Certificate {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.roots(), ServerName: "127.0.0.1"})
		if err != nil {
			return nil
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0]
	}
	return p, addr, httpPort, logs, served
}

// TestACMEObtainServeRenew: fedgate orders a certificate for public_url's
// host from Pebble over HTTP-01, serves it (a client trusting only Pebble's
// root verifies it), and renews it before it expires.
func TestACMEObtainServeRenew(t *testing.T) {
	defer func(d time.Duration) { renewCheck = d }(renewCheck)
	renewCheck = time.Second
	// 30 s certificates: renewed in their last third, so within ~20 s.
	p, addr, httpPort, logs, served := runACMEFedgate(t, "http-01", 30*time.Second)
	var first *x509.Certificate
	waitForLong(t, "a certificate from Pebble", 30*time.Second, func() bool { first = served(); return first != nil })
	if len(first.IPAddresses) != 1 || !first.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) {
		t.Fatalf("certificate for %v, want 127.0.0.1", first.IPAddresses)
	}
	// HTTP over the verified certificate works end to end.
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.roots()}}}
	r, err := c.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	// The HTTP-01 port sends browsers to https.
	nr := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if r, err := nr.Get("http://127.0.0.1:" + httpPort + "/some/page?x=1"); err != nil || r.StatusCode != 301 || r.Header.Get("Location") != "https://127.0.0.1/some/page?x=1" {
		t.Fatalf("http port: %v %v", r, err)
	}

	var renewed *x509.Certificate
	waitForLong(t, "the renewed certificate", 40*time.Second, func() bool {
		renewed = served()
		return renewed != nil && renewed.SerialNumber.Cmp(first.SerialNumber) != 0
	})
	if !renewed.NotAfter.After(first.NotAfter) {
		t.Fatalf("renewed certificate ends %v, not after the first's %v", renewed.NotAfter, first.NotAfter)
	}
	// certmagic's zap logs come out through fedgate's slog handler.
	if !strings.Contains(logs.String(), "certificate obtained successfully") {
		t.Fatalf("no certmagic log line through slog:\n%s", logs)
	}
}

func waitForLong(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestACMEEABSnippet: docs/tls.md's commercial-CA example passes `fedgate
// check` with the HMAC key from the environment, and fails without it.
func TestACMEEABSnippet(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "users.yaml", "users: []\n")
	writeFile(t, dir, "fedgate.yaml", fileSnippet(t, "docs/tls.md", "<!-- eab snippet:")+`
data_dir: data
upstreams: [{ id: local, type: local, users_file: users.yaml }]
`)
	cfg := filepath.Join(dir, "fedgate.yaml")
	if code, _, stderr := runCLI("check", "--config", cfg); code != 1 || !strings.Contains(stderr, "ACME_EAB_HMAC is not set") {
		t.Fatalf("without ACME_EAB_HMAC: exit %d\n%s", code, stderr)
	}
	t.Setenv("ACME_EAB_HMAC", "c2VjcmV0LWhtYWMta2V5")
	if code, stdout, stderr := runCLI("check", "--config", cfg); code != 0 {
		t.Fatalf("check: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestACMEFleetOrdersOnce: two replicas on one store manage the same name;
// Pebble sees one order, the HTTP-01 challenge is answered by whichever
// replica the CA reaches (the token is in the shared store), and both serve
// the one certificate.
func TestACMEFleetOrdersOnce(t *testing.T) {
	p, caPEM := newPebble(t)
	dir := t.TempDir()
	writeFile(t, dir, "ca.pem", string(caPEM))
	st := store.NewMemory(nil)
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.ACME{DirectoryURL: p.URL, Email: "ops@fedgate.test", CAFile: filepath.Join(dir, "ca.pem"), Challenges: []string{"http-01"}}
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	ck, err := keys.GenerateCookieKey()
	if err != nil {
		t.Fatal(err)
	}
	seal, err := broker.NewStoreSealer([]keys.CookieKey{ck}) // the fleet's one set of cookie keys
	if err != nil {
		t.Fatal(err)
	}
	var replicas []*certs.ACME
	for range 2 {
		a, err := certs.NewACME(cfg, certs.ACMEOptions{Store: st, Sealer: seal, Logger: logger, HTTPPort: port(httpLn), TLSPort: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Stop)
		replicas = append(replicas, a)
	}
	// The CA's HTTP-01 request reaches the second replica only.
	hs := &http.Server{Handler: replicas[1].HTTPHandler()}
	go func() { _ = hs.Serve(httpLn) }()
	t.Cleanup(func() { _ = hs.Close() })
	p.start(t, time.Hour, port(httpLn), 1)
	ctx := context.Background()
	for _, a := range replicas {
		if err := a.Manage(ctx, []string{"127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
	}
	serials := make([]string, len(replicas))
	for i, a := range replicas {
		ln, err := tls.Listen("tcp", "127.0.0.1:0", a.TLSConfig())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}
		}()
		waitForLong(t, "replica's certificate", 30*time.Second, func() bool {
			conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: p.roots(), ServerName: "127.0.0.1"})
			if err != nil {
				return false
			}
			defer conn.Close()
			serials[i] = conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
			return true
		})
	}
	if serials[0] != serials[1] {
		t.Fatalf("replicas serve different certificates %v: both ordered", serials)
	}
	if n := p.orders.Load(); n != 1 {
		t.Fatalf("Pebble saw %d orders, want 1", n)
	}
	// Whoever reads the store gets no private key: not the certificate's,
	// not the ACME account's.
	names, err := certs.NewStorage(st, seal, logger).List(ctx, "", true)
	if err != nil {
		t.Fatal(err)
	}
	var sealed int
	for _, name := range names {
		raw, err := st.Get(ctx, "acme:v:"+name)
		if err != nil || strings.Contains(string(raw), "PRIVATE KEY") {
			t.Errorf("%s in the store: %v, a PEM private key: %v", name, err, err == nil)
		}
		if strings.HasSuffix(name, ".key") {
			sealed++
		}
	}
	if sealed != 2 {
		t.Errorf("private keys in %q: %d, want the certificate's and the account's", names, sealed)
	}
}

// TestACMETLSALPN: with only TLS-ALPN-01 offered, the challenge is answered
// on fedgate's HTTPS listener itself and the certificate is obtained.
func TestACMETLSALPN(t *testing.T) {
	_, _, _, logs, served := runACMEFedgate(t, "tls-alpn-01", time.Hour)
	waitForLong(t, "a certificate from Pebble over TLS-ALPN-01", 30*time.Second, func() bool { return served() != nil })
	if !strings.Contains(logs.String(), "tls-alpn-01") {
		t.Fatalf("no tls-alpn-01 challenge in the logs:\n%s", logs)
	}
}
