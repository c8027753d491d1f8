package oidc

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fedgate/fedgate/protocols"
)

// The authorization endpoint. client_id and redirect_uri are checked first:
// until both are known good, nothing is sent anywhere — the browser gets an
// error page. Every later problem goes back to the registered redirect URI
// as an RFC 6749 error, with state and the RFC 9207 iss.

// authzRequest is a validated authorization request. It is sealed into the
// resume URL while the user signs in (the broker caps that URL at 2 KiB, so
// the names are short and the redirect URI travels as a tag).
type authzRequest struct {
	ClientID    string `json:"c"`
	RedirectTag string `json:"r"`
	Scope       string `json:"s"`
	State       string `json:"st,omitempty"`
	Nonce       string `json:"n,omitempty"`
	Challenge   string `json:"pc,omitempty"`
	FormPost    bool   `json:"fp,omitempty"`
	Login       bool   `json:"pl,omitempty"`
	None        bool   `json:"pn,omitempty"`
	MaxAge      *int64 `json:"ma,omitempty"`
	LoginHint   string `json:"lh,omitempty"`
	MFA         bool   `json:"m,omitempty"`
	Time        int64  `json:"t"` // when it was asked, unix nanoseconds

	redirect string
}

// Bounds on what the browser sends (the sealed request must fit the resume URL).
const (
	maxParams      = 40
	maxParamLen    = 2048
	maxStateLen    = 512
	maxNonceLen    = 255
	maxHintLen     = 255
	maxScopeLen    = 1024
	maxACRLen      = 1024
	maxResumeLen   = 2000
	pkceMinLen     = 43
	pkceMaxLen     = 128
	maxMaxAge      = 1 << 31
	resumeParam    = "r"
	purposeAuthz   = "authz"
	purposeCode    = "code"
	purposeRefresh = "refresh"
	purposeAccess  = "access"
)

var pkceValue = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// pageError is a problem the browser is shown, never redirected with.
type pageError string

func (e pageError) Error() string { return string(e) }

// authorizeParams are the request's parameters: the query of a GET, the
// form of a POST (OIDC Core 3.1.2.1).
func authorizeParams(r *http.Request) (url.Values, error) {
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			return nil, pageError("the request could not be read")
		}
		return r.PostForm, nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, pageError("the request's query is malformed")
	}
	return q, nil
}

// parseAuthorize validates an authorization request. The client and the
// redirect URI come back whenever they were valid, so that later errors can
// be sent there; errors before that are pageErrors.
func (p *Provider) parseAuthorize(q url.Values) (*opClient, *authzRequest, error) {
	if len(q) > maxParams {
		return nil, nil, pageError("too many parameters")
	}
	for _, k := range []string{"client_id", "redirect_uri"} {
		if len(q[k]) != 1 || q[k][0] == "" {
			return nil, nil, pageError("the request needs exactly one " + k)
		}
	}
	c := p.clients[q.Get("client_id")]
	if c == nil {
		return nil, nil, pageError("unknown client_id")
	}
	redirect := q.Get("redirect_uri")
	if !slices.Contains(c.RedirectURIs, redirect) {
		return c, nil, pageError("redirect_uri is not registered for this client")
	}
	a := &authzRequest{ClientID: c.ClientID, RedirectTag: redirectTag(redirect), redirect: redirect,
		FormPost: q.Get("response_mode") == "form_post"}
	// The state goes back even with errors, if it is usable.
	if st := q["state"]; len(st) == 1 && len(st[0]) <= maxStateLen {
		a.State = st[0]
	}
	for k, vs := range q {
		if len(vs) > 1 {
			return c, a, errInvalidRequest("parameter %s is repeated", clip(k))
		}
		if len(vs[0]) > maxParamLen {
			return c, a, errInvalidRequest("parameter %s is too long", clip(k))
		}
	}
	if len(q.Get("state")) > maxStateLen {
		return c, a, errInvalidRequest("state is longer than %d characters", maxStateLen)
	}
	switch q.Get("response_mode") {
	case "", "query", "form_post":
	default:
		return c, a, errInvalidRequest("response_mode must be query or form_post")
	}
	if q.Has("request") || q.Has("request_uri") {
		return c, a, &oauthError{Code: map[bool]string{true: "request_not_supported", false: "request_uri_not_supported"}[q.Has("request")]}
	}
	if rt := q.Get("response_type"); rt != "code" {
		return c, a, &oauthError{Code: "unsupported_response_type", Description: "only response_type=code is supported"}
	}
	scope, err := c.grantScope(q.Get("scope"))
	if err != nil {
		return c, a, err
	}
	a.Scope = scope
	if a.Nonce = q.Get("nonce"); len(a.Nonce) > maxNonceLen {
		return c, a, errInvalidRequest("nonce is longer than %d characters", maxNonceLen)
	}
	if err := a.pkce(c, q); err != nil {
		return c, a, err
	}
	if err := a.prompt(q); err != nil {
		return c, a, err
	}
	if a.LoginHint = q.Get("login_hint"); len(a.LoginHint) > maxHintLen {
		return c, a, errInvalidRequest("login_hint is longer than %d characters", maxHintLen)
	}
	if acr := q.Get("acr_values"); len(acr) > maxACRLen {
		return c, a, errInvalidRequest("acr_values is too long")
	} else {
		a.MFA = slices.Contains(strings.Fields(acr), c.mfaACR())
	}
	return c, a, nil
}

func (a *authzRequest) pkce(c *opClient, q url.Values) error {
	ch, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case ch == "" && method != "":
		return errInvalidRequest("code_challenge_method without code_challenge")
	case ch == "" && c.Public:
		return errInvalidRequest("public clients must use PKCE (code_challenge with S256)")
	case ch == "":
		return nil
	case method != "S256":
		// Absent means plain (RFC 7636 4.3), which is refused too.
		return errInvalidRequest("code_challenge_method must be S256")
	case !pkceValue.MatchString(ch):
		return errInvalidRequest("code_challenge is malformed")
	}
	a.Challenge = ch
	return nil
}

func (a *authzRequest) prompt(q url.Values) error {
	values := strings.Fields(q.Get("prompt"))
	for _, v := range values {
		switch v {
		case "none":
			if len(values) > 1 {
				return errInvalidRequest("prompt=none cannot be combined with other values")
			}
			a.None = true
		case "login":
			a.Login = true
		case "consent", "select_account":
			// fedgate asks no consent (the apps are the company's own) and
			// the user picks an account on the sign-in page anyway.
		default:
			return errInvalidRequest("prompt value %q is unknown", clip(v))
		}
	}
	if q.Has("max_age") {
		n, err := strconv.ParseInt(q.Get("max_age"), 10, 64)
		if err != nil || n < 0 || n > maxMaxAge {
			return errInvalidRequest("max_age must be a number of seconds")
		}
		a.MaxAge = &n
	}
	return nil
}

// grantScope keeps the scopes fedgate knows; openid is required.
func (c *opClient) grantScope(raw string) (string, error) {
	if len(raw) > maxScopeLen {
		return "", &oauthError{Code: "invalid_scope", Description: "scope is too long"}
	}
	var out []string
	for _, s := range strings.Fields(raw) {
		if !slices.Contains(supportedScopes, s) || slices.Contains(out, s) {
			continue
		}
		if s == "offline_access" && !c.RefreshTokens {
			continue
		}
		out = append(out, s)
	}
	if !slices.Contains(out, "openid") {
		return "", &oauthError{Code: "invalid_scope", Description: "scope must include openid"}
	}
	return strings.Join(out, " "), nil
}

func redirectTag(uri string) string {
	sum := sha256.Sum256([]byte(uri))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

func (c *opClient) redirectByTag(tag string) string {
	for _, u := range c.RedirectURIs {
		if redirectTag(u) == tag {
			return u
		}
	}
	return ""
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request, sp protocols.SessionProvider) {
	q, err := authorizeParams(r)
	var c *opClient
	var a *authzRequest
	if err == nil {
		c, a, err = p.parseAuthorize(q)
	}
	if pe := (pageError("")); errors.As(err, &pe) {
		ev := protocols.AuditEvent{Event: "oidc-authorize", Outcome: "failure", Reason: string(pe)}
		if c != nil {
			ev.App = c.app
		}
		sp.Audit(r, ev)
		sp.Refuse(w, r, http.StatusBadRequest, protocols.RefusedRequest, string(pe))
		return
	}
	if err != nil {
		sp.Audit(r, protocols.AuditEvent{Event: "oidc-authorize", Outcome: "failure", App: c.app, Reason: err.Error()})
		p.respondError(w, r, a, err)
		return
	}
	a.Time = p.now().UnixNano()
	p.continueAuthorize(w, r, sp, c, a)
}

// resume continues a request after the broker signed the user in.
func (p *Provider) resume(w http.ResponseWriter, r *http.Request, sp protocols.SessionProvider) {
	var a authzRequest
	raw := r.URL.Query().Get(resumeParam)
	if len(raw) > maxResumeLen || sp.Open(purposeAuthz, raw, &a) != nil {
		sp.Refuse(w, r, http.StatusBadRequest, protocols.RefusedExpired, "sign-in state expired or not valid")
		return
	}
	c := p.clients[a.ClientID]
	if c == nil {
		sp.Refuse(w, r, http.StatusBadRequest, protocols.RefusedRequest, "client no longer configured")
		return
	}
	if a.redirect = c.redirectByTag(a.RedirectTag); a.redirect == "" {
		sp.Refuse(w, r, http.StatusBadRequest, protocols.RefusedRequest, "redirect_uri no longer registered")
		return
	}
	p.continueAuthorize(w, r, sp, c, &a)
}

func (p *Provider) continueAuthorize(w http.ResponseWriter, r *http.Request, sp protocols.SessionProvider, c *opClient, a *authzRequest) {
	asked := time.Unix(0, a.Time)
	req := protocols.SessionRequest{App: c.app, Passive: a.None, MFA: a.MFA, LoginHint: a.LoginHint}
	if a.Login {
		req.FreshAfter = asked
	}
	// max_age counts from the request, not from the return after sign-in,
	// so a slow sign-in is not asked again.
	if a.MaxAge != nil {
		if fa := asked.Add(-time.Duration(*a.MaxAge) * time.Second); fa.After(req.FreshAfter) {
			req.FreshAfter = fa
		}
	}
	sealed, err := sp.Seal(purposeAuthz, a, resumeTTL)
	if err != nil {
		p.serverError(w, r, a, "seal request", err)
		return
	}
	req.Resume = ResumePath + "?" + resumeParam + "=" + url.QueryEscape(sealed)
	if len(req.Resume) > maxResumeLen {
		p.respondError(w, r, a, errInvalidRequest("the request is too large (shorten state or nonce)"))
		return
	}
	id, handled, err := sp.Session(w, r, req)
	switch {
	case handled:
		return
	case errors.Is(err, protocols.ErrLoginRequired):
		p.respondError(w, r, a, &oauthError{Code: "login_required", Description: "the user is not signed in"})
		return
	case errors.Is(err, protocols.ErrAccessDenied):
		p.respondError(w, r, a, &oauthError{Code: "access_denied", Description: "the access policy does not allow this sign-in"})
		return
	case err != nil:
		p.serverError(w, r, a, "session", err)
		return
	}
	g := p.newGrant(c, a, id)
	code, err := sp.Seal(purposeCode, g, codeTTL)
	if err != nil {
		p.serverError(w, r, a, "seal code", err)
		return
	}
	p.respond(w, r, a, url.Values{"code": {code}})
}

func (p *Provider) serverError(w http.ResponseWriter, r *http.Request, a *authzRequest, what string, err error) {
	p.logger.ErrorContext(r.Context(), "oidc provider: "+what, "client_id", a.ClientID, "err", err,
		"request_id", w.Header().Get("X-Request-Id"))
	p.respondError(w, r, a, &oauthError{Code: "server_error"})
}

func (p *Provider) respondError(w http.ResponseWriter, r *http.Request, a *authzRequest, err error) {
	oe := &oauthError{Code: "server_error"}
	errors.As(err, &oe)
	v := url.Values{"error": {oe.Code}}
	if oe.Description != "" {
		v.Set("error_description", oe.Description)
	}
	p.respond(w, r, a, v)
}

// respond sends the authorization response to the client's redirect URI,
// with state and iss, in the response mode it asked for.
func (p *Provider) respond(w http.ResponseWriter, r *http.Request, a *authzRequest, v url.Values) {
	if a.State != "" {
		v.Set("state", a.State)
	}
	v.Set("iss", p.issuer)
	w.Header().Set("Cache-Control", "no-store")
	if a.FormPost {
		formPost(w, a.redirect, v)
		return
	}
	sep := "?"
	if strings.Contains(a.redirect, "?") {
		sep = "&"
	}
	http.Redirect(w, r, a.redirect+sep+v.Encode(), http.StatusSeeOther)
}
