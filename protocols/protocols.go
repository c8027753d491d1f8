// Package protocols is the small contract between the broker and the protocol
// implementations: the normalized Identity every upstream produces, the
// capability interfaces an upstream may implement, and sentinel errors.
//
// Implementations pin what they implement with var _ protocols.X = (*T)(nil).
package protocols

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"time"
)

// Identity is a signed-in user as fedgate knows them, whatever the upstream.
// It is what the session cookie carries, so keep it small.
type Identity struct {
	// Subject is the stable, unique key of the user within Upstream.
	Subject  string `json:"sub"`
	Upstream string `json:"up"`
	// Username is what the user typed or the UPN; it may change over time.
	Username    string            `json:"usr,omitempty"`
	Email       string            `json:"em,omitempty"`
	DisplayName string            `json:"dn,omitempty"`
	Groups      []string          `json:"grp,omitempty"`
	Claims      map[string]string `json:"clm,omitempty"`
	// AuthTime is when the user last presented credentials upstream.
	AuthTime time.Time `json:"at"`
	// AMR lists the authentication methods (RFC 8176 values: pwd, mfa, otp, kerberos...).
	AMR []string `json:"amr,omitempty"`
	// SessionID names the fedgate session this identity was read from. The
	// broker sets it on what SessionProvider returns (the session cookie
	// does not store it); protocols pass it on as OIDC sid or SAML
	// SessionIndex, and give it back to Recheck and to sign-out matching.
	SessionID string `json:"sid,omitempty"`
	// Ref is opaque to protocols: the broker's sealed note of that session
	// (its lifetime, where the user signed in from), set with SessionID.
	// Keep it with what was issued from the identity and hand it to Recheck.
	Ref string `json:"ref,omitempty"`
}

// HasAMR reports whether the identity was authenticated with method m.
func (id Identity) HasAMR(m string) bool {
	for _, a := range id.AMR {
		if a == m {
			return true
		}
	}
	return false
}

// Upstream is anything users can sign in with.
type Upstream interface {
	ID() string
	// Ready reports whether the upstream can currently take sign-ins (for /readyz
	// and the chooser page); nil means ready.
	Ready(ctx context.Context) error
}

// PasswordAuthenticator is an upstream that checks a username and password
// itself (local users, later LDAP).
type PasswordAuthenticator interface {
	Upstream
	// Authenticate returns the identity, or ErrInvalidCredentials /
	// ErrAccountDisabled. Implementations must take the same time for unknown
	// users as for wrong passwords.
	Authenticate(ctx context.Context, username, password string) (Identity, error)
}

// RedirectAuthenticator is an upstream the browser is sent to and comes back
// from (OpenID Connect, SAML). The broker generates and seals the per-login
// secrets in AuthRequest; the upstream only uses them.
type RedirectAuthenticator interface {
	Upstream
	// Begin returns the URL to send the browser to.
	Begin(ctx context.Context, a AuthRequest) (string, error)
	// Finish completes the login from the callback request, checking it
	// against the same AuthRequest that Begin was given.
	Finish(ctx context.Context, r *http.Request, a AuthRequest) (Identity, error)
}

// PostAnswerer is a redirect upstream whose IdP answers by a cross-site
// form POST to the callback (SAML HTTP-POST binding, WS-Federation
// wresult). Such an answer carries its own state (RelayState, wctx) and
// comes without the browser's SameSite=Lax cookies, so the broker keeps
// this upstream's in-flight logins in a SameSite=None cookie named by that
// state, and calls Finish with the POST.
type PostAnswerer interface {
	RedirectAuthenticator
	// AnswerState returns the login state the POSTed answer in r carries
	// ("" when it has none). It may parse r's form.
	AnswerState(r *http.Request) string
}

// MetadataPublisher is an upstream with metadata of our own for its IdP to
// import (a SAML service provider's EntityDescriptor), which the broker
// serves at /upstream/<id>/metadata.
type MetadataPublisher interface {
	Upstream
	Metadata() (body []byte, contentType string, err error)
}

// NegotiateAuthenticator signs the browser in from the request itself, with
// no page: SPNEGO's Authorization: Negotiate header (Windows integrated
// sign-in), the way Dex's TrySPNEGO does. The broker asks for the header at
// most once per login and goes on to the next way when it is not answered
// or is declined.
type NegotiateAuthenticator interface {
	Upstream
	// OffersTo reports whether a client at addr (through trusted proxies)
	// with this User-Agent may be asked at all: everyone else never sees a
	// Negotiate challenge.
	OffersTo(addr netip.Addr, userAgent string) bool
	// Negotiate reads r's Authorization header. It returns the identity and
	// the token for the mutual authentication ("" for none), which goes back
	// in WWW-Authenticate; ErrNoCredentials when r carries no Negotiate
	// token (the broker asks for one); or a *NegotiateError saying why the
	// token was declined. claim is the replay check every replica shares;
	// when it errors the token is declined, never accepted.
	Negotiate(ctx context.Context, r *http.Request, claim ClaimFunc) (id Identity, response string, err error)
}

// NegotiateError is a Negotiate token declined; Reason is a short code for
// the audit log (ntlm, wrong-spn, clock-skew, replay, expired, ...).
type NegotiateError struct {
	Reason string
	Err    error
}

func (e *NegotiateError) Error() string {
	return "negotiate declined: " + e.Reason + ": " + e.Err.Error()
}
func (e *NegotiateError) Unwrap() error { return e.Err }

// AuthRequest is one login at a redirect upstream.
type AuthRequest struct {
	State        string // unguessable; the callback must return it
	Nonce        string // bound into the ID token
	PKCEVerifier string // RFC 7636; the challenge is its S256
	CallbackURL  string // this upstream's own redirect URI (mix-up defence)
	LoginHint    string // from home-realm discovery
	DomainHint   string
	ForceLogin   bool        // the user must present credentials again now
	MFA          *MFARequest // step-up: ask the upstream for MFA
	Claim        ClaimFunc   // for the upstream's assertion ids
}

// ClaimFunc marks key used until expiry in the store every replica
// shares; false when it was used already. The broker gives each upstream
// its own key space.
type ClaimFunc func(ctx context.Context, key string, expiry time.Time) (bool, error)

// MFARequest is what a policy demands: one of Methods (AMR values), at most
// MaxAge ago.
type MFARequest struct {
	Methods []string
	MaxAge  time.Duration
}

// MFARequester is an upstream that can be asked for MFA (AuthRequest.MFA).
// Whether it happened is read from the returned Identity, never assumed.
type MFARequester interface {
	CanRequestMFA() bool
}

// Sentinel errors the broker maps to user-facing messages.
var (
	ErrInvalidCredentials = errors.New("invalid credentials")
	ErrAccountDisabled    = errors.New("account disabled")
	ErrUnavailable        = errors.New("upstream unavailable")
	// ErrRejected: the upstream's answer failed a check (signature, issuer,
	// audience, nonce, state, expiry, tenant); details are in the wrapping error.
	ErrRejected = errors.New("upstream answer rejected")
	// ErrDeclined: the upstream reported an error (user cancelled, access denied).
	ErrDeclined = errors.New("upstream declined the sign-in")
	// ErrBusy: the credential was not checked because too many checks are
	// running at once; the caller answers 503 with Retry-After and must not
	// count it as a failed attempt.
	ErrBusy = errors.New("too many credential checks at once")
	// ErrNoCredentials: the request carries none for this upstream (a
	// Negotiate upstream without an Authorization header).
	ErrNoCredentials = errors.New("no credentials in the request")
)
