// Package saml is fedgate's SAML 2.0 Identity Provider: SP-initiated SSO
// (AuthnRequest by HTTP-Redirect or HTTP-POST), IdP-initiated SSO, and
// Responses by HTTP-POST, signed with fedgate's signing key, for the SPs of
// `type: saml` apps. Each step of a request is a small function: decode the
// binding, parse defensively (xmlsig.Parse), find the SP, verify the
// signature (and read only the verified element), check the request, then
// ask the broker for the session and answer.
package saml

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/assertion"
	"github.com/fedgate/fedgate/protocols/internal/preset"
)

// Config is the IdP: fedgate's public URL and its SPs.
type Config struct {
	// PublicURL is fedgate's base URL; endpoints hang under it.
	PublicURL string
	// Issuer is the IdP's entity id (default PublicURL + /saml/metadata).
	Issuer string
	// SSOPath is the SSO endpoint metadata publishes (default /saml/sso;
	// /adfs/ls/ under compat: adfs, where the broker routes it).
	SSOPath string
	SPs     []SPEntry
}

// SPEntry is one app's SP.
type SPEntry struct {
	App string
	SPConfig
}

// Deps are the IdP's collaborators. Keys: the active signing key first;
// Next keys are only published in metadata.
type Deps struct {
	Keys   []protocols.SigningKey
	Logger *slog.Logger
	Now    func() time.Time
	// NewID makes response and assertion ids (default: random).
	NewID func() string
	// Rand is the randomness of assertion encryption (default
	// crypto/rand.Reader; tests fix it).
	Rand io.Reader
}

// SPError is a problem with one app's saml: block.
type SPError struct {
	App string
	Err error
}

func (e *SPError) Error() string { return fmt.Sprintf("app %q: %v", e.App, e.Err) }
func (e *SPError) Unwrap() error { return e.Err }

// IdP is fedgate's SAML IdP for one config snapshot.
type IdP struct {
	base, issuer string
	ssoPath      string
	sps          map[string]*sp
	byEntity     map[string][]*sp
	rand         io.Reader
	assertion.Core
}

var _ protocols.Downstream = (*IdP)(nil)

// DefaultIssuer is the IdP's entity id when none is configured: its
// metadata URL.
func DefaultIssuer(publicURL string) string { return strings.TrimRight(publicURL, "/") + MetadataPath }

// Open builds the IdP; problems are *SPError per app, joined.
func Open(cfg Config, d Deps) (*IdP, error) {
	p := &IdP{base: strings.TrimRight(cfg.PublicURL, "/"), sps: map[string]*sp{}, byEntity: map[string][]*sp{}, issuer: cfg.Issuer, ssoPath: cfg.SSOPath, rand: d.Rand}
	if p.issuer == "" {
		p.issuer = DefaultIssuer(cfg.PublicURL)
	}
	if p.ssoPath == "" {
		p.ssoPath = SSOPath
	}
	if p.rand == nil {
		p.rand = rand.Reader
	}
	var errs []error
	var err error
	if p.Core, err = assertion.NewCore(d.Keys, d.Logger, d.Now, d.NewID); err != nil {
		errs = append(errs, fmt.Errorf("saml: %w", err))
	}
	owners := preset.NewOwners("entity id")
	for _, e := range cfg.SPs {
		s, err := e.SPConfig.resolve(e.App)
		if err == nil && s.SHA1 && p.Signer(true) == nil {
			err = errors.New("sha1 needs an RSA signing key")
		}
		if err != nil {
			errs = append(errs, &SPError{App: e.App, Err: err})
			continue
		}
		if err := owners.Claim(e.App, s.EntityID, s.Preset, p.issuerFor(s)); err != nil {
			errs = append(errs, &SPError{App: e.App, Err: err})
			continue
		}
		p.sps[e.App] = s
		for _, id := range s.Accepted {
			p.byEntity[id] = append(p.byEntity[id], s)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// Mount serves the IdP's endpoints; sp is the broker.
func (p *IdP) Mount(mux *http.ServeMux, sp protocols.SessionProvider) {
	mux.HandleFunc("GET "+MetadataPath, func(w http.ResponseWriter, r *http.Request) { p.metadata(w, r, sp) })
	sso := func(w http.ResponseWriter, r *http.Request) { p.sso(w, r, sp) }
	mux.HandleFunc("GET "+SSOPath, sso)
	mux.HandleFunc("POST "+SSOPath, sso)
	mux.HandleFunc("GET "+SSOPath+"/{app}", sso)
	mux.HandleFunc("POST "+SSOPath+"/{app}", sso)
	mux.HandleFunc("GET "+ResumePath, func(w http.ResponseWriter, r *http.Request) { p.resume(w, r, sp) })
	slo := func(w http.ResponseWriter, r *http.Request) { p.slo(w, r, sp) }
	mux.HandleFunc("GET "+SLOPath, slo)
	mux.HandleFunc("POST "+SLOPath, slo)
	mux.HandleFunc("GET "+SLOPath+"/{app}", slo)
	mux.HandleFunc("POST "+SLOPath+"/{app}", slo)
	mux.HandleFunc("GET "+InitPath+"/{app}", func(w http.ResponseWriter, r *http.Request) { p.idpInit(w, r, sp) })
}

// Warnings are what `fedgate check` says of the SPs without refusing
// them (a Microsoft preset on an http:// public URL).
func (p *IdP) Warnings() []string {
	presets := map[string]string{}
	for app, s := range p.sps {
		presets[app] = s.Preset
	}
	return preset.Warnings(p.base, presets)
}

// Issuer is the IdP entity id an app's SP sees.
func (p *IdP) Issuer(app string) string {
	if s := p.sps[app]; s != nil {
		return p.issuerFor(s)
	}
	return p.issuer
}

func (p *IdP) issuerFor(s *sp) string {
	if s.Issuer != "" {
		return s.Issuer
	}
	return p.issuer
}

// spFor finds the SP a request comes from: by its Issuer, limited to the
// app named in the path when there is one. A primary entity id wins over
// an accepted alias (entra-b2b's legacy urn:federation:MicrosoftOnline).
func (p *IdP) spFor(issuer, app string) (*sp, error) {
	if app != "" {
		s := p.sps[app]
		if s == nil {
			return nil, errUnknownSP
		}
		if !s.accepts(issuer) {
			return nil, fmt.Errorf("%w: issuer %q is not app %q's entity id", errUnknownSP, issuer, app)
		}
		return s, nil
	}
	cands := p.byEntity[issuer]
	if primary := slices.DeleteFunc(slices.Clone(cands), func(s *sp) bool { return s.EntityID != issuer }); len(primary) > 0 {
		cands = primary // its own entity id before another app's alias
	}
	if len(cands) == 1 {
		return cands[0], nil
	}
	if len(cands) > 1 {
		return nil, fmt.Errorf("%w: issuer %q is shared by several apps: send the request to %s/<app>", errUnknownSP, issuer, SSOPath)
	}
	return nil, fmt.Errorf("%w: %q", errUnknownSP, issuer)
}
