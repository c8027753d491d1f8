package broker

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedgate/fedgate/protocols"
)

// signOutProtocol is a downstream that keeps the identity it was given, as
// the OpenID Provider keeps it in a refresh token, and asks the broker
// again without the browser (/so/recheck, as a refresh does).
type signOutProtocol struct {
	mu sync.Mutex
	id protocols.Identity
}

func (p *signOutProtocol) Mount(mux *http.ServeMux, sp protocols.SessionProvider) {
	mux.HandleFunc("GET /so/sso", func(w http.ResponseWriter, r *http.Request) {
		id, handled, err := sp.Session(w, r, protocols.SessionRequest{App: "portal", Resume: r.URL.RequestURI()})
		if handled || err != nil {
			fmt.Fprintf(w, "error %v", err)
			return
		}
		p.mu.Lock()
		p.id = id
		p.mu.Unlock()
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /so/recheck", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		id := p.id
		p.mu.Unlock()
		fmt.Fprintf(w, "%v", sp.Recheck(r, "portal", id))
	})
	mux.HandleFunc("GET /so/confirm", func(w http.ResponseWriter, r *http.Request) {
		protocols.ConfirmSignOut(w, r, sp, r.URL.Query().Get("next"))
	})
}

func signOutEnv(t *testing.T) *testEnv {
	e := newEnvWith(t, downstreamConfig, nil)
	snap := e.srv.Current()
	snap.AddDownstream(&signOutProtocol{})
	if err := e.srv.Swap(snap); err != nil {
		t.Fatal(err)
	}
	r := e.get(e.client, "/so/sso")
	form := e.get(e.client, r.location)
	s := e.post(e.client, r.location, url.Values{"csrf": {csrfOf(t, form.body)}, "upstream": {"local"}, "username": {"alice"}, "password": {"alice-pw"}})
	if r := e.get(e.client, s.location); r.body != "ok" {
		t.Fatalf("sign-in: %d %q", r.code, r.body)
	}
	return e
}

var actionRE = regexp.MustCompile(`<form method="post" action="([^"]+)"`)

// confirm answers the confirmation page at path and returns where the
// browser goes after it.
func (e *testEnv) confirm(path string) resp {
	e.t.Helper()
	page := e.get(e.client, path)
	m := actionRE.FindStringSubmatch(page.body)
	if page.code != http.StatusOK || m == nil {
		e.t.Fatalf("GET %s = %d\n%s", path, page.code, page.body)
	}
	return e.post(e.client, html.UnescapeString(m[1]), url.Values{"csrf": {csrfOf(e.t, page.body)}})
}

// TestSignOutEndsRefresh: what a protocol issued in a session (an OIDC
// refresh token) stops working once the session signs out — Recheck is
// what the token endpoint asks on every refresh.
func TestSignOutEndsRefresh(t *testing.T) {
	e := signOutEnv(t)
	if r := e.get(e.client, "/so/recheck"); r.body != "<nil>" {
		t.Fatalf("before sign-out: %q", r.body)
	}
	if r := e.confirm("/logout"); r.location != "/signed-out" {
		t.Fatalf("sign-out: %d %q", r.code, r.location)
	}
	if r := e.get(e.newClient(), "/so/recheck"); r.body != protocols.ErrLoginRequired.Error() {
		t.Fatalf("after sign-out: %q", r.body)
	}
}

// TestSignOutContinues: a protocol's confirmation goes on to the URL it
// sealed (registered for its app) once the user confirms, or at once
// without a session; a forged or expired value only loses the destination.
func TestSignOutContinues(t *testing.T) {
	const bye = "https://portal.example/bye?state=s1"
	e := signOutEnv(t)
	r := e.get(e.client, "/so/confirm?next="+url.QueryEscape(bye))
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.location, protocols.SignOutPath+"?continue=") {
		t.Fatalf("confirm: %d %q", r.code, r.location)
	}
	if got := e.get(e.client, "/so/recheck"); got.body != "<nil>" {
		t.Fatal("the GET signed the user out")
	}
	// Browsers apply form-action to the redirect after the POST.
	if csp := e.get(e.client, r.location).header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://portal.example ") {
		t.Fatalf("CSP %q", csp)
	}
	if csp := e.get(e.client, "/logout").header.Get("Content-Security-Policy"); strings.Contains(csp, "portal.example") {
		t.Fatalf("CSP without continue %q", csp)
	}
	if got := e.confirm(r.location); got.code != http.StatusSeeOther || got.location != bye {
		t.Fatalf("after confirming: %d %q", got.code, got.location)
	}
	if got := e.get(e.client, r.location); got.location != bye {
		t.Fatalf("without a session: %d %q", got.code, got.location)
	}

	e = signOutEnv(t)
	stale := e.get(e.client, "/so/confirm?next="+url.QueryEscape(bye)).location
	e.clock.Advance(11 * time.Minute)
	if got := e.confirm(stale); got.location != "/signed-out" {
		t.Fatalf("expired continue: %q", got.location)
	}
	if got := e.get(e.newClient(), "/logout?continue=forged"); got.location != "/signed-out" {
		t.Fatalf("forged continue: %q", got.location)
	}
}
