package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/fedgate/fedgate/protocols"
)

// Deps are what an upstream needs from outside.
type Deps struct {
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
}

// Upstream is one OpenID Provider. It is safe for concurrent use and starts
// no goroutines: discovery is fetched on first use and refreshed lazily.
type Upstream struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	m      mapping
	step   StepUp
	ev     MFAEvidence

	mu        sync.Mutex
	disc      *discovery // last good discovery, nil before the first
	lastTry   time.Time
	lastErr   error
	refreshMu sync.Mutex // one discovery fetch at a time
}

var (
	_ protocols.RedirectAuthenticator = (*Upstream)(nil)
	_ protocols.MFARequester          = (*Upstream)(nil)
)

// discovery is what fedgate uses of the provider metadata.
type discovery struct {
	Issuer       string `json:"issuer"`
	AuthURL      string `json:"authorization_endpoint"`
	TokenURL     string `json:"token_endpoint"`
	JWKSURL      string `json:"jwks_uri"`
	ISSParameter bool   `json:"authorization_response_iss_parameter_supported"`
	// AccessTokenIssuer is ADFS's issuer of access tokens.
	AccessTokenIssuer string `json:"access_token_issuer"`

	fetched time.Time
	keys    *oidc.RemoteKeySet
}

// retryAfter bounds how often a failing discovery is tried again, so that
// /readyz and the chooser do not hammer a down IdP.
const retryAfter = 5 * time.Second

// Open builds the upstream from a validated config. It does not touch the
// network: an IdP that is down when fedgate starts only makes this upstream
// unavailable until it answers.
func Open(cfg Config, deps Deps) (*Upstream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.HTTPClient == nil {
		deps.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	return &Upstream{cfg: cfg, client: deps.HTTPClient, log: deps.Logger.With("upstream", cfg.ID), now: deps.Now,
		m: cfg.mapping(), step: cfg.stepUp(), ev: cfg.evidence()}, nil
}

// ID is the upstream's config id.
func (u *Upstream) ID() string { return u.cfg.ID }

// Ready is nil once discovery has succeeded; until then (or while a stale
// discovery cannot be refreshed and none was ever fetched) it wraps
// protocols.ErrUnavailable.
func (u *Upstream) Ready(ctx context.Context) error {
	_, err := u.discovery(ctx)
	return err
}

// RedirectOrigins are the origins Begin sends browsers to (the issuer's;
// ADFS and Entra ID serve their authorization endpoints there), for the
// broker's CSP form-action: browsers apply it to the redirect that follows
// the home-realm discovery form.
func (u *Upstream) RedirectOrigins() []string {
	p, err := url.Parse(u.cfg.issuer())
	if err != nil || p.Host == "" {
		return nil
	}
	return []string{p.Scheme + "://" + p.Host}
}

// CanRequestMFA reports whether a step-up demand is configured.
func (u *Upstream) CanRequestMFA() bool {
	s := u.step
	return s.AMRValues != "" || s.ACRValues != "" || s.AuthContext != ""
}

// discovery returns the cached discovery, refreshing it when older than
// the TTL. A failed refresh keeps serving the previous discovery; with none
// at all, the error wraps protocols.ErrUnavailable.
func (u *Upstream) discovery(ctx context.Context) (*discovery, error) {
	u.mu.Lock()
	d, lastTry, lastErr := u.disc, u.lastTry, u.lastErr
	u.mu.Unlock()
	now := u.now()
	if d != nil && now.Sub(d.fetched) < u.cfg.ttl() {
		return d, nil
	}
	if lastErr != nil && now.Sub(lastTry) < retryAfter {
		if d != nil {
			return d, nil
		}
		return nil, lastErr
	}
	u.refreshMu.Lock()
	defer u.refreshMu.Unlock()
	u.mu.Lock()
	if u.disc != d || (u.lastErr != nil && u.lastTry.After(lastTry)) {
		// Another caller refreshed while we waited.
		d, err := u.disc, u.lastErr
		u.mu.Unlock()
		if d != nil {
			return d, nil
		}
		return nil, err
	}
	u.mu.Unlock()

	// Not the caller's context: a browser that gives up must not mark the
	// upstream as down for everyone.
	fresh, err := u.fetchDiscovery(context.WithoutCancel(ctx))
	u.mu.Lock()
	defer u.mu.Unlock()
	u.lastTry = u.now()
	if err != nil {
		u.lastErr = fmt.Errorf("oidc: %s: discovery: %w: %w", u.cfg.ID, protocols.ErrUnavailable, err)
		if d != nil {
			u.log.WarnContext(ctx, "oidc discovery refresh failed; using the previous one", "error", err)
			return d, nil
		}
		u.log.WarnContext(ctx, "oidc discovery failed; upstream unavailable", "error", err)
		return nil, u.lastErr
	}
	if d != nil && d.JWKSURL == fresh.JWKSURL {
		fresh.keys = d.keys // keep the cached keys; unknown kids still refetch
	} else {
		fresh.keys = oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), u.client), fresh.JWKSURL)
	}
	u.disc, u.lastErr = fresh, nil
	return fresh, nil
}

// fetchDiscovery reads and checks the provider metadata (bounded to 5 s,
// whatever the caller's context).
func (u *Upstream) fetchDiscovery(ctx context.Context) (*discovery, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	iss := u.cfg.issuer()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, iss+"/.well-known/openid-configuration", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := u.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", req.URL.Redacted(), resp.Status)
	}
	var d discovery
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, fmt.Errorf("metadata is not JSON: %w", err)
	}
	want := iss
	if u.cfg.multiTenant() {
		want = tenantTemplate(iss, u.cfg.Tenant)
	}
	if d.Issuer != want {
		return nil, fmt.Errorf("metadata issuer %q is not the configured %q", d.Issuer, want)
	}
	for name, v := range map[string]string{"authorization_endpoint": d.AuthURL, "token_endpoint": d.TokenURL, "jwks_uri": d.JWKSURL} {
		p, err := url.Parse(v)
		if v == "" || err != nil || p.Host == "" || (p.Scheme != "https" && !loopback(p)) {
			return nil, fmt.Errorf("metadata %s %q is not an https URL", name, v)
		}
	}
	if u.cfg.preset() == PresetADFS && d.AccessTokenIssuer == "" {
		// ADFS: https://fs/adfs issues ID tokens, http://fs/adfs/services/trust access tokens.
		if p, err := url.Parse(iss); err == nil {
			d.AccessTokenIssuer = "http://" + p.Host + "/adfs/services/trust"
		}
	}
	d.fetched = u.now()
	return &d, nil
}

// tenantTemplate replaces the tenant path segment of an Entra issuer with
// the literal {tenantid} that multi-tenant discovery returns.
func tenantTemplate(iss, tenant string) string {
	return strings.Replace(iss, "/"+tenant+"/", "/{tenantid}/", 1)
}

// unavailable wraps a transport failure.
func (u *Upstream) unavailable(what string, err error) error {
	return fmt.Errorf("oidc: %s: %s: %w: %w", u.cfg.ID, what, protocols.ErrUnavailable, err)
}

// rejected is a failed check on the answer.
func (u *Upstream) rejected(check protocols.Check, format string, args ...any) error {
	return fmt.Errorf("oidc: %s: %w", u.cfg.ID, protocols.Rejectf(check, format, args...))
}

var errNoIDToken = errors.New("token response has no id_token")
