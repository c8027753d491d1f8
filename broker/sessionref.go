package broker

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/fedgate/fedgate/protocols"
)

// A session reference (Identity.Ref) lets a protocol ask about a session
// again without the browser (an OIDC refresh): when it began and ends, and
// where the user signed in from, under a MAC that also covers the session
// id and who it is about — so it cannot be moved to another session or
// identity. It travels inside the protocol's own sealed grant, so it is
// small and signed, not encrypted a second time.

// sessionRef is what a reference says.
type sessionRef struct {
	ID       string
	Created  time.Time
	Expires  time.Time
	ClientIP string
}

// makeRef is the reference to session s, the user then at address ip.
func (s *sealer) makeRef(sess *Session, ip string) string {
	body := strconv.FormatInt(sess.Created.Unix(), 10) + "~" + strconv.FormatInt(sess.Expires.Unix(), 10) + "~" + ip
	return body + "~" + refMAC(s.refKeys[0], sess.ID, body, sess.Identity)
}

// openRef checks id.Ref against id (any of the keys) and reads it.
func (s *sealer) openRef(id protocols.Identity) (sessionRef, bool) {
	parts := strings.Split(id.Ref, "~")
	if len(parts) != 4 || id.SessionID == "" {
		return sessionRef{}, false
	}
	body := strings.Join(parts[:3], "~")
	good := false
	for _, k := range s.refKeys {
		good = good || hmac.Equal([]byte(refMAC(k, id.SessionID, body, id)), []byte(parts[3]))
	}
	created, err1 := strconv.ParseInt(parts[0], 10, 64)
	expires, err2 := strconv.ParseInt(parts[1], 10, 64)
	if !good || err1 != nil || err2 != nil {
		return sessionRef{}, false
	}
	return sessionRef{ID: id.SessionID, Created: time.Unix(created, 0), Expires: time.Unix(expires, 0), ClientIP: parts[2]}, true
}

func refMAC(key []byte, sessionID, body string, id protocols.Identity) string {
	m := hmac.New(sha256.New, key)
	for _, f := range []string{sessionID, body, id.Upstream, id.Subject, strconv.FormatInt(id.AuthTime.Unix(), 10)} {
		m.Write([]byte(f))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}
