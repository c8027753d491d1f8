package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/fedgate/fedgate/broker"
	"github.com/fedgate/fedgate/broker/certs"
	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/config"
)

// tlsServing is the HTTPS listener's certificate source and, with ACME, the
// plain-HTTP server answering HTTP-01 challenges.
type tlsServing struct {
	config *tls.Config
	acme   *certs.ACME
	http   *http.Server
	httpLn net.Listener
	// managed are the names given to ACME so far (only reloadLoop touches it).
	managed []string
}

// renewCheck is how often ACME certificates are checked for renewal; tests
// shorten it.
var renewCheck time.Duration

// startTLS builds the certificate source for cfg: files (watched and
// reloaded) or ACME for public_url's host and every proxy app host, its
// private keys sealed by seal.
func startTLS(ctx context.Context, cfg *config.Config, st store.Store, seal certs.Sealer, logger *slog.Logger, m *broker.Metrics, ln net.Listener) (*tlsServing, error) {
	t := cfg.Server.TLS
	if t.ACME == nil {
		f, err := certs.LoadFiles(t.CertFile, t.KeyFile, logger, m.TLSCertificate)
		if err != nil {
			return nil, err
		}
		if err := f.Watch(ctx, 300*time.Millisecond); err != nil {
			logger.Warn("certificate file watching disabled; restart to load a new certificate", "err", err)
		}
		return &tlsServing{config: &tls.Config{GetCertificate: f.GetCertificate, MinVersion: tls.VersionTLS12}}, nil
	}
	httpLn, err := net.Listen("tcp", t.ACME.HTTPListen)
	if err != nil {
		return nil, fmt.Errorf("acme http_listen: %w", err)
	}
	a, err := certs.NewACME(t.ACME, certs.ACMEOptions{
		Store: st, Sealer: seal, Logger: logger, HTTPPort: port(httpLn), TLSPort: port(ln), RenewCheck: renewCheck,
	})
	if err != nil {
		httpLn.Close()
		return nil, err
	}
	tc := a.TLSConfig()
	tc.MinVersion = tls.VersionTLS12
	to := cfg.Server.Timeouts
	hs := &http.Server{Handler: a.HTTPHandler(), ReadHeaderTimeout: to.ReadHeader, ReadTimeout: to.Read,
		WriteTimeout: to.Write, IdleTimeout: to.Idle, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	ts := &tlsServing{config: tc, acme: a, http: hs, httpLn: httpLn}
	if err := ts.manageHosts(ctx, cfg); err != nil {
		a.Stop()
		httpLn.Close()
		return nil, err
	}
	return ts, nil
}

// acmeHosts are the names fedgate answers for: public_url's host and every
// proxy app's host and the device-certificate host (without ports).
func acmeHosts(cfg *config.Config) []string {
	var hosts []string
	add := func(hostport string) {
		h := hostport
		if hh, _, err := net.SplitHostPort(hostport); err == nil {
			h = hh
		}
		if h != "" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	if u, err := url.Parse(cfg.Server.PublicURL); err == nil {
		add(u.Host)
	}
	for _, app := range cfg.Apps {
		if app.Type == "proxy" {
			add(app.Host)
		}
	}
	add(cfg.Server.CertHost)
	return hosts
}

// manageHosts hands ACME the names it does not manage yet; on reload, a new
// proxy app gets a certificate. A removed app's name stays managed (and
// renewed) until the next restart.
func (t *tlsServing) manageHosts(ctx context.Context, cfg *config.Config) error {
	if t == nil || t.acme == nil {
		return nil
	}
	var added []string
	for _, h := range acmeHosts(cfg) {
		if !slices.Contains(t.managed, h) {
			added = append(added, h)
		}
	}
	if len(added) == 0 {
		return nil
	}
	if err := t.acme.Manage(ctx, added); err != nil {
		return err
	}
	t.managed = append(t.managed, added...)
	return nil
}

func port(ln net.Listener) int {
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	n, _ := strconv.Atoi(p)
	return n
}
