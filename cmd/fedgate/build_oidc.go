package main

import (
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/oidc"
)

// buildOIDC decodes and validates a `type: oidc` upstream. It never touches
// the network: an IdP that is down only makes the upstream unavailable.
func buildOIDC(b config.Block, d buildDeps) (protocols.Upstream, []string, error) {
	var cfg oidc.Config
	if err := b.Decode(&cfg); err != nil {
		return nil, nil, err
	}
	if err := cfg.Validate(); err != nil {
		var errs []error
		for _, e := range flatten(err) {
			errs = append(errs, b.Pos("upstream %q: %v", b.ID, e))
		}
		return nil, nil, errors.Join(errs...)
	}
	u, err := oidc.Open(cfg, oidc.Deps{HTTPClient: oidcHTTPClient(d.Timeout), Logger: d.Logger.With("upstream", b.ID)})
	if err != nil {
		return nil, nil, b.Pos("upstream %q: %v", b.ID, err)
	}
	return u, nil, nil
}

// oidcHTTPClient talks to IdPs (discovery, JWKS, token): every phase is
// bounded and a whole request takes at most timeout.
func oidcHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: timeout,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   4,
			ForceAttemptHTTP2:     true,
		},
	}
}
