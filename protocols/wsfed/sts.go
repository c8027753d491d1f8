// Package wsfed is fedgate's WS-Federation passive Security Token Service:
// wsignin1.0 answered with an RSTR, form-posted to the relying party's
// registered reply URL, carrying a signed SAML 1.1 or SAML 2.0 assertion
// (per relying party); wsignout1.0 and wsignoutcleanup1.0; and federation
// metadata. It mirrors protocols/saml: decode, check each parameter, ask
// the broker for the session, answer.
package wsfed

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/assertion"
	"github.com/fedgate/fedgate/protocols/internal/page"
	"github.com/fedgate/fedgate/protocols/internal/preset"
)

// Endpoint paths.
const (
	Path         = "/wsfed"
	MetadataPath = "/FederationMetadata/2007-06/FederationMetadata.xml"
	ResumePath   = "/wsfed/resume"
)

// Config is the STS: fedgate's public URL and its relying parties.
type Config struct {
	PublicURL string
	// Issuer is the STS's default issuer (default PublicURL + /wsfed).
	Issuer string
	// PassivePath is the passive endpoint metadata publishes (default
	// /wsfed; /adfs/ls/ under compat: adfs, where the broker routes it).
	PassivePath string
	// SAMLPath, when set, adds a SAML IdP role to the metadata with its
	// sign-in and sign-out at that path: ADFS publishes both protocols in
	// one document, and SAML SPs that refresh it from the farm's URL must
	// keep finding theirs (compat: adfs, with SAML apps).
	SAMLPath string
	RPs      []RPEntry
}

// RPEntry is one app's relying party.
type RPEntry struct {
	App string
	RPConfig
}

// Deps: the active signing key first; Next keys only go into metadata.
type Deps struct {
	Keys   []protocols.SigningKey
	Logger *slog.Logger
	Now    func() time.Time
	NewID  func() string
}

// RPError is a problem with one app's wsfed: block.
type RPError struct {
	App string
	Err error
}

func (e *RPError) Error() string { return fmt.Sprintf("app %q: %v", e.App, e.Err) }
func (e *RPError) Unwrap() error { return e.Err }

// STS is the WS-Federation passive STS of one config snapshot.
type STS struct {
	base, issuer string
	passivePath  string
	samlPath     string
	rps          map[string]*rp
	byRealm      map[string][]*rp
	assertion.Core
}

var _ protocols.Downstream = (*STS)(nil)

// DefaultIssuer is the STS's issuer when none is configured.
func DefaultIssuer(publicURL string) string { return strings.TrimRight(publicURL, "/") + Path }

// Open builds the STS; problems are *RPError per app, joined.
func Open(cfg Config, d Deps) (*STS, error) {
	s := &STS{base: strings.TrimRight(cfg.PublicURL, "/"), issuer: cfg.Issuer, passivePath: cfg.PassivePath, samlPath: cfg.SAMLPath, rps: map[string]*rp{}, byRealm: map[string][]*rp{}}
	if s.issuer == "" {
		s.issuer = DefaultIssuer(cfg.PublicURL)
	}
	if s.passivePath == "" {
		s.passivePath = Path
	}
	var errs []error
	var err error
	if s.Core, err = assertion.NewCore(d.Keys, d.Logger, d.Now, d.NewID); err != nil {
		errs = append(errs, fmt.Errorf("wsfed: %w", err))
	}
	owners := preset.NewOwners("realm")
	for _, e := range cfg.RPs {
		r, err := e.RPConfig.resolve(e.App)
		if err == nil && r.SHA1 && s.Signer(true) == nil {
			err = errors.New("sha1 needs an RSA signing key")
		}
		if err != nil {
			errs = append(errs, &RPError{App: e.App, Err: err})
			continue
		}
		if err := owners.Claim(e.App, r.Realms[0], r.Preset, cmp.Or(r.Issuer, s.issuer)); err != nil {
			errs = append(errs, &RPError{App: e.App, Err: err})
			continue
		}
		s.rps[e.App] = r
		for _, realm := range r.Realms {
			s.byRealm[realm] = append(s.byRealm[realm], r)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// Mount serves the STS endpoints; sp is the broker.
func (s *STS) Mount(mux *http.ServeMux, sp protocols.SessionProvider) {
	h := func(w http.ResponseWriter, r *http.Request) { s.passive(w, r, sp) }
	mux.HandleFunc("GET "+Path, h)
	mux.HandleFunc("POST "+Path, h)
	mux.HandleFunc("GET "+Path+"/{app}", h)
	mux.HandleFunc("POST "+Path+"/{app}", h)
	mux.HandleFunc("GET "+ResumePath, func(w http.ResponseWriter, r *http.Request) { s.resume(w, r, sp) })
	mux.HandleFunc("GET "+MetadataPath, func(w http.ResponseWriter, r *http.Request) { s.metadata(w, r, sp) })
}

// Warnings are what `fedgate check` says of the relying parties without
// refusing them (a Microsoft preset on an http:// public URL).
func (s *STS) Warnings() []string {
	presets := map[string]string{}
	for app, r := range s.rps {
		presets[app] = r.Preset
	}
	return preset.Warnings(s.base, presets)
}

// Issuer is the issuer an app's RP sees.
func (s *STS) Issuer(app string) string {
	if r := s.rps[app]; r != nil && r.Issuer != "" {
		return r.Issuer
	}
	return s.issuer
}

// Limits on what a browser brings.
const (
	maxWctx  = 4096 // Entra's wctx carries its own state and is long
	maxParam = 2048
)

var (
	errUnknownRealm = errors.New("unknown realm")
	errUnknownApp   = errors.New("unknown app")
	errReply        = errors.New("wreply not registered")
	errAction       = errors.New("unsupported wa")
	errTooLong      = errors.New("parameter too long")
	errExpired      = errors.New("sign-in state expired")
)

func auditReason(err error) string {
	for _, e := range []error{errUnknownRealm, errReply, errAction, errTooLong, errExpired} {
		if errors.Is(err, e) {
			return strings.ReplaceAll(e.Error(), " ", "-")
		}
	}
	return "error"
}

// pending is a checked wsignin1.0, sealed into the resume URL.
type pending struct {
	App   string    `json:"a"`
	Realm string    `json:"r"`
	Reply string    `json:"u"`
	Ctx   string    `json:"c,omitempty"`
	Fresh time.Time `json:"f,omitzero"`
	MFA   bool      `json:"m,omitempty"`
	Hint  string    `json:"h,omitempty"`
}

const (
	sealPurpose = "wsfed-signin"
	resumeTTL   = 15 * time.Minute
)

// passive dispatches on wa.
func (s *STS) passive(w http.ResponseWriter, r *http.Request, sp protocols.SessionProvider) {
	if err := r.ParseForm(); err != nil {
		s.refuse(w, r, sp, "", fmt.Errorf("%w: %v", errTooLong, err))
		return
	}
	q := r.Form
	for _, k := range []string{"wa", "wtrealm", "wreply", "whr", "wauth", "wfresh", "username"} {
		if len(q.Get(k)) > maxParam {
			s.refuse(w, r, sp, "", fmt.Errorf("%w: %s", errTooLong, k))
			return
		}
	}
	if len(q.Get("wctx")) > maxWctx {
		s.refuse(w, r, sp, "", fmt.Errorf("%w: wctx", errTooLong))
		return
	}
	switch q.Get("wa") {
	case "wsignin1.0":
		p, err := s.checkSignIn(r, q.Get("wtrealm"), q.Get("wreply"), r.PathValue("app"))
		if err != nil {
			s.refuse(w, r, sp, r.PathValue("app"), err)
			return
		}
		p.Ctx = q.Get("wctx")
		// whr names a home realm (a domain or URI), not a user: it is a
		// hint only when it is an address.
		p.Hint = q.Get("username")
		if whr := q.Get("whr"); p.Hint == "" && strings.Contains(whr, "@") {
			p.Hint = whr
		}
		if f := q.Get("wfresh"); f != "" {
			// wfresh=0: authenticate again now (Entra's prompt=login); N:
			// at most N minutes ago. wauth never forces a method here:
			// policy decides between Kerberos, password and MFA.
			if n, err := strconv.Atoi(f); err == nil && n >= 0 {
				p.Fresh = s.Now().Add(-time.Duration(n) * time.Minute)
			}
		}
		p.MFA = q.Get("wauth") == preset.MethodMFA
		s.continueSignIn(w, r, sp, p)
	case "wsignout1.0", "wsignoutcleanup1.0":
		s.signOut(w, r, sp, q.Get("wa"), q.Get("wreply"))
	default:
		s.refuse(w, r, sp, r.PathValue("app"), fmt.Errorf("%w: %q", errAction, q.Get("wa")))
	}
}

// checkSignIn finds the RP by wtrealm and the reply URL.
func (s *STS) checkSignIn(r *http.Request, realm, reply, app string) (*pending, error) {
	rp, err := s.rpFor(realm, app)
	if err != nil {
		return nil, err
	}
	if reply == "" {
		reply = rp.Replies[0]
	} else if !slices.Contains(rp.Replies, reply) {
		return nil, &appError{rp.App, fmt.Errorf("%w: %q", errReply, reply)}
	}
	return &pending{App: rp.App, Realm: realm, Reply: reply}, nil
}

func (s *STS) rpFor(realm, app string) (*rp, error) {
	if app != "" {
		rp := s.rps[app]
		if rp == nil || !slices.Contains(rp.Realms, realm) {
			return nil, fmt.Errorf("%w: %q for app %q", errUnknownRealm, realm, app)
		}
		return rp, nil
	}
	cands := s.byRealm[realm]
	if primary := slices.DeleteFunc(slices.Clone(cands), func(r *rp) bool { return r.Realms[0] != realm }); len(primary) > 0 {
		cands = primary // its own realm before another app's alias
	}
	if len(cands) == 1 {
		return cands[0], nil
	}
	if len(cands) > 1 {
		return nil, fmt.Errorf("%w: %q is shared by several apps: use %s/<app>", errUnknownRealm, realm, Path)
	}
	return nil, fmt.Errorf("%w: %q", errUnknownRealm, realm)
}

type appError struct {
	app string
	err error
}

func (e *appError) Error() string { return e.err.Error() }
func (e *appError) Unwrap() error { return e.err }

func (s *STS) resume(w http.ResponseWriter, r *http.Request, sp protocols.SessionProvider) {
	var p pending
	if err := sp.Open(sealPurpose, r.URL.Query().Get("s"), &p); err != nil || s.rps[p.App] == nil {
		s.refuse(w, r, sp, p.App, fmt.Errorf("%w: %v", errExpired, err))
		return
	}
	s.continueSignIn(w, r, sp, &p)
}

// continueSignIn asks the broker for the session and posts the RSTR.
func (s *STS) continueSignIn(w http.ResponseWriter, r *http.Request, sp protocols.SessionProvider, p *pending) {
	rp := s.rps[p.App]
	sealed, err := sp.Seal(sealPurpose, p, resumeTTL)
	if err != nil {
		s.refuse(w, r, sp, p.App, err)
		return
	}
	id, handled, err := sp.Session(w, r, protocols.SessionRequest{App: p.App, FreshAfter: p.Fresh, MFA: p.MFA,
		LoginHint: p.Hint, Resume: ResumePath + "?s=" + url.QueryEscape(sealed)})
	if handled {
		return
	}
	if err != nil {
		// WS-Fed has no error token: the user sees why, the RP gets nothing.
		reason, why, status := "error", protocols.RefusedInternal, http.StatusInternalServerError
		if errors.Is(err, protocols.ErrAccessDenied) {
			reason, why, status = "access-denied", protocols.RefusedDenied, http.StatusForbidden
		} else {
			s.Logger.ErrorContext(r.Context(), "wsfed: session", "app", p.App, "err", err)
		}
		sp.Audit(r, protocols.AuditEvent{Event: "wsfed.signin", Outcome: "failure", App: p.App, Reason: reason})
		sp.Refuse(w, r, status, why, reason)
		return
	}
	rstr, err := s.rstr(rp, p, id)
	if errors.Is(err, assertion.ErrNoValue) {
		// The user's account lacks what the RP knows users by (M365: the
		// ImmutableID): an answer without it would sign in nobody, or the
		// wrong user.
		s.Logger.WarnContext(r.Context(), "wsfed: no name identifier for the user", "app", p.App, "user", id.Username, "err", err)
		sp.Audit(r, protocols.AuditEvent{Event: "wsfed.signin", Outcome: "failure", App: p.App, User: id.Username, Reason: "user-has-no-name-identifier"})
		sp.Refuse(w, r, http.StatusForbidden, protocols.RefusedNoID, "user-has-no-name-identifier")
		return
	}
	if err != nil {
		s.Logger.ErrorContext(r.Context(), "wsfed: token", "app", p.App, "err", err)
		s.refuse(w, r, sp, p.App, err)
		return
	}
	sp.Audit(r, protocols.AuditEvent{Event: "wsfed.signin", Outcome: "success", App: p.App, User: id.Username})
	fields := []page.Field{{Name: "wa", Value: "wsignin1.0"}, {Name: "wresult", Value: string(rstr)}}
	if p.Ctx != "" {
		fields = append(fields, page.Field{Name: "wctx", Value: p.Ctx})
	}
	page.AutoPost(w, p.Reply, fields)
}

// signOut: a WS-Fed sign-out is an unsigned link that names neither the
// user nor the session, so any page could send one (logout CSRF). With a
// session, the user confirms on the broker's page and then, for
// wsignout1.0, goes on to wreply if it is a registered reply URL of some
// RP; wsignoutcleanup1.0 ends there. Without one there is nothing to end.
func (s *STS) signOut(w http.ResponseWriter, r *http.Request, sp protocols.SessionProvider, wa, reply string) {
	next := ""
	if wa == "wsignout1.0" && reply != "" {
		for _, rp := range s.rps {
			if slices.Contains(rp.Replies, reply) {
				next = reply
			}
		}
	}
	if _, ok := sp.Current(r); ok {
		protocols.ConfirmSignOut(w, r, sp, next)
		return
	}
	sp.Audit(r, protocols.AuditEvent{Event: "wsfed.signout", Outcome: "success", Reason: wa})
	if next != "" {
		http.Redirect(w, r, next, http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintln(w, "You are signed out.")
}

func (s *STS) refuse(w http.ResponseWriter, r *http.Request, sp protocols.SessionProvider, app string, err error) {
	var ae *appError
	if errors.As(err, &ae) {
		app = ae.app
	}
	reason := auditReason(err)
	sp.Audit(r, protocols.AuditEvent{Event: "wsfed.signin", Outcome: "failure", App: app, Reason: reason})
	s.Logger.InfoContext(r.Context(), "wsfed: request refused", "app", app, "reason", reason, "err", err)
	status, why := http.StatusBadRequest, protocols.RefusedRequest
	switch {
	case errors.Is(err, errExpired):
		why = protocols.RefusedExpired
	case reason == "error":
		status, why = http.StatusInternalServerError, protocols.RefusedInternal
	}
	sp.Refuse(w, r, status, why, reason)
}
