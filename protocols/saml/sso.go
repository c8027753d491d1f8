package saml

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/assertion"
)

// pending is a checked request, sealed into the resume URL so it survives
// the sign-in detour (a POSTed request cannot be replayed by a redirect).
type pending struct {
	App     string    `json:"a"`
	ReqID   string    `json:"i,omitempty"`
	ACS     string    `json:"u"`
	Relay   string    `json:"r,omitempty"`
	Fresh   time.Time `json:"f,omitzero"`
	Passive bool      `json:"p,omitempty"`
	MFA     bool      `json:"m,omitempty"`
	Hint    string    `json:"h,omitempty"`
	// NameIDMismatch: the SP asked for a NameID format it is not given.
	NameIDMismatch bool `json:"n,omitempty"`
}

const (
	sealPurpose = "saml-authn"
	resumeTTL   = 15 * time.Minute
)

// sso is SP-initiated SSO: GET (HTTP-Redirect) or POST (HTTP-POST) of an
// AuthnRequest to /saml/sso or /saml/sso/<app>.
func (p *IdP) sso(w http.ResponseWriter, r *http.Request, spv protocols.SessionProvider) {
	app := r.PathValue("app")
	pend, err := p.checkRequest(r, app, spv)
	if err != nil {
		p.refuse(w, r, spv, app, err)
		return
	}
	p.continueSSO(w, r, spv, pend)
}

// checkRequest runs every check on an incoming AuthnRequest, in order,
// and returns what to answer.
func (p *IdP) checkRequest(r *http.Request, app string, spv protocols.SessionProvider) (*pending, error) {
	in, err := decodeBinding(r)
	if err != nil {
		return nil, err
	}
	root, err := parseRequest(in.xml)
	if err != nil {
		return nil, err
	}
	s, err := p.spFor(issuerOf(root), app)
	if err != nil {
		return nil, err
	}
	el, err := verifyRequest(s, in, root)
	if err != nil {
		return nil, &appError{s.App, err}
	}
	a, err := readRequest(el)
	if err != nil {
		return nil, &appError{s.App, err}
	}
	now := p.Now()
	if err := checkTime(s, a, now); err != nil {
		return nil, &appError{s.App, err}
	}
	if err := checkDestination(a, p.base+r.URL.Path); err != nil {
		return nil, &appError{s.App, err}
	}
	acs, err := resolveACS(s, a)
	if err != nil {
		return nil, &appError{s.App, err}
	}
	used, err := spv.Claimed(r.Context(), replayKey(s.App, a.ID))
	if err != nil {
		return nil, &appError{s.App, fmt.Errorf("%w: replay check: %w", errStore, err)}
	}
	if used {
		return nil, &appError{s.App, fmt.Errorf("%w: %s", errReplay, a.ID)}
	}
	pend := &pending{App: s.App, ReqID: a.ID, ACS: acs, Relay: in.relayState, Passive: a.IsPassive,
		MFA: wantsMFA(s, a), Hint: a.Subject, NameIDMismatch: !nameIDPolicyOK(s, a)}
	if a.ForceAuthn {
		pend.Fresh = now
	}
	return pend, nil
}

// appError is a refusal once the SP is known.
type appError struct {
	app string
	err error
}

func (e *appError) Error() string { return e.err.Error() }
func (e *appError) Unwrap() error { return e.err }

func replayKey(app, id string) string { return "saml-req:" + app + ":" + id }

// resume continues a sealed request after sign-in.
func (p *IdP) resume(w http.ResponseWriter, r *http.Request, spv protocols.SessionProvider) {
	var pend pending
	if err := spv.Open(sealPurpose, r.URL.Query().Get("s"), &pend); err != nil {
		p.refuse(w, r, spv, "", fmt.Errorf("%w: resume state: %v", errExpired, err))
		return
	}
	if p.sps[pend.App] == nil {
		p.refuse(w, r, spv, pend.App, errUnknownSP)
		return
	}
	p.continueSSO(w, r, spv, &pend)
}

// idpInit is IdP-initiated SSO: GET /saml/init/<app>[?RelayState=...].
func (p *IdP) idpInit(w http.ResponseWriter, r *http.Request, spv protocols.SessionProvider) {
	app := r.PathValue("app")
	s := p.sps[app]
	switch {
	case s == nil:
		p.refuse(w, r, spv, app, errUnknownSP)
		return
	case !s.IdPInitiated:
		p.refuse(w, r, spv, app, errNotAllowedIn)
		return
	}
	relay := s.RelayState
	if q := r.URL.Query().Get("RelayState"); q != "" && q != relay {
		if !slices.Contains(s.RelayStates, q) { // not an open redirect at the SP
			p.refuse(w, r, spv, app, fmt.Errorf("%w: %q (idp_initiated_relay_states)", errRelayNotOK, q))
			return
		}
		relay = q
	}
	p.continueSSO(w, r, spv, &pending{App: app, ACS: s.defaultACS().URL, Relay: relay})
}

// continueSSO asks the broker for the session and answers the SP.
func (p *IdP) continueSSO(w http.ResponseWriter, r *http.Request, spv protocols.SessionProvider, pend *pending) {
	s := p.sps[pend.App]
	sealed, err := spv.Seal(sealPurpose, pend, resumeTTL)
	if err != nil {
		p.refuse(w, r, spv, pend.App, err)
		return
	}
	id, handled, err := spv.Session(w, r, protocols.SessionRequest{App: pend.App, FreshAfter: pend.Fresh, Passive: pend.Passive,
		MFA: pend.MFA, LoginHint: pend.Hint, Resume: ResumePath + "?s=" + url.QueryEscape(sealed)})
	if handled {
		return
	}
	status := ""
	switch {
	case errors.Is(err, protocols.ErrLoginRequired):
		status = StatusNoPassive
	case errors.Is(err, protocols.ErrAccessDenied):
		status = StatusRequestDenied
	case err != nil:
		p.Logger.ErrorContext(r.Context(), "saml: session", "app", pend.App, "err", err)
		p.refuse(w, r, spv, pend.App, err)
		return
	case pend.NameIDMismatch:
		status = StatusInvalidNameIDPo
	}
	if pend.ReqID != "" {
		ok, err := spv.Claim(r.Context(), replayKey(pend.App, pend.ReqID), p.Now().Add(resumeTTL+s.RequestMaxAge+2*s.Skew))
		if err != nil {
			p.refuse(w, r, spv, pend.App, fmt.Errorf("%w: replay mark: %w", errStore, err))
			return
		}
		if !ok {
			p.refuse(w, r, spv, pend.App, fmt.Errorf("%w: %s", errReplay, pend.ReqID))
			return
		}
	}
	var body []byte
	if status != "" {
		body, err = p.errorResponse(s, pend, status)
	} else {
		body, err = p.response(s, pend, id)
	}
	if errors.Is(err, assertion.ErrNoValue) {
		// The user's account lacks what the SP knows users by (M365: the
		// ImmutableID): a NameID without it would sign in nobody, or the
		// wrong user.
		p.Logger.WarnContext(r.Context(), "saml: no NameID value for the user", "app", pend.App, "user", id.Username, "err", err)
		spv.Audit(r, protocols.AuditEvent{Event: "saml.response", Outcome: "failure", App: pend.App, User: id.Username, Reason: "user-has-no-name-identifier"})
		spv.Refuse(w, r, http.StatusForbidden, protocols.RefusedNoID, "user-has-no-name-identifier")
		return
	}
	if err != nil {
		p.Logger.ErrorContext(r.Context(), "saml: response", "app", pend.App, "err", err)
		p.refuse(w, r, spv, pend.App, err)
		return
	}
	outcome, reason, user := "success", "", id.Username
	if status != "" {
		outcome, reason = "failure", status[len("urn:oasis:names:tc:SAML:2.0:status:"):]
	}
	spv.Audit(r, protocols.AuditEvent{Event: "saml.response", Outcome: outcome, App: pend.App, User: user, Reason: reason})
	postForm(w, pend.ACS, "SAMLResponse", body, pend.Relay)
}

// refuse answers a request fedgate will not answer the SP for: a page
// with the correlation id, an audit event, and no token.
func (p *IdP) refuse(w http.ResponseWriter, r *http.Request, spv protocols.SessionProvider, app string, err error) {
	p.refuseAs(w, r, spv, "saml.sso", app, err)
}

// refuseAs is refuse with the audit event named (saml.slo for logout).
func (p *IdP) refuseAs(w http.ResponseWriter, r *http.Request, spv protocols.SessionProvider, event, app string, err error) {
	var ae *appError
	if errors.As(err, &ae) {
		app = ae.app
	}
	reason := auditReason(err)
	spv.Audit(r, protocols.AuditEvent{Event: event, Outcome: "failure", App: app, Reason: reason})
	p.Logger.InfoContext(r.Context(), "saml: request refused", "app", app, "reason", reason, "err", err)
	status, why := http.StatusBadRequest, protocols.RefusedRequest
	switch {
	case errors.Is(err, errReplay):
		why = protocols.RefusedReplayed
	case errors.Is(err, errStore):
		// Not a replay: the state store cannot answer, and the request is
		// not answered without its replay check (fail closed).
		status, why = http.StatusServiceUnavailable, protocols.RefusedUnavailable
	case errors.Is(err, errExpired):
		why = protocols.RefusedExpired
	case errors.Is(err, errUnknownApp):
		status = http.StatusNotFound
	case errors.Is(err, errNotAllowedIn):
		status, why = http.StatusForbidden, protocols.RefusedHere
	case reason == "error":
		status, why = http.StatusInternalServerError, protocols.RefusedInternal
	}
	spv.Refuse(w, r, status, why, reason)
}
