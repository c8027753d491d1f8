package protocols

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"net/http"
	"time"
)

// Downstream is an app-facing protocol (OpenID Provider, SAML IdP, WS-Fed
// STS). One is built per config snapshot for all apps of its type; the
// broker routes the paths it mounts to it.
type Downstream interface {
	// Mount registers the protocol's endpoints; sp is how they reach the
	// broker (sessions, policy, sealing, single-use markers).
	Mount(mux *http.ServeMux, sp SessionProvider)
}

// SessionProvider is the broker as downstream protocols see it.
type SessionProvider interface {
	// Session returns the signed-in identity for app, allowed by the app's
	// policy just now. When the user must (re)authenticate or step up, the
	// broker answers the browser itself (sign-in page, redirect to the IdP)
	// and returns handled=true; the browser comes back to req.Resume, a GET
	// URL on fedgate's host that the protocol serves to continue. Errors:
	// ErrLoginRequired (req.Passive and no usable session), ErrAccessDenied
	// (policy said no; the broker has audited it) — the protocol answers the
	// app with its own error format.
	Session(w http.ResponseWriter, r *http.Request, req SessionRequest) (id Identity, handled bool, err error)
	// Current is the browser's signed-in identity (with SessionID), if it
	// has a valid session: no policy, nothing written. For matching a
	// sign-out request to the session it claims to end.
	Current(r *http.Request) (Identity, bool)
	// Recheck runs app's access decision again for id, which Session
	// returned earlier, when no browser is present (an OIDC refresh): the
	// session must not be signed out, the app must accept id's upstream,
	// and the policy must allow it now. Errors: ErrLoginRequired (the
	// session ended or must sign in again), ErrAccessDenied (policy).
	Recheck(r *http.Request, app string, id Identity) error
	// Seal protects state that travels through the browser or the app
	// (a POSTed request kept across sign-in, an authorization code):
	// encrypted and authenticated with fedgate's cookie keys, bound to
	// purpose, valid for ttl. Open reverses it, refusing other purposes and
	// expired values.
	Seal(purpose string, v any, ttl time.Duration) (string, error)
	Open(purpose, sealed string, v any) error
	// Claim marks key used until expiry; false if it was already (single-use
	// codes, request IDs, replayed assertions), across every replica that
	// shares the store.
	Claim(ctx context.Context, key string, expiry time.Time) (bool, error)
	// Claimed reports whether key is claimed now, without claiming it (a
	// revoked token family, checked on every refresh).
	Claimed(ctx context.Context, key string) (bool, error)
	// EndSession signs the browser out of fedgate (RP-initiated logout):
	// the session cookie is cleared and the session revoked everywhere.
	EndSession(w http.ResponseWriter, r *http.Request) error
	// Audit records an event the protocol decided on its own (a refused
	// request, a token issued), with the request's correlation id.
	Audit(r *http.Request, e AuditEvent)
	// Refuse answers the browser with the broker's error page — branded,
	// in the user's language, with the correlation id — when a protocol
	// must not send it back to the app. detail (a reason code such as
	// "ACS-URL-not-registered") is shown as is.
	Refuse(w http.ResponseWriter, r *http.Request, status int, why Refusal, detail string)
	// Attempt counts one credential check (a client secret) against the
	// failure limits of key and of the request's client IP before it is
	// made, atomically across replicas sharing the store; call it only once
	// the request names a registered client. wait > 0: over a limit, refuse
	// without checking (429 with Retry-After). Otherwise call done once with
	// the outcome: nil (it matched: key's failures are forgotten), an error
	// wrapping ErrInvalidCredentials (a failure that counts), or any other
	// error (nothing was checked: the attempt is given back).
	Attempt(r *http.Request, key string) (done func(error), wait time.Duration, err error)
}

// Refusal is what a protocol tells the user when it refuses a request.
type Refusal string

// Refusals, each with its own message in every language.
const (
	RefusedRequest  Refusal = "request"  // the app's request cannot be accepted
	RefusedSignOut  Refusal = "signout"  // the app's sign-out request cannot be accepted
	RefusedExpired  Refusal = "expired"  // too old: start again from the app
	RefusedReplayed Refusal = "replayed" // already used: start again from the app
	RefusedHere     Refusal = "here"     // the app cannot be opened from here
	RefusedNoID     Refusal = "noid"     // the account lacks the app's user identifier
	RefusedDenied   Refusal = "denied"   // policy said no
	RefusedInternal Refusal = "internal" // fedgate could not answer the app
	// RefusedUnavailable: fedgate's state store cannot answer (fail closed).
	RefusedUnavailable Refusal = "unavailable"
)

// SessionRequest is what a protocol asks of the session.
type SessionRequest struct {
	App string
	// FreshAfter: the user must have authenticated at or after this time
	// (prompt=login / ForceAuthn / wfresh=0 give the request's own time;
	// max_age gives now minus it). Zero: any session will do. Carry it in
	// Resume so the return after sign-in is not asked again.
	FreshAfter time.Time
	// Passive: never show anything (prompt=none, IsPassive).
	Passive bool
	// MFA: the app asks for MFA itself (acr_values, AuthnContextClassRef),
	// on top of what its policy demands.
	MFA bool
	// LoginHint pre-fills the user (login_hint, Subject/NameID, whr).
	LoginHint string
	Resume    string
}

// AuditEvent is what a protocol reports; the broker adds time, client and
// correlation id.
type AuditEvent struct {
	Event, Outcome, App, User, Reason string
}

// SigningKey is a key a downstream signs with (tokens, assertions); Next
// keys are published before they sign, so relying parties can roll over.
type SigningKey struct {
	Signer crypto.Signer
	Cert   *x509.Certificate
	KeyID  string
	Alg    string // JWS name: RS256, ES256
	Next   bool
}

// Errors a SessionProvider returns.
var (
	ErrLoginRequired = errors.New("login required")
	ErrAccessDenied  = errors.New("access denied")
)
