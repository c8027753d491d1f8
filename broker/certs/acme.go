package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"

	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/config"
)

// ACME obtains and renews certificates from an ACME CA with certmagic.
type ACME struct {
	magic  *certmagic.Config
	issuer *certmagic.ACMEIssuer
	cache  *certmagic.Cache
}

// ACMEOptions are what ACME needs besides the config block.
type ACMEOptions struct {
	Store  store.Store
	Logger *slog.Logger
	// Sealer seals the private keys kept in Store.
	Sealer Sealer
	// HTTPPort and TLSPort are the ports fedgate listens on for HTTP-01
	// (acme.http_listen) and TLS-ALPN-01 (server.listen). certmagic finds
	// them taken and so answers challenges through our listeners.
	HTTPPort, TLSPort int
	// RenewCheck is how often certificates are checked for renewal
	// (certmagic's default, 10 minutes, when zero).
	RenewCheck time.Duration
	// RenewalWindow is the fraction of a certificate's lifetime before its
	// expiry when it is renewed (certmagic's default, 1/3, when zero).
	RenewalWindow float64
}

// NewACME prepares certificate management; Manage starts it.
func NewACME(c *config.ACME, o ACMEOptions) (*ACME, error) {
	logger := o.Logger.With("component", "acme")
	zl := zapLogger(logger)
	a := &ACME{}
	a.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return a.magic, nil },
		RenewCheckInterval: o.RenewCheck,
		Logger:             zl,
	})
	a.magic = certmagic.New(a.cache, certmagic.Config{
		Storage: NewStorage(o.Store, o.Sealer, logger), Logger: zl, RenewalWindowRatio: o.RenewalWindow,
	})
	tmpl := certmagic.ACMEIssuer{
		CA: c.DirectoryURL, Email: c.Email, Agreed: true, Logger: zl,
		DisableHTTPChallenge:    !slices.Contains(c.Challenges, "http-01"),
		DisableTLSALPNChallenge: !slices.Contains(c.Challenges, "tls-alpn-01"),
		AltHTTPPort:             o.HTTPPort, AltTLSALPNPort: o.TLSPort,
	}
	if e := c.EAB; e != nil {
		tmpl.ExternalAccount = &acme.EAB{KeyID: e.KeyID, MACKey: e.HMACKey.Value()}
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("acme ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("acme ca_file %s: no PEM certificate in it", c.CAFile)
		}
		tmpl.TrustedRoots = pool
	}
	a.issuer = certmagic.NewACMEIssuer(a.magic, tmpl)
	a.magic.Issuers = []certmagic.Issuer{a.issuer}
	return a, nil
}

// Manage obtains (in the background) and keeps renewed certificates for
// hosts. Calling it again with a longer list (a reload added a proxy app)
// adds the new names; names already managed are left alone.
func (a *ACME) Manage(ctx context.Context, hosts []string) error {
	return a.magic.ManageAsync(ctx, hosts)
}

// TLSConfig serves the managed certificates and answers TLS-ALPN-01.
func (a *ACME) TLSConfig() *tls.Config {
	tc := a.magic.TLSConfig()
	tc.NextProtos = append([]string{"h2", "http/1.1"}, tc.NextProtos...)
	return tc
}

// HTTPHandler answers HTTP-01 challenges (also those another replica started:
// the tokens are in the shared store) and sends everything else to https.
func (a *ACME) HTTPHandler() http.Handler {
	return a.issuer.HTTPChallengeHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "use https", http.StatusBadRequest)
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusMovedPermanently)
	}))
}

// Stop ends renewal.
func (a *ACME) Stop() { a.cache.Stop() }
