package broker

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"slices"
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

// sessionRef is what a reference says. Factors and MFATime are the
// session's own second factors (mfa.go); Added are the AMR values they
// added to the identity apps saw, so that a refresh tells the upstream's
// methods from fedgate's again (upstream-mfa, max_age).
type sessionRef struct {
	ID       string
	Created  time.Time
	Expires  time.Time
	ClientIP string
	Factors  []string
	Added    []string
	MFATime  time.Time
	// Devices and DeviceAt are the session's device check (devicecheck.go),
	// so that a refresh decides on the same device as the sign-in.
	Devices  []string
	DeviceAt time.Time
}

// makeRef is the reference to session s, the user then at address ip.
func (s *sealer) makeRef(sess *Session, ip string) string {
	body := strconv.FormatInt(sess.Created.Unix(), 10) + "~" + strconv.FormatInt(sess.Expires.Unix(), 10) + "~" + ip
	if len(sess.Factors) > 0 || !sess.DeviceAt.IsZero() {
		added := slices.DeleteFunc(slices.Clone(sess.Factors), func(a string) bool { return slices.Contains(sess.Identity.AMR, a) })
		body += "~" + strconv.FormatInt(sess.MFATime.Unix(), 10) + "~" + strings.Join(sess.Factors, ",") + "~" + strings.Join(added, ",")
	}
	if !sess.DeviceAt.IsZero() {
		body += "~" + strconv.FormatInt(sess.DeviceAt.Unix(), 10) + "~" + strings.Join(sess.Devices, ",")
	}
	return body + "~" + refMAC(s.refKeys[0], sess.ID, body, sess.Identity)
}

// openRef checks id.Ref against id (any of the keys) and reads it.
func (s *sealer) openRef(id protocols.Identity) (sessionRef, bool) {
	parts := strings.Split(id.Ref, "~")
	if (len(parts) != 4 && len(parts) != 7 && len(parts) != 9) || id.SessionID == "" {
		return sessionRef{}, false
	}
	body := strings.Join(parts[:len(parts)-1], "~")
	good := false
	for _, k := range s.refKeys {
		good = good || hmac.Equal([]byte(refMAC(k, id.SessionID, body, id)), []byte(parts[len(parts)-1]))
	}
	created, err1 := strconv.ParseInt(parts[0], 10, 64)
	expires, err2 := strconv.ParseInt(parts[1], 10, 64)
	if !good || err1 != nil || err2 != nil {
		return sessionRef{}, false
	}
	ref := sessionRef{ID: id.SessionID, Created: time.Unix(created, 0), Expires: time.Unix(expires, 0), ClientIP: parts[2]}
	if len(parts) >= 7 {
		mfa, err := strconv.ParseInt(parts[3], 10, 64)
		if err != nil {
			return sessionRef{}, false
		}
		ref.MFATime, ref.Factors, ref.Added = time.Unix(mfa, 0), splitList(parts[4]), splitList(parts[5])
		if ref.MFATime.Unix() == 0 && len(ref.Factors) == 0 {
			ref.MFATime = time.Time{}
		}
	}
	if len(parts) == 9 {
		at, err := strconv.ParseInt(parts[6], 10, 64)
		if err != nil {
			return sessionRef{}, false
		}
		ref.DeviceAt, ref.Devices = time.Unix(at, 0), splitList(parts[7])
	}
	return ref, true
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func refMAC(key []byte, sessionID, body string, id protocols.Identity) string {
	m := hmac.New(sha256.New, key)
	for _, f := range []string{sessionID, body, id.Upstream, id.Subject, strconv.FormatInt(id.AuthTime.Unix(), 10)} {
		m.Write([]byte(f))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}
