package broker

import (
	"net/http"
	"strings"
	"time"

	"github.com/fedgate/fedgate/protocols"
)

// Session is the whole server-side knowledge of a signed-in browser; it lives
// sealed in the session cookie, so any replica can read it.
type Session struct {
	ID       string             `json:"id"`
	Identity protocols.Identity `json:"idn"`
	Created  time.Time          `json:"c"`
	LastSeen time.Time          `json:"l"`
	// Expires is the absolute end: creation + lifetime, or sooner if a policy
	// capped it.
	Expires time.Time `json:"e"`
	// MFAAsked: this session comes from a step-up; if it still lacks MFA,
	// asking again would only loop.
	MFAAsked bool `json:"m,omitempty"`
	// Factors are the AMR values fedgate's own second factors proved in
	// this session ("mfa" among them), at MFATime (mfa.go proven).
	Factors []string  `json:"f,omitempty"`
	MFATime time.Time `json:"mt,omitzero"`
	// Host is the app host an app-host session cookie was minted for;
	// empty on fedgate's own host.
	Host string `json:"h,omitempty"`
	// Devices are the device kinds whose certificate the browser presented
	// at DeviceAt (devicecheck.go); a zero DeviceAt: not asked yet.
	Devices  []string  `json:"dv,omitempty"`
	DeviceAt time.Time `json:"da,omitzero"`
}

const (
	sessionCookie = "fedgate"
	// touchEvery limits cookie rewrites for the idle timeout to one a minute
	// (less for short idle timeouts: slide).
	touchEvery = time.Minute
)

// valid reports whether the session is neither past its absolute lifetime
// nor idle for longer than idle.
func (s *Session) valid(now time.Time, idle time.Duration) bool {
	return s.invalid(now, idle) == ""
}

// invalid says why the session may not be used, or "".
func (s *Session) invalid(now time.Time, idle time.Duration) string {
	switch {
	case s.ID == "" || s.Identity.Subject == "":
		return "session-invalid"
	case !now.Before(s.Expires):
		return "session-expired"
	case now.Sub(s.LastSeen) >= idle:
		return "idle-timeout"
	}
	return ""
}

// loadSession returns the request's valid session on fedgate's host, or nil.
func (b *Server) loadSession(r *http.Request, snap *Snapshot) *Session {
	s, _ := b.readSession(r, snap, sessionCookie)
	return s
}

// readSession reads the session from cookie name (fedgate's own, or an app
// host's). Without a usable one it returns nil and why ("" when none was
// presented). An app host's cookie is good only on the host it was
// minted for: a copy carried to another app host is refused.
func (b *Server) readSession(r *http.Request, snap *Snapshot, name string) (*Session, string) {
	value := cookieValue(r, snap.sealer.name(name))
	if value == "" {
		return nil, ""
	}
	key := name + "=" + value // a value opens only under the name it was sealed for
	s, ok := snap.sessions.get(key)
	if !ok {
		if err := snap.sealer.openValue(snap.sealer.name(name), value, &s); err != nil {
			return nil, ""
		}
		snap.sessions.put(key, s)
	}
	if why := s.invalid(b.now(), snap.Config.Session.Idle); why != "" {
		return nil, why
	}
	if name == appSessionCookie && !strings.EqualFold(s.Host, r.Host) {
		return nil, "wrong-host"
	}
	if revoked, err := b.revoked(r, s.ID); revoked {
		if err != nil {
			return nil, "store-unavailable"
		}
		return nil, "session-revoked"
	}
	return &s, ""
}

// revoked: the session was signed out. Cookies cannot be recalled from
// browsers (or from app hosts, which hold copies), so sign-out records the
// session id in the store until the session would have expired anyway. A
// store that cannot answer counts as revoked, with the error: fail closed.
func (b *Server) revoked(r *http.Request, id string) (bool, error) {
	revoked, err := b.revocations.check(r.Context(), id)
	if err != nil {
		b.Logger.ErrorContext(r.Context(), "session revocation check failed; refusing the session", "err", err)
	}
	return revoked, err
}

func (b *Server) writeCookieSession(w http.ResponseWriter, snap *Snapshot, s *Session, name string) {
	ttl := s.Expires.Sub(b.now())
	if err := snap.sealer.seal(w, name, s, ttl, http.SameSiteLaxMode); err != nil {
		// Only an oversized identity gets here; the caller's page still renders.
		b.Logger.Error("session cookie not written", "err", err, "user", s.Identity.Subject)
	}
}

// newSession starts a session for id.
func (b *Server) newSession(snap *Snapshot, id protocols.Identity) *Session {
	now := b.now()
	return &Session{
		ID: randomID(), Identity: id, Created: now, LastSeen: now,
		Expires: now.Add(snap.Config.Session.Lifetime),
	}
}
