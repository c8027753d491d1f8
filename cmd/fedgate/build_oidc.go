package main

import (
	"errors"
	"fmt"
	"io"
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
	if err := decodeUpstream(b, &cfg); err != nil {
		return nil, nil, err
	}
	u, err := oidc.Open(cfg, oidc.Deps{HTTPClient: oidcHTTPClient(d.Timeout), Logger: d.Logger.With("upstream", b.ID)})
	if err != nil {
		return nil, nil, b.Pos("upstream %q: %v", b.ID, err)
	}
	return u, nil, nil
}

// oidcHTTPClient talks to IdPs (discovery, JWKS, token): every phase is
// bounded and a whole request takes at most timeout; bodies are capped
// (JWKS is read by go-oidc without a limit), and redirects may neither
// change host nor downgrade to http.
func oidcHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: cappedBodies{&http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: timeout,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   4,
			ForceAttemptHTTP2:     true,
		}},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			prev := via[len(via)-1].URL
			if len(via) >= 3 || req.URL.Host != prev.Host || (prev.Scheme == "https" && req.URL.Scheme != "https") {
				return fmt.Errorf("oidc: refusing redirect from %s to %s", prev.Redacted(), req.URL.Redacted())
			}
			return nil
		},
	}
}

// maxIdPResponse bounds what an IdP may send (discovery, JWKS, tokens).
const maxIdPResponse = 1 << 20

type cappedBodies struct{ http.RoundTripper }

func (c cappedBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.RoundTripper.RoundTrip(r)
	if err == nil {
		resp.Body = &cappedBody{rc: resp.Body, left: maxIdPResponse}
	}
	return resp, err
}

// cappedBody fails a read past the limit instead of truncating silently.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.New("oidc: IdP response larger than 1 MiB")
	}
	if int64(len(p)) > b.left {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, errors.New("oidc: IdP response larger than 1 MiB")
	}
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }
