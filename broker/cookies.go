package broker

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/fedgate/fedgate/broker/keys"
)

// sealer encrypts and authenticates cookie values (AES-256 + HMAC-SHA256 via
// securecookie). The first key seals; every key opens, so keys rotate by
// prepending a new one and dropping the oldest a session lifetime later.
type sealer struct {
	codecs  []securecookie.Codec
	csrfKey []byte
	refKeys [][]byte // session references' MAC keys, one per cookie key, the first signs
	secure  bool     // public URL is https: Secure cookies with the __Host- prefix
}

// maxCookieLen caps what we write and what we try to open: browsers drop
// cookies over 4 KiB, and an oversized input is refused before any crypto.
const maxCookieLen = 4000

func newSealer(ks []keys.CookieKey, secure bool, maxAge time.Duration) (*sealer, error) {
	if len(ks) == 0 {
		return nil, errors.New("broker: no cookie keys")
	}
	s := &sealer{secure: secure}
	for _, k := range ks {
		c := securecookie.New(k.Hash, k.Block)
		// securecookie checks age with the wall clock; our own expiry checks
		// use the injected clock, so its limit is only a generous backstop.
		c.MaxAge(int((maxAge + time.Hour).Seconds()))
		c.MaxLength(maxCookieLen)
		c.SetSerializer(securecookie.JSONEncoder{})
		s.codecs = append(s.codecs, c)
		m := hmac.New(sha256.New, k.Hash)
		m.Write([]byte("fedgate session ref v1"))
		s.refKeys = append(s.refKeys, m.Sum(nil))
	}
	// CSRF tokens are keyed from the current key's hash half, domain-separated.
	m := hmac.New(sha256.New, ks[0].Hash)
	m.Write([]byte("fedgate csrf v1"))
	s.csrfKey = m.Sum(nil)
	return s, nil
}

// name adds the __Host- prefix when cookies are Secure: the browser then
// refuses the cookie unless it is Secure, host-only and Path=/.
func (s *sealer) name(base string) string {
	if s.secure {
		return "__Host-" + base
	}
	return base
}

// seal writes v into cookie base. The cookie name is bound into the MAC, so
// a value sealed for one cookie cannot be replayed as another.
func (s *sealer) seal(w http.ResponseWriter, base string, v any, ttl time.Duration, sameSite http.SameSite) error {
	c, err := s.cookie(base, v, ttl, sameSite)
	if err == nil {
		http.SetCookie(w, c)
	}
	return err
}

// cookie is the cookie seal writes.
func (s *sealer) cookie(base string, v any, ttl time.Duration, sameSite http.SameSite) (*http.Cookie, error) {
	name := s.name(base)
	val, err := securecookie.EncodeMulti(name, v, s.codecs[0])
	if err != nil {
		return nil, err
	}
	return &http.Cookie{
		Name: name, Value: val, Path: "/", MaxAge: int(ttl.Seconds()),
		Secure: s.secure, HttpOnly: true, SameSite: sameSite,
	}, nil
}

// sealValue seals v for use outside a cookie (a URL parameter), bound to name.
func (s *sealer) sealValue(name string, v any) (string, error) {
	return securecookie.EncodeMulti(name, v, s.codecs[0])
}

// openValue opens what sealValue made.
func (s *sealer) openValue(name, value string, dst any) error {
	if value == "" || len(value) > maxCookieLen {
		return errors.New("broker: no or oversized sealed value")
	}
	return securecookie.DecodeMulti(name, value, dst, s.codecs...)
}

// open reads cookie base into dst; a missing, oversized, tampered or
// unknown-key cookie is simply absent (http.ErrNoCookie or a decode error).
func (s *sealer) open(r *http.Request, base string, dst any) error {
	name := s.name(base)
	c, err := r.Cookie(name)
	if err != nil {
		return err
	}
	if len(c.Value) > maxCookieLen {
		return errors.New("broker: cookie too large")
	}
	return securecookie.DecodeMulti(name, c.Value, dst, s.codecs...)
}

// cookieValue finds one cookie's value without parsing the others (it runs
// on every proxied request). Like the browser, the first of duplicates wins.
func cookieValue(r *http.Request, name string) string {
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var c string
			c, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(strings.TrimSpace(c), "=")
			if ok && k == name {
				return strings.Trim(v, `"`)
			}
		}
	}
	return ""
}

// clear deletes cookie base.
func (s *sealer) clear(w http.ResponseWriter, base string) {
	http.SetCookie(w, &http.Cookie{
		Name: s.name(base), Value: "", Path: "/", MaxAge: -1,
		Secure: s.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// csrfToken binds a form to something the attacker cannot read: the session
// id, or the in-flight login id (login CSRF).
func (s *sealer) csrfToken(binding string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(binding))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *sealer) checkCSRF(binding, token string) bool {
	want := s.csrfToken(binding)
	return binding != "" && hmac.Equal([]byte(want), []byte(token))
}

// randomID returns 128 random bits, URL-safe.
func randomID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("broker: crypto/rand failed: " + err.Error()) // the OS RNG failing is not recoverable
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
