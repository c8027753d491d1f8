package broker

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/fedgate/fedgate/protocols"
)

// Pending is an in-flight login: which app asked, and where to go when done.
// It is sealed into its own cookie, named by its id, so parallel tabs do not
// overwrite each other and any replica can finish what another began.
type Pending struct {
	ID       string    `json:"id"`
	App      string    `json:"app,omitempty"`
	Return   string    `json:"ret"`
	Upstream string    `json:"up,omitempty"`
	Hint     string    `json:"hint,omitempty"`
	Created  time.Time `json:"c"`
	// For redirect upstreams: the secrets checked on the way back.
	Nonce    string `json:"n,omitempty"`
	Verifier string `json:"v,omitempty"`
	// MFA is what the upstream is asked for: a step-up's requirement, or
	// (AskedFirst) what the app will demand whoever signs in (askfirst.go).
	MFA        *protocols.MFARequest `json:"mfa,omitempty"`
	AskedFirst bool                  `json:"af,omitempty"`
	Force      bool                  `json:"f,omitempty"`
	// AppMFA: the app itself asks for MFA (acr_values, RequestedAuthnContext).
	AppMFA bool `json:"am,omitempty"`
	// Session: a step-up with fedgate's own factors is for this session only.
	Session string `json:"sid,omitempty"`
	// Bind is the app host's browser binding, copied into the ticket.
	Bind string `json:"b,omitempty"`
	// Negotiate is how far Windows integrated sign-in went in this login:
	// "" not yet, negAsked challenged, negTried a token was declined.
	Negotiate string `json:"neg,omitempty"`
}

const (
	pendingTTL    = 15 * time.Minute
	pendingPrefix = "fedgate_login_"
)

var pendingIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

func (b *Server) savePending(w http.ResponseWriter, snap *Snapshot, p *Pending) error {
	// Lax: the login form posts back to us, same site; later protocol
	// callbacks that arrive by cross-site POST use their own binding.
	return snap.sealer.seal(w, pendingPrefix+p.ID, p, pendingTTL, http.SameSiteLaxMode)
}

// loadPending opens the in-flight login named by the request's "l" parameter.
func (b *Server) loadPending(r *http.Request, snap *Snapshot) (*Pending, bool) {
	return b.loadPendingID(r, snap, r.URL.Query().Get("l"))
}

// loadPendingID opens the in-flight login id (for redirect upstreams, id is
// the OAuth state).
func (b *Server) loadPendingID(r *http.Request, snap *Snapshot, id string) (*Pending, bool) {
	if !pendingIDPattern.MatchString(id) {
		return nil, false
	}
	var p Pending
	if err := snap.sealer.open(r, pendingPrefix+id, &p); err != nil || p.ID != id {
		return nil, false
	}
	if b.now().Sub(p.Created) > pendingTTL {
		return nil, false
	}
	return &p, true
}

// localPath accepts only a path on this server as a place to return to:
// anything with a scheme, a host, a backslash or a control character, and
// protocol-relative "//" forms, is refused (no open redirect).
func localPath(s string) (string, bool) {
	if s == "" || len(s) > 2048 || s[0] != '/' {
		return "", false
	}
	if strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\") {
		return "", false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return "", false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") {
		return "", false
	}
	// A decoded path beginning // or /\ is what some browsers treat as a
	// host; dot segments (also Tomcat's "..;") mean another path to a backend.
	if strings.HasPrefix(u.Path, "//") || strings.HasPrefix(u.Path, "/\\") {
		return "", false
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if name, _, _ := strings.Cut(seg, ";"); name == "." || name == ".." {
			return "", false
		}
	}
	return u.RequestURI(), true
}
