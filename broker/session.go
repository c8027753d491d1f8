package broker

import (
	"errors"
	"net/http"
	"time"

	"github.com/fedgate/fedgate/broker/store"

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
}

const (
	sessionCookie = "fedgate"
	// touchEvery limits cookie rewrites for the idle timeout to one a minute.
	touchEvery = time.Minute
)

// valid reports whether the session is neither past its absolute lifetime
// nor idle for longer than idle.
func (s *Session) valid(now time.Time, idle time.Duration) bool {
	return s.ID != "" && s.Identity.Subject != "" && now.Before(s.Expires) && now.Sub(s.LastSeen) < idle
}

// loadSession returns the request's valid session on fedgate's host, or nil.
func (b *Server) loadSession(r *http.Request, snap *Snapshot) *Session {
	return b.loadCookieSession(r, snap, sessionCookie)
}

// loadCookieSession reads a session from cookie name (fedgate's own, or an
// app host's).
func (b *Server) loadCookieSession(r *http.Request, snap *Snapshot, name string) *Session {
	value := cookieValue(r, snap.sealer.name(name))
	if value == "" {
		return nil
	}
	key := name + "=" + value // a value opens only under the name it was sealed for
	s, ok := snap.sessions.get(key)
	if !ok {
		if err := snap.sealer.openValue(snap.sealer.name(name), value, &s); err != nil {
			return nil
		}
		snap.sessions.put(key, s)
	}
	if !s.valid(b.now(), snap.Config.Session.Idle) || b.revoked(r, s.ID) {
		return nil
	}
	return &s
}

// revoked: the session was signed out. Cookies cannot be recalled from
// browsers (or from app hosts, which hold copies), so sign-out records the
// session id in the store until the session would have expired anyway. A
// store that cannot answer counts as revoked: fail closed.
func (b *Server) revoked(r *http.Request, id string) bool {
	_, err := b.Store.Get(r.Context(), "revoked:"+id)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	if err != nil {
		b.Logger.ErrorContext(r.Context(), "session revocation check failed; refusing the session", "err", err)
	}
	return true
}

// touch slides the idle timeout, rewriting the cookie at most once a minute.
func (b *Server) touch(w http.ResponseWriter, snap *Snapshot, s *Session) {
	b.touchCookie(w, snap, s, sessionCookie)
}

func (b *Server) touchCookie(w http.ResponseWriter, snap *Snapshot, s *Session, name string) {
	now := b.now()
	if now.Sub(s.LastSeen) < touchEvery {
		return
	}
	s.LastSeen = now
	b.writeCookieSession(w, snap, s, name)
}

func (b *Server) writeSession(w http.ResponseWriter, snap *Snapshot, s *Session) {
	b.writeCookieSession(w, snap, s, sessionCookie)
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
