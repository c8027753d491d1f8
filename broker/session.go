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
	// memo is the cache entry the session was read from (nil for one made
	// or changed in this request): what is derived from it once lives there.
	memo *sessionMemo
}

const (
	sessionCookie = "fedgate"
	// touchEvery limits cookie rewrites for the idle timeout to one a minute
	// (less for short idle timeouts: touchInterval).
	touchEvery = time.Minute
)

// touchInterval is how stale a cookie's LastSeen may be before a use
// rewrites it: a minute, or a tenth of a short idle timeout.
func touchInterval(idle time.Duration) time.Duration { return min(touchEvery, idle/10) }

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
	s, _ := b.readSession(r, snap, sessionCookie, b.now())
	return s
}

// readSession reads the session from cookie name (fedgate's own, or an app
// host's). Without a usable one it returns nil and why ("" when none was
// presented). An app host's cookie is good only on the host it was
// minted for: a copy carried to another app host is refused.
func (b *Server) readSession(r *http.Request, snap *Snapshot, name string, now time.Time) (*Session, string) {
	value := cookieValue(r, snap.sealer.name(name))
	if value == "" {
		return nil, ""
	}
	k := keyOf(name, value)
	m, ok := snap.sessions.get(k)
	if !ok {
		var opened Session
		if err := snap.sealer.openValue(snap.sealer.name(name), value, &opened); err != nil {
			return nil, ""
		}
		m = snap.sessions.put(k, len(value), opened)
	}
	s := m.session(r.Context())
	if why := s.invalid(now, snap.Config.Session.Idle); why != "" {
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
	return s, ""
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

// writeCookieSession writes s into cookie name. A session read from a
// cookie that was resealed (its idle timeout slid) less than a touch
// interval ago gets no Set-Cookie at all: the session already slid, and a
// client still sending the old cookie (its requests were on the way, or it
// ignores Set-Cookie) would otherwise get the ~700-byte line on every
// response. After a touch interval it is resealed and told again, so a
// lost response costs at most one touch interval of sliding (the idle
// timeout is measured in touch-interval steps anyway), and a client that
// never takes the new cookie still idles out by its own cookie's LastSeen.
func (b *Server) writeCookieSession(w http.ResponseWriter, snap *Snapshot, s *Session, name string) {
	now := b.now()
	if m := s.memo; m != nil {
		if r := m.reseal.Load(); r != nil && r.name == name && r.expires.Equal(s.Expires) &&
			now.Sub(r.at) < touchInterval(snap.Config.Session.Idle) {
			return
		}
	}
	c, err := snap.sealer.cookie(name, s, s.Expires.Sub(now), http.SameSiteLaxMode)
	if err != nil {
		// Only an oversized identity gets here; the caller's page still renders.
		b.Logger.Error("session cookie not written", "err", err, "user", s.Identity.Subject)
		return
	}
	w.Header().Add("Set-Cookie", c.String())
	if s.memo != nil {
		s.memo.reseal.Store(&memoReseal{name: name, at: s.LastSeen, expires: s.Expires})
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
