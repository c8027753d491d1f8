package broker

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fedgate/fedgate/protocols"
)

// fakePostIdP answers by form POST carrying its own state (RelayState),
// like a SAML IdP; its answer names an assertion id, used once.
type fakePostIdP struct{ fakeIdP }

var _ protocols.PostAnswerer = (*fakePostIdP)(nil)

func (f *fakePostIdP) AnswerState(r *http.Request) string {
	_ = r.ParseForm()
	return r.PostForm.Get("RelayState")
}

func (f *fakePostIdP) Finish(ctx context.Context, r *http.Request, a protocols.AuthRequest) (protocols.Identity, error) {
	if r.PostForm.Get("answer") != "ok-"+a.State {
		return protocols.Identity{}, fmt.Errorf("bad answer: %w", protocols.ErrRejected)
	}
	first, err := a.Claim(ctx, "assertion:"+r.PostForm.Get("id"), f.now().Add(10*60e9))
	if err != nil || !first {
		return protocols.Identity{}, fmt.Errorf("replayed assertion: %w", protocols.ErrRejected)
	}
	return protocols.Identity{Subject: "partner-alice", Upstream: f.id, Username: "alice@partner.example", Groups: []string{"staff"},
		AMR: []string{"pwd"}, AuthTime: f.now()}, nil
}

const postConfig = `  - { id: idp-a, type: fake }
  - { id: idp-p, type: fake }
apps:
  - { id: pdemo, type: whoami, policy: staff, upstreams: [idp-p] }
policies: [policies/*.yaml]
`

func newPostEnv(t *testing.T, head string) (*testEnv, *fakePostIdP) {
	p := &fakePostIdP{fakeIdP{id: "idp-p"}}
	e := newEnvWith(t, head+postConfig, []protocols.Upstream{&fakeIdP{id: "idp-a"}, p})
	p.now = e.clock.Now
	return e, p
}

// toPostIdP starts a login at the app and returns the state sent to the
// IdP and the login cookie's Set-Cookie line.
func toPostIdP(t *testing.T, e *testEnv) (state, cookie string) {
	t.Helper()
	r := e.get(e.client, "/apps/pdemo/")
	r = e.get(e.client, r.location)
	u, err := url.Parse(r.location)
	if r.code != http.StatusSeeOther || err != nil || u.Host != "idp.example" {
		t.Fatalf("want redirect to the IdP, got %d %q", r.code, r.location)
	}
	for _, c := range r.header.Values("Set-Cookie") {
		if strings.Contains(c, pendingPrefix) {
			cookie = c
		}
	}
	return u.Query().Get("state"), cookie
}

func TestPostAnswerSignIn(t *testing.T) {
	e, _ := newPostEnv(t, brokerHead)
	state, cookie := toPostIdP(t, e)
	// Plain http (tests): SameSite=None would be dropped without Secure.
	if !strings.Contains(cookie, "SameSite=Lax") {
		t.Errorf("login cookie over http = %q, want SameSite=Lax", cookie)
	}
	r := e.post(e.client, "/callback/idp-p", url.Values{"RelayState": {state}, "answer": {"ok-" + state}, "id": {"a1"}})
	if r.code != http.StatusSeeOther || r.location != "/apps/pdemo/" {
		t.Fatalf("callback = %d %q\n%s", r.code, r.location, r.body)
	}
	if page := e.get(e.client, "/apps/pdemo/"); page.code != http.StatusOK || !strings.Contains(page.body, "alice@partner.example") {
		t.Fatalf("app = %d", page.code)
	}
}

// Over https the login cookie of a POST-answer upstream must reach the
// IdP's cross-site POST: SameSite=None, and therefore Secure.
func TestPostAnswerCookieCrossSite(t *testing.T) {
	head := strings.Replace(brokerHead, `public_url: "http://127.0.0.1:8080"`, `public_url: "https://sso.example"`, 1)
	e, _ := newPostEnv(t, head)
	first := e.get(e.newClient(), "/login?app=pdemo")
	// This test's server is plain http: hand the Secure cookie over ourselves.
	req, _ := http.NewRequest(http.MethodGet, e.http.URL+first.location, nil)
	for _, c := range (&http.Response{Header: first.header}).Cookies() {
		req.AddCookie(c)
	}
	r := e.do(e.newClient(), req)
	var login string
	for _, c := range r.header.Values("Set-Cookie") {
		if strings.Contains(c, pendingPrefix) {
			login = c
		}
	}
	if r.code != http.StatusSeeOther || !strings.Contains(login, "SameSite=None") || !strings.Contains(login, "Secure") || !strings.HasPrefix(login, "__Host-") {
		t.Fatalf("%d: login cookie for a POST-answer upstream over https = %q", r.code, login)
	}
}

func TestPostAnswerNegative(t *testing.T) {
	tests := []struct {
		name   string
		post   func(state string) (string, url.Values)
		fresh  bool
		code   int
		reason string
	}{
		{"answer of another browser's login", func(s string) (string, url.Values) {
			return "/callback/idp-p", url.Values{"RelayState": {s}, "answer": {"ok-" + s}, "id": {"a2"}}
		}, true, 400, "no-login-state"},
		{"state in the query, not the answer", func(s string) (string, url.Values) {
			return "/callback/idp-p?state=" + s, url.Values{"answer": {"ok-" + s}, "id": {"a3"}}
		}, false, 400, "no-login-state"},
		{"POST to an upstream that answers by redirect", func(s string) (string, url.Values) {
			return "/callback/idp-a", url.Values{"RelayState": {s}, "answer": {"ok-" + s}}
		}, false, 400, "no-login-state"},
		{"answer fails the upstream's checks", func(s string) (string, url.Values) {
			return "/callback/idp-p", url.Values{"RelayState": {s}, "answer": {"forged"}, "id": {"a4"}}
		}, false, 400, "upstream-answer-rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newPostEnv(t, brokerHead)
			state, _ := toPostIdP(t, e)
			c := e.client
			if tt.fresh {
				c = e.newClient()
			}
			path, form := tt.post(state)
			r := e.post(c, path, form)
			if r.code != tt.code {
				t.Fatalf("status %d, want %d", r.code, tt.code)
			}
			evs := e.audit.events(t)
			if last := evs[len(evs)-1]; last.Outcome != "failure" || last.Reason != tt.reason {
				t.Fatalf("audit = %+v, want reason %s", last, tt.reason)
			}
			if s := e.get(c, "/apps/pdemo/"); s.code == http.StatusOK {
				t.Fatal("a session after a refused answer")
			}
		})
	}
}

// The assertion id is claimed in the shared store: the same assertion in
// a second, otherwise valid login is refused.
func TestPostAnswerReplayAcrossLogins(t *testing.T) {
	e, _ := newPostEnv(t, brokerHead)
	state, _ := toPostIdP(t, e)
	e.post(e.client, "/callback/idp-p", url.Values{"RelayState": {state}, "answer": {"ok-" + state}, "id": {"same"}})
	other := e.newClient()
	e.client = other
	state2, _ := toPostIdP(t, e)
	r := e.post(other, "/callback/idp-p", url.Values{"RelayState": {state2}, "answer": {"ok-" + state2}, "id": {"same"}})
	if r.code != http.StatusBadRequest {
		t.Fatalf("replayed assertion = %d", r.code)
	}
	evs := e.audit.events(t)
	if last := evs[len(evs)-1]; last.Reason != "upstream-answer-rejected" {
		t.Fatalf("audit = %+v", last)
	}
}
